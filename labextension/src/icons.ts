/** The panel's icon, themed by JupyterLab (its paths carry the `jp-icon3` class). */

import { LabIcon } from '@jupyterlab/ui-components';

import tunnelsSvg from '../style/icons/tunnels.svg';

/** The Tunnels panel's sidebar tab and palette icon. */
export const tunnelsIcon = new LabIcon({ name: 'jupyter-tunnels:tunnels', svgstr: tunnelsSvg });
