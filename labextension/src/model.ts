/**
 * The panel's model: the server's tunnels, kept fresh by polling the API.
 *
 * Decision: polling (not a server push) because the hub's API has no event stream a browser
 * can subscribe to; a 2 s poll of one small JSON list is cheap. The poll backs off while the
 * server fails to answer, and stands by while the panel or the browser tab is hidden.
 */

import { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { ApiError, IInfo, IOrigin, ITunnel, TunnelsApi } from './api';

/** Milliseconds between two listings while the panel is shown. */
export const POLL_INTERVAL = 2000;
/** The longest wait between two listings while the server keeps failing. */
export const POLL_MAX_INTERVAL = 30000;

/** The tunnels of the server and the last listing error, with a signal on each change. */
export class TunnelsModel implements IDisposable {
  constructor(readonly api: TunnelsApi) {
    this._poll = new Poll({
      auto: false,
      factory: () => this.fetch(),
      frequency: { interval: POLL_INTERVAL, backoff: true, max: POLL_MAX_INTERVAL },
      name: 'jupyter-tunnels:tunnels',
      standby: () => !this._shown || 'when-hidden'
    });
  }

  /** The live tunnels, oldest first, as last listed. */
  get tunnels(): readonly ITunnel[] {
    return this._tunnels;
  }

  /** Why the last listing failed, or null when it worked. */
  get error(): ApiError | null {
    return this._error;
  }

  /** Whether a listing has answered yet (successfully or not). */
  get loaded(): boolean {
    return this._loaded;
  }

  /** Emitted after every listing that changed the tunnels or the error. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Where this page opens a tunnel at its own origin, or null ({@link TunnelsApi.originOf}). */
  originOf(tunnel: ITunnel): IOrigin | null {
    return this.api.originOf(this._info, tunnel);
  }

  /** Whether the model has been disposed. */
  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Poll while shown (the panel calls this when it is shown and hidden). */
  setShown(shown: boolean): void {
    this._shown = shown;
    if (shown) {
      void this.refresh();
    }
  }

  /** List the tunnels now (after an action) and resolve once the listing is in. */
  async refresh(): Promise<void> {
    if (this._poll.isDisposed) {
      return;
    }
    if (this._poll.state.phase === 'constructed') {
      await this._poll.start();
    } else {
      await this._poll.refresh();
    }
    await this._poll.tick.catch(() => undefined);
  }

  /** Stop polling. */
  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async fetch(): Promise<void> {
    try {
      this._info ??= await this.api.info();
      const tunnels = await this.api.listTunnels();
      this.update(tunnels, null);
    } catch (error) {
      // shown in the panel; rethrown so that the poll backs off
      this.update(this._tunnels, error instanceof ApiError ? error : null);
      throw error;
    }
  }

  private update(tunnels: ITunnel[], error: ApiError | null): void {
    const before = JSON.stringify([this._tunnels, this._error?.message ?? null]);
    this._tunnels = tunnels;
    this._error = error;
    const changed = !this._loaded || before !== JSON.stringify([tunnels, error?.message ?? null]);
    this._loaded = true;
    if (changed) {
      this._changed.emit();
    }
  }

  private _poll: Poll;
  private _shown = false;
  private _loaded = false;
  private _tunnels: ITunnel[] = [];
  private _info: IInfo | null = null;
  private _error: ApiError | null = null;
  private _changed = new Signal<this, void>(this);
}
