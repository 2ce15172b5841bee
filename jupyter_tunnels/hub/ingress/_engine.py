"""One ingress of one hosting: the policy, the dialer and the hub's side, as the front uses them.

The composition root (``hub/_app.py``, :meth:`Hub.ingress`) builds one :class:`Ingress` per
hosting: the standalone hub's, whose requests for the hub itself are relayed to its tornado
application (:class:`RelayToHub`), or a Jupyter server's, whose requests for Jupyter go back
to Jupyter's own HTTP server with the connection (``_handover.py``). Every visitor connection
is a :class:`~._front.FrontProtocol` holding the :class:`Ingress` it belongs to.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Awaitable, Callable
from typing import Protocol

from ..services._traffic import TrafficLog
from ._dialers import Dialer
from ._policy import IngressPolicy
from ._upstream import UpstreamPool

__all__ = ["HubSide", "Ingress", "RelayToHub", "TakeBack"]


class RelayToHub:
    """Requests for the hub itself are relayed to its tornado application over a new
    connection (a private Unix socket, for the standalone hub)."""

    def __init__(self, connect: Callable[[], Awaitable[asyncio.Transport]]) -> None:
        self.connect = connect


class TakeBack(Protocol):
    """Requests for the hub's host go back, with their connection, to the server that
    handed the connection over (Jupyter's HTTP server): ``sock`` with ``data``, the bytes
    already read from it (the request's head first)."""

    def __call__(self, sock: socket.socket, data: bytes, peer: tuple[str, int]) -> None:
        """Serve ``sock`` from now on, starting with ``data``."""


HubSide = RelayToHub | TakeBack
"""Where a request for the hub's host goes."""


@dataclasses.dataclass
class Ingress:
    """Everything a visitor connection of one hosting needs."""

    policy: IngressPolicy
    dialer: Dialer
    hub_side: HubSide
    upstreams: UpstreamPool
    traffic: TrafficLog
    on_request: Callable[[], None] | None = None
    """Called for each request relayed to a tunnel (Jupyter counts it as activity)."""
    open_connections: int = 0
    """Visitor connections open now (Jupyter's idle culler asks)."""
