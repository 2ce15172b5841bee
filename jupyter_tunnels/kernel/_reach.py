"""Reach from a kernel: someone's tunnel as a local port (``%tunnel connect NAME``).

::

    db = jupyter_tunnels.kernel.connect("orders-db")      # blocking
    db = await jupyter_tunnels.kernel.aconnect("orders-db")
    db.connection_string                                   # 'postgres://127.0.0.1:5432'

The port is bound by the kernel's Jupyter server (its extension's connector), so every kernel
of that server can use it and it outlives this kernel; without such a server, by the
connector running in this kernel. ``NAME`` is one of your tunnels (name, slug or id); with a
share token it is the shared tunnel's slug or id. docs/reach.md tells the whole story.
"""

from __future__ import annotations

import builtins
import html

from .._core.models import ReachConnection
from ._api import atunnel, tunnel
from ._session import acurrent_backend, current_backend

__all__ = ["ReachedPort", "aconnect", "connect", "connections", "disconnect"]


class ReachedPort:
    """A tunnel reached as a local port: the connection, shown as its address."""

    def __init__(self, connection: ReachConnection, name: str) -> None:
        self.connection = connection
        self.name = name

    @property
    def address(self) -> str | None:
        """``127.0.0.1:port``, while open."""
        return self.connection.address

    @property
    def connection_string(self) -> str | None:
        """A URL for what the tunnel speaks (``redis://127.0.0.1:6379``), while open."""
        return self.connection.connection_string

    def _line(self) -> str:
        where = self.connection_string or self.address or "-"
        status = self.connection.status.value
        return f"{self.name} → {where}  ({status}, connection {self.connection.id})"

    def __repr__(self) -> str:
        return self._line()

    def _repr_html_(self) -> str:
        where = html.escape(self.connection_string or self.address or "-")
        return (
            f"<div><b>{html.escape(self.name)}</b> → <code>{where}</code> "
            f"<small>({html.escape(self.connection.status.value)}, connection "
            f"<code>{html.escape(self.connection.id)}</code>)</small></div>"
        )


def connect(name: str, *, port: int | None = None, share_token: str | None = None) -> ReachedPort:
    """Reach tunnel ``name`` at ``127.0.0.1:port`` (any free port when None).

    :raises UnknownTunnel: no tunnel of yours has that name (without ``share_token``).
    :raises Conflict: the port is taken.
    """
    backend = current_backend()
    ref = name if share_token is not None else tunnel(name).id
    return ReachedPort(backend.connect(ref, port, share_token), name)


async def aconnect(
    name: str, *, port: int | None = None, share_token: str | None = None
) -> ReachedPort:
    """:func:`connect` on the running event loop."""
    backend = await acurrent_backend()
    ref = name if share_token is not None else (await atunnel(name)).id
    return ReachedPort(await backend.aconnect(ref, port, share_token), name)


def connections(*, include_inactive: bool = False) -> builtins.list[ReachConnection]:
    """The open connections (closed and failed ones too with ``include_inactive``)."""
    with current_backend().client() as client:
        return client.list_connections(include_inactive=include_inactive)


def disconnect(ref: str) -> builtins.list[ReachConnection]:
    """Close a connection by id, or every open connection to the tunnel ``ref`` (name, slug
    or id); returns the closed connections (the ports are free again)."""
    with current_backend().client() as client:
        live = client.list_connections()
        chosen = [c for c in live if c.id == ref]
        if not chosen:
            tunnel_id = tunnel(ref).id
            chosen = [c for c in live if c.tunnel_id == tunnel_id]
        return [client.close_connection(c.id) for c in chosen]
