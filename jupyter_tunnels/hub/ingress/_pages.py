"""The hub's own answers to visitors: JSON for programs, a small HTML page for browsers.

Every answer the ingress makes by itself (tunnel paused, offline, unknown, refused, the app not
answering, a share link's limits) carries the API's ``{code, message, details}`` envelope,
unless the visitor's ``Accept`` asks for HTML (a browser navigating), who gets a page saying
the same thing in words. Programs that send ``Accept: */*`` or ``application/json`` (curl,
httpx, fetch) keep getting JSON. The page loads nothing (no scripts, styles or images from
anywhere) and follows the reader's light or dark preference.
"""

from __future__ import annotations

import html
import json

from ..._core.errors import ErrorCode
from ._decisions import Answer, LoginPrompt, Redirect
from ._login import LOGIN_SECONDS

__all__ = ["error_page", "error_response", "login_page", "render_answer", "wants_html"]

_REASONS = {
    302: "Found",
    303: "See Other",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}

_TITLES = {
    ErrorCode.AGENT_UNAVAILABLE: "This tunnel is not serving right now",
    ErrorCode.LOCAL_UNAVAILABLE: "The app behind this tunnel is not answering",
    ErrorCode.TUNNEL_NOT_FOUND: "No tunnel here",
    ErrorCode.MISSING_AUTH: "This tunnel is private",
    ErrorCode.INVALID_TOKEN: "This tunnel is private",
    ErrorCode.INVALID_SHARE: "This share link is not valid",
    ErrorCode.SHARE_REVOKED: "This share link was revoked",
    ErrorCode.SHARE_EXPIRED: "This share link has expired",
    ErrorCode.PATH_NOT_SHARED: "This page is not shared",
    ErrorCode.METHOD_NOT_ALLOWED: "Not allowed through this share link",
    ErrorCode.RATE_LIMITED: "Too many requests: slow down",
    ErrorCode.REQUEST_TIMEOUT: "The request took too long to arrive",
    ErrorCode.CROSS_SITE_REQUEST: "Refused: this came from another site",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;"
    "line-height:1.5;color:#222;background:#fff}"
    "@media (prefers-color-scheme:dark){body{color:#ddd;background:#111}}"
    "code{opacity:.7}"
)


def wants_html(accept: bytes | str | None) -> bool:
    """Whether the visitor asked for HTML (a browser), going by its ``Accept`` field."""
    if accept is None:
        return False
    if isinstance(accept, bytes):
        return b"text/html" in accept
    return "text/html" in accept


def error_page(status: int, code: str, message: str) -> str:
    """A small self-contained HTML page for a hub error."""
    try:
        title = _TITLES.get(ErrorCode(code), _REASONS.get(status, "Error"))
    except ValueError:
        title = _REASONS.get(status, "Error")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{status} {html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(_sentence(message))}</p>"
        f"<p><code>{status} {html.escape(code)}</code> · jupyter-tunnels</p></body></html>"
    )


def login_page(prompt: LoginPrompt, status: int, code: str) -> str:
    """The standalone hub's login page for a private tunnel: a form where its owner pastes an
    API token (``_login.py``); it loads nothing and posts only to the tunnel's own origin."""
    title = "This tunnel is private"
    error = (
        f'<p role="alert"><strong>{html.escape(prompt.error)}</strong></p>' if prompt.error else ""
    )
    hours = LOGIN_SECONDS // 3600
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{status} {title}</title><style>{_STYLE}{_FORM_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>Its owner can open it in this browser with one of their API "
        "tokens (<code>jtu_…</code>). The browser then keeps a login for this tunnel only, "
        f"for {hours} hours, never the token.</p>{error}"
        f'<form method="post" action="{html.escape(prompt.action)}">'
        f'<input type="hidden" name="next" value="{html.escape(prompt.back)}">'
        '<label>API token <input type="password" name="token" autocomplete="off" required '
        'autofocus></label> <button type="submit">Open the tunnel</button></form>'
        f"<p><code>{status} {html.escape(code)}</code> · jupyter-tunnels</p></body></html>"
    )


_FORM_STYLE = "input,button{font:inherit;padding:.3em .5em}input[type=password]{width:22em}"


def _sentence(message: str) -> str:
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def error_response(
    status: int,
    code: str,
    message: str,
    extra: bytes = b"",
    *,
    html_page: bool = False,
    closes: bool = True,
    details: object = None,
    page: str | None = None,
) -> bytes:
    """A complete error response: JSON, or HTML for a browser (``page``, or the error page);
    ``closes``: it says the connection closes after it.

    ``extra`` is more header lines, each ending in CRLF.
    """
    if html_page:
        body = (page if page is not None else error_page(status, code, message)).encode()
        kind = b"text/html"
    else:
        body = json.dumps({"code": code, "message": message, "details": details}).encode()
        kind = b"application/json"
    reason = _REASONS.get(status, "Error").encode()
    return (
        b"HTTP/1.1 %d %s\r\nContent-Type: %s; charset=utf-8\r\nCache-Control: no-store\r\n"
        b"Content-Length: %d\r\n%s%s\r\n"
        % (status, reason, kind, len(body), _CLOSE if closes else b"", extra)
    ) + body


_CLOSE = b"Connection: close\r\n"


def render_answer(decision: Answer | Redirect, *, keep: bool) -> bytes:
    """The response bytes of an answer the hub makes by itself; ``keep``: the connection
    stays open after it."""
    extra = b"".join(name + b": " + value + b"\r\n" for name, value in decision.headers)
    if isinstance(decision, Redirect):
        reason = _REASONS.get(decision.status, "Redirect").encode()
        return b"HTTP/1.1 %d %s\r\nLocation: %s\r\n%sContent-Length: 0\r\n%s\r\n" % (
            decision.status,
            reason,
            decision.location,
            extra,
            b"" if keep else _CLOSE,
        )
    code = decision.code.value
    return error_response(
        decision.status,
        code,
        decision.message,
        extra,
        html_page=decision.html,
        closes=not keep,
        details=decision.details,
        page=None if decision.login is None else login_page(decision.login, decision.status, code),
    )
