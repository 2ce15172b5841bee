"""How the standalone front rewrites a request head before relaying it (``_front.py``).

A tunnel's app gets the target's ``Host``, ``X-Forwarded-*`` fields set by the hub (never the
visitor's own), no hub credential in ``Authorization`` (unless the tunnel is public) and no
hop-by-hop persistence tokens: keep-alive is between the hub and each side. The hub's own API
learns the client's address from the front, never from the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._core.models import Access
from ..._wire.http1 import RequestHead
from ..services._routing import Route

if TYPE_CHECKING:
    from .._app import Hub

__all__ = ["bearer", "rewrite_for_api", "rewrite_for_tunnel"]

_HOP_HEADERS = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-prefix",
        b"forwarded",
    }
)
_CLIENT_ADDRESS_HEADERS = frozenset({b"x-real-ip", b"x-forwarded-for"})


def rewrite_for_tunnel(
    head: RequestHead, route: Route, path: bytes, prefix: bytes, client: str, hub: Hub
) -> bool:
    """Rewrite ``head`` for the tunnel's app (target ``path``); whether the visitor asked to
    close the connection after this request."""
    fields = [
        (name, value)
        for name, value in head.fields
        if name.lower() not in _HOP_HEADERS
        and name.lower() != b"host"
        and not (name.lower() == b"authorization" and route.access is not Access.PUBLIC)
    ]
    if head.version == b"HTTP/1.1":
        # keep-alive is between us and each side: the local app keeps its connection for
        # the next visitor even when this one closes (see _upstream.py)
        close_after = not head.keep_alive
        fields = _without_persistence_tokens(fields)
    else:
        close_after = True
    original_host = head.host
    fields.append((b"Host", f"{route.target_host}:{route.target_port}".encode()))
    forwarded_for = head.get(b"x-forwarded-for")
    address = client.encode()
    fields.append(
        (b"X-Forwarded-For", forwarded_for + b", " + address if forwarded_for else address)
    )
    fields.append((b"X-Forwarded-Proto", hub.config.scheme.encode()))
    if original_host:
        fields.append((b"X-Forwarded-Host", original_host))
    if prefix:
        fields.append((b"X-Forwarded-Prefix", hub.router.public_prefix(prefix)))
    head.fields = fields
    head.target = path
    return close_after


def rewrite_for_api(head: RequestHead, client: str) -> None:
    """The hub's own API learns the client's address from the front, never from the client."""
    head.fields = [
        (name, value) for name, value in head.fields if name.lower() not in _CLIENT_ADDRESS_HEADERS
    ]
    head.fields.append((b"X-Real-Ip", client.encode()))


def _without_persistence_tokens(
    fields: list[tuple[bytes, bytes]],
) -> list[tuple[bytes, bytes]]:
    """Drop ``close``/``keep-alive`` from ``Connection`` (hop-by-hop); keep ``upgrade``."""
    kept: list[tuple[bytes, bytes]] = []
    for name, value in fields:
        if name.lower() == b"connection":
            tokens = [t.strip() for t in value.split(b",")]
            tokens = [t for t in tokens if t and t.lower() not in (b"close", b"keep-alive")]
            if not tokens:
                continue
            value = b", ".join(tokens)
        elif name.lower() == b"keep-alive":
            continue
        kept.append((name, value))
    return kept


def bearer(head: RequestHead) -> str | None:
    """The bearer token of ``Authorization``, or None."""
    value = head.get(b"authorization")
    if not value:
        return None
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return None
    return token.strip().decode("ascii", "replace")
