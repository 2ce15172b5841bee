"""How the ingress rewrites a request head before relaying it: pure functions on the head.

A tunnel's app gets the target's ``Host``, ``X-Forwarded-*`` fields set by the hub (never the
visitor's own), none of the hub's credentials and none of the hosting's
(:class:`ForeignCredentials`), and no hop-by-hop persistence tokens: keep-alive is between the
hub and each side. The hub's own API learns the client's address from the front, never from the
client. ``Authorization`` is removed when it carries

* a hub token, whatever the tunnel (each role has its prefix, :data:`HUB_TOKEN_PREFIXES`);
* the hosting's token (inside Jupyter: the ``token`` scheme, or Jupyter's token in any scheme);
* on a private or token tunnel, any ``Bearer`` credential: one of them let the visitor in, and
  inside Jupyter any bearer Jupyter accepts does.

Any other value is the app's own and passes (``Basic``, a public tunnel's ``Bearer app-token``),
as do the app's own cookies; the hub's (:data:`HUB_COOKIES`: login and share) never do.
Jupyter's XSRF field and cookie and the login cookies of Jupyter servers and JupyterHub are
removed on both hostings (:data:`JUPYTER_NEIGHBOURS`): a team hub often shares a parent domain
with a JupyterHub, whose cookies a browser would send along.
"""

from __future__ import annotations

import dataclasses
import functools
from urllib.parse import quote, unquote_to_bytes

from ..._core.models import Access
from ..._wire.http1 import RequestHead
from ..services._reach import REACH_TOKEN_PREFIX
from ..services._routing import Route
from ..services._share_rules import COOKIE_NAME as SHARE_COOKIE
from ..store._owners import (
    AGENT_TOKEN_PREFIX,
    SHARE_TOKEN_PREFIX,
    USER_TOKEN_PREFIX,
    WORKER_TOKEN_PREFIX,
)

__all__ = [
    "HUB_COOKIES",
    "HUB_TOKEN_PREFIXES",
    "JUPYTER_NEIGHBOURS",
    "LOGIN_COOKIE",
    "ForeignCredentials",
    "app_host",
    "bearer",
    "forwarded_prefix",
    "rewrite_for_hub",
    "rewrite_for_tunnel",
    "without_foreign_query",
]

_FORWARDING_FIELDS = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-prefix",
        b"forwarded",
        b"host",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
    }
)
"""Fields the hub sets itself, or that belong to the visitor's hop only."""
_CLIENT_ADDRESS_FIELDS = frozenset({b"x-real-ip", b"x-forwarded-for"})
HUB_TOKEN_PREFIXES = tuple(
    prefix.encode()
    for prefix in (
        USER_TOKEN_PREFIX,
        AGENT_TOKEN_PREFIX,
        WORKER_TOKEN_PREFIX,
        SHARE_TOKEN_PREFIX,
        REACH_TOKEN_PREFIX,
    )
)
"""The role prefixes of the hub's tokens: a credential starting with one is the hub's."""
LOGIN_COOKIE = "tunnels_login"
"""The cookie that lets a browser into one private tunnel after its owner logged in on the
standalone hub's login page (``_login.py``)."""
HUB_COOKIES = frozenset({LOGIN_COOKIE.encode(), SHARE_COOKIE.encode()})
"""The hub's own cookies (a browser's login to a private tunnel, a share link's token),
removed on every tunnel, whatever their value."""
_BEARER = b"bearer"


@dataclasses.dataclass(frozen=True)
class ForeignCredentials:
    """The hosting's own credentials, which never reach a tunnel's app.

    Standalone these are Jupyter's neighbours' (:data:`JUPYTER_NEIGHBOURS`); inside Jupyter
    also Jupyter's token (``Authorization: token``, ``?token=``) and its XSRF query field.
    """

    fields: frozenset[bytes] = frozenset()
    """Lower-case field names removed whatever their value."""
    cookie_names: frozenset[bytes] = frozenset()
    cookie_prefixes: tuple[bytes, ...] = ()
    query_names: frozenset[bytes] = frozenset()
    """Query parameters removed whatever their value (``_xsrf``)."""
    query_values: frozenset[tuple[bytes, bytes]] = frozenset()
    """Query parameters removed only with exactly this (decoded) value (Jupyter's
    ``token``: an app may have a ``token`` parameter of its own). These values are the
    hosting's tokens: ``Authorization`` carrying one (in any scheme) is removed too."""
    authorization_schemes: frozenset[bytes] = frozenset()
    """Lower-case ``Authorization`` schemes that are the hosting's, whatever the credential
    (Jupyter's ``token``)."""

    def is_authorization(self, scheme: bytes, credential: bytes) -> bool:
        """Whether ``Authorization: {scheme} {credential}`` is the hosting's."""
        if scheme.lower() in self.authorization_schemes:
            return True
        return any(credential == value for _, value in self.query_values)

    def is_cookie(self, name: bytes) -> bool:
        """Whether a cookie of this name is the hosting's."""
        return name in self.cookie_names or name.startswith(self.cookie_prefixes)

    @property
    def touches_query(self) -> bool:
        """Whether any query parameter can be the hosting's."""
        return bool(self.query_names or self.query_values)


JUPYTER_NEIGHBOURS = ForeignCredentials(
    fields=frozenset({b"x-xsrftoken", b"x-csrftoken"}),
    cookie_names=frozenset({b"_xsrf"}),
    cookie_prefixes=(b"username-", b"jupyterhub-"),
)
"""What a browser sends along from Jupyter servers and JupyterHubs of the same (parent)
domain: their XSRF field and cookie and their login cookies. Removed on every hosting; an app
behind a tunnel that names its own cookie ``_xsrf`` (tornado's default) must name it otherwise."""


def rewrite_for_tunnel(
    head: RequestHead,
    route: Route,
    path: bytes,
    prefix: bytes,
    client: str,
    scheme: bytes,
    foreign: ForeignCredentials,
) -> bool:
    """Rewrite ``head`` for the tunnel's app (target ``path``); whether the visitor asked to
    close the connection after this request."""
    private = route.access is not Access.PUBLIC
    fields: list[tuple[bytes, bytes]] = []
    forwarded_for: bytes | None = None
    original_host = b""
    http11 = head.version == b"HTTP/1.1"
    for name, value in head.fields:
        lowered = name.lower()
        if lowered in _FORWARDING_FIELDS:
            if lowered == b"x-forwarded-for" and forwarded_for is None:
                forwarded_for = value
            elif lowered == b"host" and not original_host:
                original_host = value
            continue
        if lowered == b"authorization" and _is_credential(value, private, foreign):
            continue
        if lowered in foreign.fields:
            continue
        if lowered == b"cookie":
            kept = _without_foreign_cookies(value, foreign)
            if not kept:
                continue
            value = kept
        elif lowered == b"connection" and http11:
            # keep-alive is between us and each side: the local app keeps its connection for
            # the next visitor even when this one closes (see _upstream.py)
            tokens = [t.strip() for t in value.split(b",")]
            tokens = [t for t in tokens if t and t.lower() not in (b"close", b"keep-alive")]
            if not tokens:
                continue
            value = b", ".join(tokens)
        fields.append((name, value))
    close_after = not head.keep_alive if http11 else True
    address = client.encode()
    fields.append((b"Host", app_host(route.target_host, route.target_port)))
    fields.append(
        (b"X-Forwarded-For", forwarded_for + b", " + address if forwarded_for else address)
    )
    fields.append((b"X-Forwarded-Proto", scheme))
    if original_host:
        fields.append((b"X-Forwarded-Host", original_host))
    if prefix:
        fields.append((b"X-Forwarded-Prefix", forwarded_prefix(prefix)))
    head.set_fields(fields)
    head.target = without_foreign_query(path, foreign) if foreign.touches_query else path
    return close_after


@functools.lru_cache(maxsize=1024)
def app_host(target_host: str, target_port: int) -> bytes:
    """The ``Host`` the app receives: the target's ``host:port`` (an IPv6 address in
    brackets, whether or not the target was written with them)."""
    host = target_host.strip("[]")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{target_port}".encode()


@functools.lru_cache(maxsize=1024)
def forwarded_prefix(prefix: bytes) -> bytes:
    """The routing prefix as the app sees it in ``X-Forwarded-Prefix`` (its own escapes kept,
    anything else escaped)."""
    return quote(prefix, safe="/%").encode()


def rewrite_for_hub(head: RequestHead, client: str) -> None:
    """The hub's own API learns the client's address from the front, never from the client."""
    fields = [
        (name, value) for name, value in head.fields if name.lower() not in _CLIENT_ADDRESS_FIELDS
    ]
    fields.append((b"X-Real-Ip", client.encode()))
    head.set_fields(fields)


def _is_credential(value: bytes, private: bool, foreign: ForeignCredentials) -> bool:
    """Whether an ``Authorization`` value is the hub's or the hosting's (see the module's
    docstring), not the app's own."""
    scheme, _, credential = value.partition(b" ")
    credential = credential.strip()
    if credential.startswith(HUB_TOKEN_PREFIXES):
        return True
    if private and scheme.lower() == _BEARER:
        return True
    return foreign.is_authorization(scheme, credential)


def _without_foreign_cookies(value: bytes, foreign: ForeignCredentials) -> bytes:
    """The ``Cookie`` value without the hub's cookies and the hosting's."""
    kept = []
    for part in value.split(b";"):
        part = part.strip()
        name = part.partition(b"=")[0].strip()
        if part and name not in HUB_COOKIES and not foreign.is_cookie(name):
            kept.append(part)
    return b"; ".join(kept)


def without_foreign_query(target: bytes, foreign: ForeignCredentials) -> bytes:
    """``target`` without the hosting's query parameters (others keep their order and form)."""
    path, question, query = target.partition(b"?")
    if not question:
        return target
    kept = []
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        name = unquote_to_bytes(name)
        if name in foreign.query_names:
            continue
        if foreign.query_values and (name, unquote_to_bytes(value)) in foreign.query_values:
            continue
        kept.append(part)
    return path + b"?" + b"&".join(kept) if kept else path


def bearer(head: RequestHead) -> str | None:
    """The bearer token of ``Authorization``, or None."""
    value = head.get(b"authorization")
    if not value:
        return None
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return None
    return token.strip().decode("ascii", "replace")
