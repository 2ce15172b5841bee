"""Logging a browser in to a tunnel served at its own origin, ``{slug}.localhost``: no I/O.

Inside a Jupyter server reached at a loopback address, each tunnel is also served at
``http://{slug}.localhost:{port}/`` (browsers resolve every ``*.localhost`` name to loopback
themselves), so its app runs at the root of an origin of its own and its scripts cannot call
Jupyter's API with the visitor's Jupyter cookie. That cookie is host-only to Jupyter's own host,
so the browser never sends it to the subdomain: a private tunnel's first visit is let in by a
one-time redirect through Jupyter, where the visitor is logged in:

1. a navigation to ``{slug}.localhost`` without the tunnel's cookie gets a ``302`` to
   ``http://localhost:{port}`` (:attr:`OriginLogins.jupyter_host`: the server's loopback
   address when it listens on one, such as ``127.0.0.1``) :attr:`OriginLogins.authorize_path`
   (``{base_url}tunnels/authorize``) with ``?tunnel={slug}&next={path}``
   (:meth:`OriginLogins.to_authorize`), on the port the browser used (the server's, or that
   of an SSH forward to it);
2. that page, behind Jupyter's login (which sends the browser back once logged in), asks
   :meth:`OriginLogins.issue` for a code: random, for that tunnel only, usable once, within
   :data:`CODE_SECONDS`; it ``302``\\s to ``{slug}.localhost`` :data:`CALLBACK_PATH`
   ``?code=…&next=…``;
3. the ingress redeems the code (:meth:`OriginLogins.callback`) and answers ``303`` to ``next``
   (always a path on the subdomain: no open redirect) with the hub's signed login cookie
   (``_login.py``'s :class:`~._login.LoginCookies`: ``HttpOnly``, ``SameSite=Lax``,
   ``Path=/``, no ``Domain``, so only that subdomain gets it), which lasts
   :data:`ORIGIN_LOGIN_SECONDS` and is checked on every request. A used, expired, made-up code,
   or one of another tunnel, is refused (``403``).

Every ``*.localhost`` is one *site* (and so is Jupyter's ``localhost``), so ``SameSite=Lax``
does not keep another tunnel's page from sending a tunnel's cookie along: a request with the
cookie that changes something must come from the tunnel's own origin (``Origin``), else
``403 CROSS_SITE_REQUEST``.

Logging out of Jupyter does not reach the subdomain's cookie: it ends after
:data:`ORIGIN_LOGIN_SECONDS`, or when the server restarts (the signing key is made at start).
"""

from __future__ import annotations

import collections
import dataclasses
import secrets
from urllib.parse import parse_qsl, quote

from ..._core.errors import ErrorCode
from ..._wire.http1 import RequestHead
from ..services._routing import Route
from ..store._clock import now
from ._decisions import Answer, Redirect
from ._login import LoginCookies, same_origin
from ._pages import wants_html

__all__ = [
    "CALLBACK_PATH",
    "CODE_SECONDS",
    "MAX_CODES",
    "ORIGIN_LOGIN_SECONDS",
    "OriginLogins",
    "callback_url",
    "is_callback",
]

CALLBACK_PATH = b"/.jupyter-tunnels/callback"
"""Where, on a tunnel's subdomain, the one-time code is exchanged for the tunnel's cookie (the
hub's path: it never reaches the app)."""
CODE_SECONDS = 60.0
"""How long a one-time code may wait to be redeemed."""
ORIGIN_LOGIN_SECONDS = 3600
"""How long a subdomain login lasts; then the browser goes through Jupyter again (logged in
there, it does not notice). Short, since logging out of Jupyter does not end it."""
MAX_CODES = 1024
"""Unredeemed codes kept at most (the oldest are forgotten first)."""
_NO_STORE = (b"Cache-Control", b"no-store")
_AFTER_LOGIN = (_NO_STORE, (b"Referrer-Policy", b"no-referrer"))


def is_callback(path: bytes) -> bool:
    """Whether the request is for the code exchange (:data:`CALLBACK_PATH`)."""
    return path.partition(b"?")[0] == CALLBACK_PATH


@dataclasses.dataclass
class OriginLogins:
    """The one-time codes and subdomain cookies of one embedded ingress (see the module)."""

    authorize_path: bytes
    """Jupyter's page that issues codes (``{base_url}tunnels/authorize``)."""
    jupyter_host: bytes = b"localhost"
    """The loopback name of Jupyter's pages (``localhost``, ``127.0.0.1``): where the visitor is
    logged in to Jupyter."""
    cookies: LoginCookies = dataclasses.field(
        default_factory=lambda: LoginCookies(seconds=ORIGIN_LOGIN_SECONDS)
    )
    codes: collections.OrderedDict[str, tuple[str, float]] = dataclasses.field(
        default_factory=collections.OrderedDict
    )
    """Unredeemed codes: the tunnel id each is for, and until when."""

    def issue(self, route: Route, moment: float | None = None) -> str:
        """A new one-time code for this tunnel (the visitor is logged in to Jupyter)."""
        moment = now() if moment is None else moment
        code = secrets.token_urlsafe(32)
        self.codes[code] = (route.tunnel_id, moment + CODE_SECONDS)
        while len(self.codes) > MAX_CODES:
            self.codes.popitem(last=False)
        return code

    def redeem(self, code: str, route: Route, moment: float | None = None) -> bool:
        """Whether ``code`` was issued for this tunnel and is still unused and unexpired (it is
        used up either way)."""
        moment = now() if moment is None else moment
        issued = self.codes.pop(code, None)
        return issued is not None and issued[0] == route.tunnel_id and moment < issued[1]

    def admits(self, head: RequestHead, route: Route) -> bool:
        """Whether the request carries a valid subdomain cookie for this tunnel.

        Raises :class:`~.._exceptions.HubError` for a request with the cookie that changes
        something or opens a WebSocket from another origin
        (:func:`~._login.refuse_cross_origin`): every ``*.localhost`` is the same *site*, so
        ``SameSite=Lax`` lets another tunnel's page (or Jupyter's) send the cookie along.
        """
        return self.cookies.admits(head, route)

    def to_authorize(self, head: RequestHead, route: Route, path: bytes) -> Redirect:
        """The ``302`` to Jupyter's authorize page, coming back to this request's target."""
        back = same_origin(head.target.decode("latin-1"), "")
        query = f"?tunnel={quote(route.slug, safe='')}&next={quote(back, safe='')}"
        _, colon, port = head.host.rpartition(b":")
        port = b":" + port if colon and port.isdigit() else b""
        origin = b"http://" + self.jupyter_host + port
        location = origin + self.authorize_path + query.encode()
        return Redirect(302, location, (_NO_STORE,), route, path)

    def callback(self, head: RequestHead, route: Route, path: bytes) -> Answer | Redirect:
        """Exchange the code in the query for the tunnel's cookie, then back to ``next``."""
        query = head.target.partition(b"?")[2].decode("latin-1")
        fields = dict(parse_qsl(query, keep_blank_values=True))
        if not self.redeem(fields.get("code", ""), route):
            message = (
                f"this login link for tunnel {route.slug!r} is used, expired or not for it: "
                "open the tunnel's address again"
            )
            html = wants_html(head.get(b"accept"))
            return Answer(403, ErrorCode.INVALID_TOKEN, message, (_NO_STORE,), html, route, path)
        back = same_origin(fields.get("next", "/"), "")
        cookie = (b"Set-Cookie", self.cookies.header(route, b"", now()))
        return Redirect(303, back.encode("latin-1"), (cookie, *_AFTER_LOGIN), route, path)


def callback_url(host: str, slug: str, code: str, back: str) -> str:
    """Where Jupyter's authorize page, reached at ``host`` (``localhost:8888``), sends the
    browser with a code (``back``: a path), on the same port."""
    _, colon, port = host.rpartition(":")
    port = f":{port}" if colon and port.isdigit() else ""
    query = f"code={quote(code, safe='')}&next={quote(same_origin(back, ''), safe='')}"
    return f"http://{slug}.localhost{port}{CALLBACK_PATH.decode()}?{query}"
