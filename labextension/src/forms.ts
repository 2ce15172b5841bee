/**
 * The bodies of the panel's dialogs: small DOM forms that JupyterLab's `showDialog` shows and
 * reads back with `getValue()`, and the result views (a share link with its QR code, a reach).
 */

import { Clipboard, Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';
import qrcode from 'qrcode-generator';

import {
  HTTP_METHODS,
  HttpMethod,
  IConnection,
  IExposeRequest,
  IShareGrant,
  IShareRequest,
  ITunnel,
  Protocol,
  ShareExpiration
} from './api';

const PROTOCOLS: Protocol[] = ['auto', 'http', 'https', 'tcp', 'udp'];
const EXPIRATIONS: [ShareExpiration, string][] = [
  ['1h', '1 hour'],
  ['24h', '24 hours'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['never', 'never']
];
/** Shown in the share form while POST is not allowed (docs/shares.md, "method not allowed"). */
const NO_POST_WARNING =
  'Without POST, apps that send data break for visitors: Dash callbacks, Gradio, HTML forms ' +
  'and file uploads are refused (405), though pages still open. Allow POST unless the link ' +
  'is for reading only.';
/** QR module size in pixels, and the quiet zone around it in modules. */
const QR_CELL_SIZE = 4;
const QR_MARGIN = 2;

/** A form whose fields are labelled inputs, read back by `getValue()`. */
abstract class Form<T> extends Widget implements Dialog.IBodyWidget<T> {
  constructor() {
    super({ node: document.createElement('form') });
    this.addClass('jp-TunnelsForm');
    // Enter submits through the dialog's default button, not by reloading the page
    this.node.addEventListener('submit', event => event.preventDefault());
  }

  abstract getValue(): T;

  protected field(label: string, input: HTMLElement, hint?: string): void {
    const row = document.createElement('label');
    row.className = 'jp-TunnelsForm-field';
    const text = document.createElement('span');
    text.className = 'jp-TunnelsForm-label';
    text.textContent = label;
    row.append(text, input);
    if (hint) {
      const small = document.createElement('small');
      small.className = 'jp-TunnelsForm-hint';
      small.textContent = hint;
      row.append(small);
    }
    this.node.append(row);
  }
}

function input(name: string, type: string, value = ''): HTMLInputElement {
  const element = document.createElement('input');
  element.name = name;
  element.type = type;
  element.value = value;
  element.className = type === 'checkbox' ? '' : 'jp-mod-styled';
  return element;
}

function select(name: string, options: [string, string][], value: string): HTMLSelectElement {
  const element = document.createElement('select');
  element.name = name;
  element.className = 'jp-mod-styled';
  for (const [optionValue, label] of options) {
    element.append(new Option(label, optionValue, false, optionValue === value));
  }
  return element;
}

/** An optional whole number from a field, or undefined when it is empty. */
function optionalInteger(element: HTMLInputElement): number | undefined {
  const text = element.value.trim();
  return text === '' ? undefined : Number(text);
}

/** Port, name, protocol and public: the body of `POST tunnels/expose`. */
export class ExposeForm extends Form<IExposeRequest> {
  constructor(port?: number) {
    super();
    this._port.min = '1';
    this._port.max = '65535';
    this._port.required = true;
    this._port.placeholder = '8050';
    if (port !== undefined) {
      this._port.value = String(port);
    }
    this._name.placeholder = 'named after the port';
    this.field('Port', this._port, 'the local port your service listens on');
    this.field('Name', this._name);
    this.field('Protocol', this._protocol);
    this.field('Public', this._public, 'anyone with the URL, no Jupyter login');
    this.addClass('jp-TunnelsExposeForm');
  }

  getValue(): IExposeRequest {
    const name = this._name.value.trim();
    return {
      port: Number(this._port.value.trim()),
      ...(name ? { name } : {}),
      protocol: this._protocol.value as Protocol,
      public: this._public.checked
    };
  }

  private _port = input('port', 'number');
  private _name = input('name', 'text');
  private _protocol = select(
    'protocol',
    PROTOCOLS.map(p => [p, p]),
    'auto'
  );
  private _public = input('public', 'checkbox');
}

/** Name, expiry, methods and rate limit of a new share link. */
export class ShareForm extends Form<IShareRequest> {
  constructor(tunnel: ITunnel) {
    super();
    this._name.value = `${tunnel.name} link`;
    this._name.required = true;
    this._rate.min = '1';
    this._rate.max = '1000';
    this._rate.placeholder = 'no limit';
    this.field('Name', this._name);
    this.field('Expires after', this._expiration);
    const methods = document.createElement('div');
    methods.className = 'jp-TunnelsForm-methods';
    for (const method of HTTP_METHODS) {
      const box = input('method', 'checkbox', method);
      box.checked = true;
      const label = document.createElement('label');
      label.append(box, method);
      methods.append(label);
      this._methods.push(box);
    }
    this.field('Allowed methods', methods);
    this._noPost.className = 'jp-TunnelsForm-warning';
    this._noPost.setAttribute('role', 'alert');
    this._noPost.textContent = NO_POST_WARNING;
    methods.addEventListener('change', () => this.showPostWarning());
    this.showPostWarning();
    this.node.append(this._noPost);
    this.field('Requests per minute', this._rate);
    this.addClass('jp-TunnelsShareForm');
  }

  /** Warn while POST is left out (and something is allowed): apps that send data break. */
  private showPostWarning(): void {
    const allowed = this._methods.filter(box => box.checked).map(box => box.value);
    this._noPost.hidden = allowed.length === 0 || allowed.includes('POST');
  }

  getValue(): IShareRequest {
    const chosen = this._methods.filter(box => box.checked).map(box => box.value as HttpMethod);
    return {
      name: this._name.value.trim(),
      expiration: this._expiration.value as ShareExpiration,
      // every method ticked means no restriction (a future method is allowed too)
      allowedMethods: chosen.length === HTTP_METHODS.length ? null : chosen,
      rateLimitPerMinute: optionalInteger(this._rate) ?? null
    };
  }

  private _name = input('name', 'text');
  private _expiration = select('expiration', EXPIRATIONS, '24h');
  private _methods: HTMLInputElement[] = [];
  private _rate = input('rateLimitPerMinute', 'number');
  private _noPost = document.createElement('p');
}

/** The new local port of a tunnel being rotated. */
export class RotateForm extends Form<number> {
  constructor(tunnel: ITunnel) {
    super();
    this._port.min = '1';
    this._port.max = '65535';
    this._port.required = true;
    this._port.value = String(tunnel.target.port);
    this.field(
      'New local port',
      this._port,
      `the URL stays ${tunnel.url}; new visitors reach ${tunnel.target.host}:<port>`
    );
  }

  getValue(): number {
    return Number(this._port.value.trim());
  }

  private _port = input('port', 'number');
}

/** The local port a reach should bind (empty: any free port). */
export class ConnectForm extends Form<number | undefined> {
  constructor(tunnel: ITunnel) {
    super();
    this._port.min = '1';
    this._port.max = '65535';
    this._port.placeholder = 'any free port';
    this.field(
      'Local port',
      this._port,
      `connections to this port on the Jupyter server reach ${tunnel.name}`
    );
  }

  getValue(): number | undefined {
    return optionalInteger(this._port);
  }

  private _port = input('localPort', 'number');
}

/** A copyable read-only value with a Copy button. */
function copyable(value: string, label: string): HTMLElement {
  const row = document.createElement('div');
  row.className = 'jp-TunnelsResult-copyable';
  const text = input(label, 'text', value);
  text.readOnly = true;
  text.setAttribute('aria-label', label);
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'jp-mod-styled jp-mod-accept';
  button.textContent = 'Copy';
  button.addEventListener('click', () => Clipboard.copyToSystem(value));
  row.append(text, button);
  return row;
}

/** A QR code of `text` as an inline SVG element. */
export function qrSvg(text: string): HTMLElement {
  const code = qrcode(0, 'M');
  code.addData(text);
  code.make();
  const holder = document.createElement('div');
  holder.className = 'jp-TunnelsResult-qr';
  // the library builds the SVG from the QR matrix only: no caller text reaches the markup
  holder.innerHTML = code.createSvgTag({ cellSize: QR_CELL_SIZE, margin: QR_MARGIN });
  return holder;
}

/** A new share link: the link, its QR code and its limits; the token is shown this once. */
export class ShareResult extends Widget {
  constructor(grant: IShareGrant) {
    super();
    this.addClass('jp-TunnelsResult');
    const link = grant.shareUrl;
    if (link) {
      this.node.append(copyable(link, 'Share link'), qrSvg(link));
    } else {
      this.node.append(copyable(grant.token, 'Share token'));
    }
    const expiry = grant.expiresAt
      ? `Expires ${new Date(grant.expiresAt).toLocaleString()}`
      : 'Never expires';
    const methods = grant.allowedMethods ? grant.allowedMethods.join(', ') : 'any method';
    const rate = grant.rateLimitPerMinute
      ? `${grant.rateLimitPerMinute} requests a minute`
      : 'no rate limit';
    const facts = document.createElement('p');
    facts.className = 'jp-TunnelsResult-facts';
    facts.textContent = `${expiry} · ${methods} · ${rate}. Copy it now: it is not shown again.`;
    this.node.append(facts);
  }
}

/** A reach: where on the Jupyter server the tunnel now answers. */
export class ConnectResult extends Widget {
  constructor(connection: IConnection) {
    super();
    this.addClass('jp-TunnelsResult');
    if (connection.address) {
      this.node.append(copyable(connection.address, 'Address'));
    }
    if (connection.connectionString) {
      this.node.append(copyable(connection.connectionString, 'Connection string'));
    }
    const facts = document.createElement('p');
    facts.className = 'jp-TunnelsResult-facts';
    facts.textContent = connection.address
      ? `${connection.protocol}: every kernel of this server reaches the tunnel at this address.`
      : `The connection is ${connection.status}${
          connection.lastError ? `: ${connection.lastError}` : ''
        }.`;
    this.node.append(facts);
  }
}
