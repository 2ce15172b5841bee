/**
 * The "Tunnels" side panel: a toolbar (expose, refresh) and one row per tunnel of the server
 * with its URL, protocol, target, status, lease and readiness, its actions, and on demand its
 * share links (each with a revoke button). A thin view: it renders the model and hands clicks
 * to {@link TunnelActions}.
 *
 * Decision: a row's share links are listed when the user unfolds them, again after a link is
 * created or revoked here and whenever the tunnels' listing changes, not on every poll: one
 * request per unfolded row, and use counts a few seconds old are good enough.
 */

import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import {
  addIcon,
  closeIcon,
  copyIcon,
  deleteIcon,
  LabIcon,
  linkIcon,
  listIcon,
  pauseIcon,
  redoIcon,
  refreshIcon,
  runIcon,
  shareIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import * as React from 'react';

import { ApiError, IShare, ITunnel } from './api';
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
  /** For a button that shows and hides something: whether it is shown. */
  expanded?: boolean;
}

/** A small button with an icon; its label is its tooltip and accessible name. */
function IconButton(props: IIconButtonProps): JSX.Element {
  return (
    <button
      type="button"
      className="jp-TunnelsPanel-button"
      title={props.label}
      aria-label={props.label}
      aria-expanded={props.expanded}
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
  const [sharesShown, setSharesShown] = React.useState(false);
  const [readyClass, readyText] = readiness(tunnel);
  const paused = tunnel.status === 'paused';
  const isHttp = tunnel.protocol === 'http' || tunnel.protocol === 'https';
  const origin = actions.model.originOf(tunnel);
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
      {origin && (
        <div className="jp-TunnelsPanel-url jp-TunnelsPanel-origin">
          <a
            href={origin.open}
            target="_blank"
            rel="noopener noreferrer"
            title={`Open ${origin.url}: the app at the root of its own origin, apart from Jupyter`}
          >
            {origin.url}
          </a>
        </div>
      )}
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
          icon={listIcon}
          label={`${sharesShown ? 'Hide' : 'Show'} the share links of ${tunnel.name}`}
          expanded={sharesShown}
          onClick={() => setSharesShown(!sharesShown)}
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
      {sharesShown && <ShareList actions={actions} tunnel={tunnel} />}
    </li>
  );
}

/** What the share list shows: nothing yet, the links, or why they could not be listed. */
type ShareListing = { shares: IShare[] } | { error: string } | null;

/** A tunnel's share links that still work, each with a revoke button; revoked and expired
 * ones are counted, not listed. */
function ShareList({ actions, tunnel }: { actions: TunnelActions; tunnel: ITunnel }): JSX.Element {
  const [listing, setListing] = React.useState<ShareListing>(null);
  React.useEffect(() => {
    let current = true;
    const load = (): void => {
      actions.model.api.listShares(tunnel).then(
        shares => current && setListing({ shares }),
        (error: unknown) =>
          current &&
          setListing({ error: error instanceof ApiError ? error.message : String(error) })
      );
    };
    const onSharesChanged = (_: TunnelActions, tunnelId: string): void => {
      if (tunnelId === tunnel.id) {
        load();
      }
    };
    load();
    actions.sharesChanged.connect(onSharesChanged);
    actions.model.changed.connect(load);
    return () => {
      current = false;
      actions.sharesChanged.disconnect(onSharesChanged);
      actions.model.changed.disconnect(load);
    };
  }, [actions, tunnel.id]);

  let body: JSX.Element;
  if (listing === null) {
    body = <p className="jp-TunnelsPanel-sharesNote">Loading…</p>;
  } else if ('error' in listing) {
    body = (
      <p className="jp-TunnelsPanel-lastError" role="alert">
        Cannot list share links: {listing.error}
      </p>
    );
  } else {
    const working = listing.shares.filter(share => share.active);
    const ended = listing.shares.length - working.length;
    body = (
      <>
        {working.length === 0 ? (
          <p className="jp-TunnelsPanel-sharesNote">No working share links.</p>
        ) : (
          <ul className="jp-TunnelsPanel-shareList">
            {working.map(share => (
              <ShareRow key={share.id} actions={actions} share={share} tunnel={tunnel} />
            ))}
          </ul>
        )}
        {ended > 0 && (
          <p className="jp-TunnelsPanel-sharesNote">
            {ended === 1 ? '1 revoked or expired link' : `${ended} revoked or expired links`}
          </p>
        )}
      </>
    );
  }
  return (
    <section className="jp-TunnelsPanel-shares" aria-label={`Share links of ${tunnel.name}`}>
      {body}
    </section>
  );
}

const DATE_TIME_FORMAT: Intl.DateTimeFormatOptions = {
  dateStyle: 'medium',
  timeStyle: 'short',
  hour12: false
};

/** A share link's limits as one line: expiry, methods, rate, uses. */
function shareFacts(share: IShare): string {
  const expiry = share.expiresAt
    ? `until ${new Date(share.expiresAt).toLocaleString([], DATE_TIME_FORMAT)}`
    : 'never expires';
  const methods = share.allowedMethods ? share.allowedMethods.join(', ') : 'any method';
  const rate = share.rateLimitPerMinute ? `${share.rateLimitPerMinute}/min` : 'no rate limit';
  const uses = share.accessCount === 1 ? '1 use' : `${share.accessCount} uses`;
  const prefix = share.pathPrefix ? ` · ${share.pathPrefix} only` : '';
  return `${expiry} · ${methods} · ${rate}${prefix} · ${uses}`;
}

interface IShareRowProps {
  actions: TunnelActions;
  share: IShare;
  tunnel: ITunnel;
}

function ShareRow({ actions, share, tunnel }: IShareRowProps): JSX.Element {
  return (
    <li className="jp-TunnelsPanel-share" data-share-id={share.id}>
      <div className="jp-TunnelsPanel-shareText">
        <span className="jp-TunnelsPanel-shareName" title={share.name}>
          {share.name}
        </span>
        <span className="jp-TunnelsPanel-facts">{shareFacts(share)}</span>
      </div>
      <IconButton
        icon={deleteIcon}
        label={`Revoke the share link ${share.name}`}
        onClick={() => void actions.revokeShare(tunnel, share)}
      />
    </li>
  );
}
