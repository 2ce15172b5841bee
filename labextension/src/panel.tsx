/**
 * The "Tunnels" side panel: a toolbar (expose, refresh) and one row per tunnel of the server
 * with its URL, protocol, target, status, lease and readiness, and its actions. A thin view:
 * it renders the model and hands clicks to {@link TunnelActions}.
 */

import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import {
  addIcon,
  closeIcon,
  copyIcon,
  LabIcon,
  linkIcon,
  pauseIcon,
  redoIcon,
  refreshIcon,
  runIcon,
  shareIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { ITunnel } from './api';
import { TunnelActions } from './actions';
import { tunnelsIcon } from './icons';

/** The panel's DOM id: the sidebar tab's `data-id`, and the layout restorer's key. */
export const PANEL_ID = 'jupyter-tunnels';

/** The left sidebar panel listing the server's tunnels. */
export class TunnelsPanel extends ReactWidget {
  constructor(readonly actions: TunnelActions) {
    super();
    this.id = PANEL_ID;
    this.title.icon = tunnelsIcon;
    this.title.caption = 'Tunnels';
    this.addClass('jp-TunnelsPanel');
  }

  protected render(): JSX.Element {
    const model = this.actions.model;
    return (
      <UseSignal signal={model.changed}>
        {() => (
          <>
            <Toolbar actions={this.actions} />
            {model.error && (
              <div className="jp-TunnelsPanel-error" role="alert">
                Cannot list tunnels: {model.error.message}
              </div>
            )}
            <TunnelList actions={this.actions} loaded={model.loaded} tunnels={model.tunnels} />
          </>
        )}
      </UseSignal>
    );
  }

  protected override onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.actions.model.setShown(true);
  }

  protected override onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this.actions.model.setShown(false);
  }
}

interface IIconButtonProps {
  icon: LabIcon;
  label: string;
  onClick: () => void;
  text?: string;
}

/** A small button with an icon; its label is its tooltip and accessible name. */
function IconButton(props: IIconButtonProps): JSX.Element {
  return (
    <button
      type="button"
      className="jp-TunnelsPanel-button"
      title={props.label}
      aria-label={props.label}
      onClick={props.onClick}
    >
      <props.icon.react tag="span" className="jp-TunnelsPanel-buttonIcon" />
      {props.text && <span className="jp-TunnelsPanel-buttonText">{props.text}</span>}
    </button>
  );
}

function Toolbar({ actions }: { actions: TunnelActions }): JSX.Element {
  return (
    <div className="jp-TunnelsPanel-header">
      <h2 className="jp-TunnelsPanel-title">Tunnels</h2>
      <IconButton
        icon={addIcon}
        label="Expose a port"
        text="Expose"
        onClick={() => void actions.expose()}
      />
      <IconButton
        icon={refreshIcon}
        label="Refresh the list"
        onClick={() => void actions.model.refresh()}
      />
    </div>
  );
}

interface ITunnelListProps {
  actions: TunnelActions;
  loaded: boolean;
  tunnels: readonly ITunnel[];
}

function TunnelList({ actions, loaded, tunnels }: ITunnelListProps): JSX.Element {
  if (!loaded) {
    return <p className="jp-TunnelsPanel-empty">Loading…</p>;
  }
  if (tunnels.length === 0) {
    return (
      <p className="jp-TunnelsPanel-empty">
        No tunnels yet. Expose a port here, or run <code>%tunnel expose 8050</code> in a notebook.
      </p>
    );
  }
  return (
    <ul className="jp-TunnelsPanel-list" aria-label="Tunnels">
      {tunnels.map(tunnel => (
        <TunnelRow key={tunnel.id} actions={actions} tunnel={tunnel} />
      ))}
    </ul>
  );
}

/** How the readiness facts read (as the connector last reported them, every ~20 s): the
 * dot's class and the words beside it. */
function readiness(tunnel: ITunnel): [string, string] {
  const { connectedToHub, localReady, lastError } = tunnel.readiness;
  if (!connectedToHub) {
    return ['jp-mod-offline', 'connector offline'];
  }
  if (!localReady) {
    return ['jp-mod-waiting', lastError ? `app not answering: ${lastError}` : 'app not answering'];
  }
  return ['jp-mod-ready', 'app answering'];
}

const TIME_FORMAT: Intl.DateTimeFormatOptions = {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false
};

function leaseText(tunnel: ITunnel): string {
  if (!tunnel.lease) {
    return 'no lease';
  }
  const expires = new Date(tunnel.lease.expiresAt);
  return `lease until ${expires.toLocaleTimeString([], TIME_FORMAT)}`;
}

function TunnelRow({ actions, tunnel }: { actions: TunnelActions; tunnel: ITunnel }): JSX.Element {
  const [readyClass, readyText] = readiness(tunnel);
  const paused = tunnel.status === 'paused';
  const isHttp = tunnel.protocol === 'http' || tunnel.protocol === 'https';
  return (
    <li className="jp-TunnelsPanel-row" data-tunnel-id={tunnel.id} data-status={tunnel.status}>
      <div className="jp-TunnelsPanel-rowHeader">
        <span className="jp-TunnelsPanel-name" title={tunnel.name}>
          {tunnel.name}
        </span>
        <span className={`jp-TunnelsPanel-status jp-mod-${tunnel.status}`}>{tunnel.status}</span>
      </div>
      <div className="jp-TunnelsPanel-url">
        {isHttp ? (
          <a
            href={tunnel.url}
            target="_blank"
            rel="noopener noreferrer"
            title={`Open ${tunnel.url}`}
          >
            {tunnel.url}
          </a>
        ) : (
          <code>{tunnel.url}</code>
        )}
        <IconButton
          icon={copyIcon}
          label={`Copy the URL of ${tunnel.name}`}
          onClick={() => actions.copyUrl(tunnel)}
        />
      </div>
      <div className="jp-TunnelsPanel-facts">
        {`${tunnel.protocol} → ${tunnel.target.host}:${tunnel.target.port} · ${tunnel.access}`}
      </div>
      <div className="jp-TunnelsPanel-facts">
        <span className={`jp-TunnelsPanel-readiness ${readyClass}`} />
        {`${readyText} · ${leaseText(tunnel)}`}
      </div>
      {tunnel.lastError && <div className="jp-TunnelsPanel-lastError">{tunnel.lastError}</div>}
      <div className="jp-TunnelsPanel-actions">
        <IconButton
          icon={shareIcon}
          label={`Share ${tunnel.name}`}
          onClick={() => void actions.share(tunnel)}
        />
        <IconButton
          icon={paused ? runIcon : pauseIcon}
          label={`${paused ? 'Resume' : 'Pause'} ${tunnel.name}`}
          onClick={() => void actions.togglePause(tunnel)}
        />
        <IconButton
          icon={redoIcon}
          label={`Rotate ${tunnel.name} to another port`}
          onClick={() => void actions.rotate(tunnel)}
        />
        <IconButton
          icon={linkIcon}
          label={`Connect to ${tunnel.name}`}
          onClick={() => void actions.connect(tunnel)}
        />
        <IconButton
          icon={closeIcon}
          label={`Close ${tunnel.name}`}
          onClick={() => void actions.close(tunnel)}
        />
      </div>
    </li>
  );
}
