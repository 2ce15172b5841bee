/**
 * The jupyter-tunnels JupyterLab extension: a "Tunnels" panel in the left sidebar, restored
 * across reloads, and command palette entries for its main actions.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { refreshIcon } from '@jupyterlab/ui-components';

import { TunnelActions } from './actions';
import { TunnelsApi } from './api';
import { tunnelsIcon } from './icons';
import { TunnelsModel } from './model';
import { PANEL_ID, TunnelsPanel } from './panel';

/** The extension's command ids. */
export namespace CommandIDs {
  export const open = 'jupyter-tunnels:open';
  export const expose = 'jupyter-tunnels:expose';
  export const refresh = 'jupyter-tunnels:refresh';
}

const PALETTE_CATEGORY = 'Tunnels';
/** Where the tab sits in the left sidebar (after the file browser, running and toc tabs). */
const SIDEBAR_RANK = 700;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-tunnels:plugin',
  description: 'A side panel to expose, share, pause, rotate, reach and close tunnels.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const model = new TunnelsModel(new TunnelsApi(app.serviceManager.serverSettings));
    const actions = new TunnelActions(model);
    const panel = new TunnelsPanel(actions);
    app.shell.add(panel, 'left', { rank: SIDEBAR_RANK });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.open, {
      label: 'Open the Tunnels Panel',
      icon: tunnelsIcon,
      execute: () => app.shell.activateById(PANEL_ID)
    });
    app.commands.addCommand(CommandIDs.expose, {
      label: 'Expose a Port Through a Tunnel…',
      icon: tunnelsIcon,
      execute: async args => {
        app.shell.activateById(PANEL_ID);
        const port = typeof args.port === 'number' ? args.port : undefined;
        return actions.expose(port);
      }
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh the Tunnels List',
      icon: refreshIcon,
      execute: () => model.refresh()
    });
    for (const command of [CommandIDs.open, CommandIDs.expose, CommandIDs.refresh]) {
      palette?.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
};

export default plugin;
