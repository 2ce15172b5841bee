/**
 * What the panel's buttons and the palette's commands do: ask with a dialog, call the API,
 * report the outcome as a notification (errors carry the API's message), refresh the list.
 */

import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, IExposed, IShare, ITunnel } from './api';
import {
  ConnectForm,
  ConnectResult,
  ExposeForm,
  RotateForm,
  ShareForm,
  ShareResult
} from './forms';
import { TunnelsModel } from './model';

/** Milliseconds a success notification stays up. */
const NOTICE_MS = 4000;
/** Milliseconds a warning stays up: long enough to read what to do. */
const WARNING_MS = 12000;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1'];

/** The user-facing operations on the server's tunnels. */
export class TunnelActions {
  constructor(readonly model: TunnelsModel) {}

  /** Emitted with a tunnel's id after one of its share links was created or revoked here. */
  get sharesChanged(): ISignal<this, string> {
    return this._sharesChanged;
  }

  /** Ask for a port (and name, protocol, public) and expose it. */
  async expose(port?: number): Promise<ITunnel | null> {
    const answer = await showDialog({
      title: 'Expose a port',
      body: new ExposeForm(port),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Expose' })],
      focusNodeSelector: 'input[name="port"]'
    });
    if (!answer.button.accept || answer.value === null) {
      return null;
    }
    const wanted = answer.value;
    return this.run(`Could not expose port ${wanted.port}`, async () => {
      const tunnel = await this.model.api.expose(wanted);
      if (tunnel.targetListening === false) {
        Notification.warning(notListening(tunnel), { autoClose: WARNING_MS });
      } else {
        Notification.success(`${tunnel.name} is exposed at ${tunnel.url}`, {
          autoClose: NOTICE_MS
        });
      }
      return tunnel;
    });
  }

  /** Ask for expiry, methods and rate limit; show the new link and its QR code. */
  async share(tunnel: ITunnel): Promise<void> {
    const answer = await showDialog({
      title: `Share ${tunnel.name}`,
      body: new ShareForm(tunnel),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create link' })]
    });
    if (!answer.button.accept || answer.value === null) {
      return;
    }
    const wanted = answer.value;
    const grant = await this.run(`Could not share ${tunnel.name}`, () =>
      this.model.api.share(tunnel, wanted)
    );
    if (grant) {
      this._sharesChanged.emit(tunnel.id);
      await showDialog({
        title: `Share link for ${tunnel.name}`,
        body: new ShareResult(grant),
        buttons: [Dialog.okButton({ label: 'Done' })]
      });
    }
  }

  /** Revoke one of a tunnel's share links after confirmation. */
  async revokeShare(tunnel: ITunnel, share: IShare): Promise<void> {
    const answer = await showDialog({
      title: `Revoke ${share.name}?`,
      body: `Whoever has this link to ${tunnel.name} will be turned away from now on.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Revoke link' })]
    });
    if (!answer.button.accept) {
      return;
    }
    const revoked = await this.run(`Could not revoke ${share.name}`, () =>
      this.model.api.revokeShare(share)
    );
    if (revoked) {
      Notification.success(`Revoked ${share.name}`, { autoClose: NOTICE_MS });
    }
    this._sharesChanged.emit(tunnel.id);
  }

  /** Pause an active tunnel, resume a paused one. */
  async togglePause(tunnel: ITunnel): Promise<void> {
    const status = tunnel.status === 'paused' ? 'active' : 'paused';
    const verb = status === 'paused' ? 'pause' : 'resume';
    await this.run(`Could not ${verb} ${tunnel.name}`, () =>
      this.model.api.setStatus(tunnel, status)
    );
  }

  /** Ask for another local port and point the tunnel at it. */
  async rotate(tunnel: ITunnel): Promise<void> {
    const answer = await showDialog({
      title: `Rotate ${tunnel.name}`,
      body: new RotateForm(tunnel),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Rotate' })]
    });
    if (!answer.button.accept || answer.value === null) {
      return;
    }
    const port = answer.value;
    await this.run(`Could not rotate ${tunnel.name}`, async () => {
      const rotated = await this.model.api.rotate(tunnel, port);
      Notification.success(`${rotated.name} now reaches port ${rotated.target.port}`, {
        autoClose: NOTICE_MS
      });
    });
  }

  /** Reach the tunnel from this server: bind a local port that carries its connections. */
  async connect(tunnel: ITunnel): Promise<void> {
    const answer = await showDialog({
      title: `Connect to ${tunnel.name}`,
      body: new ConnectForm(tunnel),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Connect' })]
    });
    if (!answer.button.accept) {
      return;
    }
    const localPort = answer.value ?? undefined;
    const connection = await this.run(`Could not connect to ${tunnel.name}`, () =>
      this.model.api.connect({
        tunnel: tunnel.id,
        ...(localPort === undefined ? {} : { localPort })
      })
    );
    if (connection) {
      await showDialog({
        title: `${tunnel.name} on this server`,
        body: new ConnectResult(connection),
        buttons: [Dialog.okButton({ label: 'Done' })]
      });
    }
  }

  /** Close a tunnel after confirmation; its URL stays reserved for a while. */
  async close(tunnel: ITunnel): Promise<void> {
    const answer = await showDialog({
      title: `Close ${tunnel.name}?`,
      body: `Visitors of ${tunnel.url} will be turned away.`,
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Close tunnel' })]
    });
    if (answer.button.accept) {
      await this.run(`Could not close ${tunnel.name}`, () => this.model.api.close(tunnel));
    }
  }

  /** Copy a tunnel's URL to the clipboard. */
  copyUrl(tunnel: ITunnel): void {
    Clipboard.copyToSystem(tunnel.url);
    Notification.info(`Copied ${tunnel.url}`, { autoClose: NOTICE_MS });
  }

  /** Run an API call; on failure notify with the API's message and answer null. The list is
   * refreshed either way. */
  private async run<T>(failure: string, call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (error) {
      const reason = error instanceof ApiError ? error.message : String(error);
      Notification.error(`${failure}: ${reason}`, { autoClose: false });
      if (!(error instanceof ApiError)) {
        console.error('jupyter-tunnels:', error);
      }
      return null;
    } finally {
      await this.model.refresh();
    }
  }

  private _sharesChanged = new Signal<this, string>(this);
}

/** What a just-exposed tunnel whose port accepted no connection tells the user. */
function notListening(tunnel: IExposed): string {
  const { host, port } = tunnel.target;
  const where = LOOPBACK_HOSTS.includes(host) ? `port ${port}` : `${host}:${port}`;
  return (
    `${tunnel.name} is exposed at ${tunnel.url}, but nothing is listening on ${where} yet: ` +
    'start your app'
  );
}
