/**
 * The server extension's API, as the panel uses it: the types it answers with and one method
 * per call. Everything goes through `ServerConnection.makeRequest`, which adds Jupyter's token
 * and XSRF header; errors become {@link ApiError} carrying the API's `{code, message}`.
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Where the extension lives under the server's base URL. */
export const MOUNT = 'tunnels';

/** A tunnel's lifecycle status (docs/status.md). */
export type TunnelStatus =
  'creating' | 'connecting' | 'active' | 'paused' | 'stopping' | 'stopped' | 'failed';

/** The protocols a tunnel can carry; `auto` is resolved by the hub at creation. */
export type Protocol = 'auto' | 'http' | 'https' | 'tcp' | 'udp';

/** How long a share link works. */
export type ShareExpiration = '1h' | '24h' | '7d' | '30d' | 'never';

/** The HTTP methods a share link may allow. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** One of {@link HTTP_METHODS}. */
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** The local service a tunnel points at. */
export interface ITarget {
  host: string;
  port: number;
}

/** What a tunnel's connector last reported: facts, not a status. */
export interface IReadiness {
  connectedToHub: boolean;
  localReady: boolean;
  lastError: string | null;
}

/** The `Tunnel` resource (the fields the panel shows; the API has more). */
export interface ITunnel {
  id: string;
  name: string;
  slug: string;
  url: string;
  protocol: Exclude<Protocol, 'auto'>;
  target: ITarget;
  access: 'private' | 'public' | 'token';
  status: TunnelStatus;
  agentId: string | null;
  lease: { lastHeartbeatAt: string; expiresAt: string } | null;
  readiness: IReadiness;
  lastError: string | null;
}

/** Body of `POST tunnels/expose`. */
export interface IExposeRequest {
  port: number;
  host?: string;
  name?: string;
  protocol?: Protocol;
  public?: boolean;
}

/** The answer of `POST tunnels/expose`: the tunnel, and whether its port accepted a
 * connection from the server just then (null for udp, which cannot be probed). */
export interface IExposed extends ITunnel {
  targetListening: boolean | null;
}

/** The answer of `GET tunnels/info`. */
export interface IInfo {
  mode: 'embedded' | 'remote';
  hubUrl: string;
  apiBase: string;
  /** `http://{slug}.localhost:{port}/` (`{slug}` as written) when the server, on loopback,
   * also serves each tunnel at its own origin. */
  originUrl?: string;
}

/** Where this page opens a tunnel at its own origin (docs/apps.md, which URL to use). */
export interface IOrigin {
  /** `http://{slug}.localhost:{port}/`, on the port this page reaches the server at. */
  url: string;
  /** Jupyter's authorize page on this page's own host, where the browser is logged in: it
   * lets the browser in to the tunnel's origin, then opens it. */
  open: string;
}

/** The names a browser reaches a server on loopback by. */
const LOOPBACK_HOSTNAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Body of `POST tunnels/v1/tunnels/{id}/shares`. */
export interface IShareRequest {
  name: string;
  description?: string;
  expiration: ShareExpiration;
  allowedMethods?: HttpMethod[] | null;
  rateLimitPerMinute?: number | null;
  pathPrefix?: string | null;
}

/** A new share link: its URL and token are shown this once. */
export interface IShareGrant {
  id: string;
  tunnelId: string;
  name: string;
  expiresAt: string | null;
  allowedMethods: string[] | null;
  rateLimitPerMinute: number | null;
  shareUrl: string | null;
  token: string;
}

/** A share link as `GET tunnels/v1/tunnels/{id}/shares` lists it (its token is not shown
 * again); revoked and expired links are listed too, with `active` false. */
export interface IShare {
  id: string;
  tunnelId: string;
  name: string;
  expiresAt: string | null;
  allowedMethods: string[] | null;
  rateLimitPerMinute: number | null;
  pathPrefix: string | null;
  /** Neither revoked nor expired. */
  active: boolean;
  /** Requests (and reach connections) let through with this link. */
  accessCount: number;
  revokedAt: string | null;
}

/** Body of `POST tunnels/connect`: reach a tunnel from this server. */
export interface IConnectRequest {
  /** The tunnel's id or slug. */
  tunnel: string;
  /** The port to bind on the server's loopback; any free port when absent. */
  localPort?: number;
}

/** A reach: someone's tunnel carried to a port on this server's loopback. */
export interface IConnection {
  id: string;
  tunnelId: string;
  /** What the tunnel speaks, as detected: postgres, mysql, redis, mongodb, http, tcp... */
  protocol: string;
  status: string;
  localPort: number | null;
  /** `host:port` to connect to; null unless open. */
  address: string | null;
  /** A URL for that protocol (`redis://127.0.0.1:6379`); null unless open. */
  connectionString: string | null;
  lastError: string | null;
}

/** An error answered by the API (`{code, message, details}`) or a network failure. */
export class ApiError extends Error {
  /** The API's error code (`TUNNEL_NOT_FOUND`...), or `NETWORK_ERROR`. */
  readonly code: string;
  /** The HTTP status, 0 when the server could not be reached. */
  readonly status: number;

  constructor(message: string, code: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/** The calls the panel makes, bound to one server's settings. */
export class TunnelsApi {
  constructor(readonly settings: ServerConnection.ISettings) {}

  /** Every live tunnel of the server, oldest first. */
  async listTunnels(): Promise<ITunnel[]> {
    const tunnels = await this.request<ITunnel[]>('v1/tunnels');
    return tunnels.map(tunnel => this.seenFromHere(tunnel));
  }

  /** Which hub serves the server's tunnels, and whether they have their own origins. */
  info(): Promise<IInfo> {
    return this.request<IInfo>('info');
  }

  /**
   * Where this page opens a tunnel at its own origin, or null: the server does not serve
   * tunnels so, the tunnel is not HTTP, or this page reaches the server elsewhere than at a
   * loopback name (through a proxy, from another machine), where `*.localhost` is not it.
   */
  originOf(info: IInfo | null, tunnel: ITunnel): IOrigin | null {
    const page = new URL(window.location.href);
    const isHttp = tunnel.protocol === 'http' || tunnel.protocol === 'https';
    if (!info?.originUrl || !isHttp || !LOOPBACK_HOSTNAMES.includes(page.hostname)) {
      return null;
    }
    const url = new URL(info.originUrl.replace('{slug}', tunnel.slug));
    url.port = page.port;
    const open = new URL(URLExt.join(this.settings.baseUrl, MOUNT, 'authorize'), page);
    open.search = new URLSearchParams({ tunnel: tunnel.slug, next: '/' }).toString();
    return { url: url.href, open: open.href };
  }

  /** Expose a local port; posting the same port again answers with the same tunnel. */
  async expose(body: IExposeRequest): Promise<IExposed> {
    return this.seenFromHere(await this.request<IExposed>('expose', 'POST', body));
  }

  /**
   * A URL of this server's own ingress (`{baseUrl}tunnels/t/...`) as this page reaches the
   * server. The server builds tunnel URLs on the address it knows (its own, or a configured
   * public one); behind a proxy or an SSH forward the browser reaches it elsewhere. Other
   * URLs (a remote hub's) are left as they are.
   */
  forBrowser(url: string): string {
    const here = new URL(URLExt.join(this.settings.baseUrl, MOUNT, 't/'), window.location.href);
    let there: URL;
    try {
      there = new URL(url);
    } catch {
      return url;
    }
    if (!there.pathname.startsWith(here.pathname) || !there.protocol.startsWith('http')) {
      return url;
    }
    return new URL(there.pathname + there.search + there.hash, here).href;
  }

  private seenFromHere<T extends ITunnel>(tunnel: T): T {
    return { ...tunnel, url: this.forBrowser(tunnel.url) };
  }

  /** Pause (refuse new visitors) or resume a tunnel. */
  async setStatus(tunnel: ITunnel, status: 'active' | 'paused'): Promise<ITunnel> {
    const changed = await this.request<ITunnel>(tunnelPath(tunnel), 'PATCH', { status });
    return this.seenFromHere(changed);
  }

  /** Point a tunnel at another local port; its URL stays the same. */
  async rotate(tunnel: ITunnel, port: number): Promise<ITunnel> {
    const target = { host: tunnel.target.host, port };
    const path = `${tunnelPath(tunnel)}/rotate`;
    return this.seenFromHere(await this.request<ITunnel>(path, 'POST', { target }));
  }

  /** Close a tunnel (it becomes `stopped` and leaves the default listing). */
  async close(tunnel: ITunnel): Promise<ITunnel> {
    return this.seenFromHere(await this.request<ITunnel>(tunnelPath(tunnel), 'DELETE'));
  }

  /** Create a share link to a tunnel. */
  async share(tunnel: ITunnel, body: IShareRequest): Promise<IShareGrant> {
    const grant = await this.request<IShareGrant>(`${tunnelPath(tunnel)}/shares`, 'POST', body);
    return { ...grant, shareUrl: grant.shareUrl && this.forBrowser(grant.shareUrl) };
  }

  /** A tunnel's share links, oldest first, revoked and expired ones included. */
  listShares(tunnel: ITunnel): Promise<IShare[]> {
    return this.request<IShare[]>(`${tunnelPath(tunnel)}/shares`);
  }

  /** Revoke a share link: its visitors are turned away from now on (revoking twice is fine). */
  revokeShare(share: IShare): Promise<IShare> {
    return this.request<IShare>(`v1/shares/${encodeURIComponent(share.id)}`, 'DELETE');
  }

  /** Reach a tunnel: the server's connector binds a local port that carries connections to
   * it, so every kernel of the server reaches it there. */
  connect(body: IConnectRequest): Promise<IConnection> {
    return this.request<IConnection>('connect', 'POST', body);
  }

  private async request<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, MOUNT, path);
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'Content-Type': 'application/json' };
    }
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(`the Jupyter server did not answer: ${String(error)}`, 'NETWORK_ERROR', 0);
    }
    const text = await response.text();
    const data: unknown = text ? parseJson(text) : null;
    if (!response.ok) {
      throw errorFrom(response, data);
    }
    return data as T;
  }
}

function tunnelPath(tunnel: ITunnel): string {
  return `v1/tunnels/${encodeURIComponent(tunnel.id)}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorFrom(response: Response, data: unknown): ApiError {
  if (typeof data === 'object' && data !== null && 'message' in data) {
    const envelope = data as { code?: unknown; message: unknown };
    const code = typeof envelope.code === 'string' ? envelope.code : 'UNKNOWN';
    return new ApiError(String(envelope.message), code, response.status);
  }
  const message = `${response.status} ${response.statusText || 'error'} from the Jupyter server`;
  return new ApiError(message, 'UNKNOWN', response.status);
}
