"""Logging a browser in to a private tunnel: pure functions and data, no I/O.

A browser that opens a page of a private tunnel (``GET``/``HEAD`` asking for HTML, no
``Authorization`` of its own) without being let in is shown how to log in, instead of being told
to send a bearer token it cannot send:

* **inside Jupyter** it is sent to Jupyter's login page (``302`` to
  ``{base_url}login?next=<the tunnel path and query>``, :func:`to_login`), which sends it back
  once it logged in; ``next`` is always a path on the same origin (:func:`same_origin`);
* **on a standalone hub** it gets the hub's login page (``401``, ``_pages.py``), a form where the
  tunnel's owner pastes one of their API tokens. The form posts to
  ``{tunnel}/`` :data:`LOGIN_PATH` (the tunnel's own origin, so the cookie can be scoped to
  its path or its host). A token of the tunnel's owner gets a ``303`` back to the page, with
  the cookie :data:`LOGIN_COOKIE`: never the token itself, but a value signed by the hub
  (:class:`LoginCookies`, HMAC-SHA256) naming the tunnel, its owner and an expiry
  (:data:`LOGIN_SECONDS`). It opens that tunnel only, is refused once expired or tampered with,
  and, as every hub credential, is removed before a request reaches the app (``_rewrite.py``).

The form is protected against cross-site posts by its cookie's ``SameSite=Lax`` and an origin
check (:func:`cross_site`): a post whose ``Origin`` is another host, or whose
``Sec-Fetch-Site`` is not ``same-origin``, is refused.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from ..._core.errors import ErrorCode
from ..._core.models import Access
from ..._wire.http1 import RequestHead
from .._exceptions import HubError
from ..services._routing import Route
from ..store._clock import now
from ._decisions import Answer, LogIn, LoginPrompt, Redirect
from ._rewrite import LOGIN_COOKIE

__all__ = [
    "LOGIN_COOKIE",
    "LOGIN_PATH",
    "LOGIN_SECONDS",
    "MAX_LOGIN_FORM",
    "LoginCookies",
    "cross_site",
    "foreign_origin",
    "is_login_post",
    "login_page",
    "login_posted",
    "navigates",
    "read_login_form",
    "refuse_cross_origin",
    "same_origin",
    "to_login",
]

LOGIN_PATH = b"/.jupyter-tunnels/login"
"""Where, under a private tunnel of a standalone hub, the login form posts (the hub's path:
an app's own ``POST`` there never reaches the app)."""
LOGIN_SECONDS = 12 * 3600
"""How long a login lasts (a working day); the browser logs in again after that."""
MAX_LOGIN_FORM = 4096
"""The longest login form the hub reads, in bytes."""
_NAVIGATIONS = frozenset({b"GET", b"HEAD"})
_NO_STORE = (b"Cache-Control", b"no-store")
_PAGE_FIELDS = (
    (b"WWW-Authenticate", b'Bearer realm="jupyter-tunnels"'),
    (
        b"Content-Security-Policy",
        b"default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
)
"""The login page's fields: the 401's challenge, and a page that loads nothing, posts only to
its own origin and cannot be framed (no clickjacking of the token field)."""
_AFTER_LOGIN = (_NO_STORE, (b"Referrer-Policy", b"no-referrer"))
_COOKIE = LOGIN_COOKIE.encode()
_PATH_SAFE = "/%@!$&'()*+,=:-._~"


def navigates(head: RequestHead, route: Route, html: bool) -> bool:
    """Whether a browser opens a page of a private tunnel without offering a credential of
    its own (a program, or a client that sent ``Authorization``, gets the ``401``)."""
    return (
        html
        and route.access is Access.PRIVATE
        and head.method in _NAVIGATIONS
        and b"authorization" not in head.index
    )


def is_login_post(head: RequestHead, route: Route, path: bytes) -> bool:
    """Whether the request posts the login form of a private tunnel."""
    return (
        head.method == b"POST"
        and route.access is Access.PRIVATE
        and path.partition(b"?")[0] == LOGIN_PATH
    )


def same_origin(target: str, prefix: str) -> str:
    """``target`` if it is a path inside the tunnel (``prefix``) on this origin, else the
    tunnel's root: a login redirects there, so it must never name another site
    (``//evil.example``, ``/\\evil.example``, ``https://evil.example``)."""
    root = prefix + "/"
    inside = target.startswith(root) or (not prefix and target.startswith("/"))
    if not inside or target.startswith(("//", "/\\")) or not target.isprintable():
        return root
    if not target.isascii():  # a Location is bytes: a name like /中 goes to the root
        return root
    segments = unquote(target.partition("?")[0].partition("#")[0]).split("/")
    if any(segment in (".", "..") for segment in segments):  # /t/web/../other/ leaves it
        return root
    return target


def to_login(
    login_url: bytes, head: RequestHead, route: Route, path: bytes, prefix: bytes
) -> Redirect:
    """The ``302`` to the hosting's login page, coming back to this request's target."""
    back = same_origin(head.target.decode("latin-1"), prefix.decode("latin-1"))
    location = login_url + b"?next=" + quote(back, safe="").encode()
    return Redirect(302, location, (_NO_STORE,), route, path)


def login_page(
    head: RequestHead,
    route: Route,
    path: bytes,
    prefix: bytes,
    code: ErrorCode,
    message: str,
    error: str | None = None,
    back: str | None = None,
) -> Answer:
    """The standalone hub's ``401`` for a browser: the login form, coming back to ``back``
    (this request's target by default)."""
    if back is None:
        back = head.target.decode("latin-1")
    back = same_origin(back, prefix.decode("latin-1"))
    prompt = LoginPrompt((prefix + LOGIN_PATH).decode("latin-1"), back, error)
    return Answer(401, code, message, _PAGE_FIELDS, True, route, path, login=prompt)


def login_posted(head: RequestHead, route: Route, path: bytes, prefix: bytes) -> Answer | LogIn:
    """A post of the login form: refused when it comes from another site or is too long,
    else read by the front (:class:`~._decisions.LogIn`)."""
    if cross_site(head):
        message = "the login form was posted from another site: open the tunnel and log in there"
        return Answer(403, ErrorCode.CROSS_SITE_REQUEST, message, (), True, route, path)
    if head.chunked or (head.content_length or 0) > MAX_LOGIN_FORM:
        message = f"a login form is at most {MAX_LOGIN_FORM} bytes"
        return Answer(400, ErrorCode.INVALID_INPUT, message, (), True, route, path)
    return LogIn(route, head, path, prefix)


def cross_site(head: RequestHead) -> bool:
    """Whether a post comes from another site's page (``Origin``, ``Sec-Fetch-Site``)."""
    origin = head.get(b"origin")
    if origin is not None:
        host = urlsplit(origin.decode("latin-1")).netloc.lower()
        if host != head.host.decode("latin-1").lower():
            return True
    site = head.get(b"sec-fetch-site")
    return site is not None and site.lower() != b"same-origin"


def read_login_form(body: bytes) -> tuple[str | None, str]:
    """``(token, next)`` from the posted form (``application/x-www-form-urlencoded``)."""
    fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    token = fields.get("token", "").strip()
    return token or None, fields.get("next", "")


@dataclasses.dataclass(frozen=True)
class LoginCookies:
    """Signs and checks the login cookies of one hub (a key made at its start: a restarted hub
    asks browsers to log in again)."""

    secure: bool = False
    """The hub's public URL is https: the cookie is ``Secure``."""
    seconds: int = LOGIN_SECONDS
    """How long a login lasts (the subdomain logins inside Jupyter are shorter, ``_origin.py``)."""
    key: bytes = dataclasses.field(default_factory=lambda: secrets.token_bytes(32))

    def answer(self, login: LogIn, owner_id: str | None, back: str) -> Answer | Redirect:
        """The answer to a posted login form whose token belongs to ``owner_id`` (None: to
        nobody): ``303`` back with the tunnel's login cookie, or the form again, with the
        error."""
        route, prefix, path = login.route, login.prefix, login.path
        if owner_id is None or owner_id != route.owner_id:
            message = f"tunnel {route.slug!r} is private: that token does not open it"
            error = "That is not an API token of this tunnel's owner."
            return login_page(
                login.head, route, path, prefix, ErrorCode.INVALID_TOKEN, message, error, back
            )
        back = same_origin(back, prefix.decode("latin-1"))
        fields = ((b"Set-Cookie", self.header(route, prefix, now())), *_AFTER_LOGIN)
        return Redirect(303, back.encode("latin-1"), fields, route, path)

    def value(self, route: Route, expires: int) -> str:
        """The cookie's value for the tunnel's owner, valid until ``expires`` (UNIX seconds)."""
        claim = f"{route.tunnel_id}.{route.owner_id}.{expires}"
        return f"{claim}.{self._signature(claim)}"

    def header(self, route: Route, prefix: bytes, moment: float) -> bytes:
        """The ``Set-Cookie`` value after a login at ``moment``, scoped to the tunnel's path
        (or, with subdomain routing, to its host: no ``Domain``)."""
        value = self.value(route, int(moment) + self.seconds)
        path = quote(prefix.decode("latin-1") + "/", safe=_PATH_SAFE)
        parts = [f"{LOGIN_COOKIE}={value}", f"Path={path}", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={self.seconds}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode()

    def admits(self, head: RequestHead, route: Route, moment: float | None = None) -> bool:
        """Whether the request carries a valid login cookie for this tunnel and its owner
        (at ``moment``, now by default)."""
        if b"cookie" not in head.index:
            return False
        moment = now() if moment is None else moment
        for name, field in head.fields:
            if name.lower() != b"cookie" or _COOKIE not in field:
                continue
            for part in field.split(b";"):
                key, _, value = part.strip().partition(b"=")
                if key == _COOKIE and self._valid(value.decode("latin-1"), route, moment):
                    refuse_cross_origin(head, route)
                    return True
        return False

    def _valid(self, value: str, route: Route, moment: float) -> bool:
        claim, _, signature = value.rpartition(".")
        if not hmac.compare_digest(signature.encode(), self._signature(claim).encode()):
            return False
        tunnel_id, _, rest = claim.partition(".")
        owner_id, _, expires = rest.rpartition(".")
        if tunnel_id != route.tunnel_id or owner_id != route.owner_id:
            return False
        return expires.isdigit() and moment < int(expires)

    def _signature(self, claim: str) -> str:
        digest = hmac.new(self.key, b"login|" + claim.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})


def foreign_origin(head: RequestHead) -> str | None:
    """The ``Origin`` of a request that changes something (not ``GET``, ``HEAD``,
    ``OPTIONS``) or opens a WebSocket when it is not the request's own host, else None.
    Browsers always send ``Origin`` on such requests and on WebSocket handshakes; what a
    cookie-authenticated request of that kind from another origin does is a forgery."""
    if head.method in _SAFE_METHODS and not head.upgrade:
        return None
    origin = (head.get(b"origin") or b"").decode("latin-1")
    if origin and urlsplit(origin).netloc.lower() != head.host.decode("latin-1").lower():
        return origin
    return None


def refuse_cross_origin(head: RequestHead, route: Route) -> None:
    """Refuse a request let in by a login cookie that another origin made to act
    (:func:`foreign_origin`). Sibling subdomains (``a.tunnels.example.org``, every
    ``*.localhost``) are one *site*, so ``SameSite=Lax`` lets their pages send the cookie
    along.

    :raises HubError: ``CROSS_SITE_REQUEST`` (403).
    """
    origin = foreign_origin(head)
    if origin is not None:
        what = "WebSocket" if head.upgrade else head.method.decode()
        raise HubError(
            ErrorCode.CROSS_SITE_REQUEST,
            f"a {what} from {origin} is refused: "
            f"another origin may not act on tunnel {route.slug!r} for its visitor",
        )
