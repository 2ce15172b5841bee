"""How the ingress reaches a tunnel's target: through its connector, or directly.

* :class:`AgentDialer`: over a data connection of the tunnel's connector (taken from the warm
  pool, or asked for with ``dial``), announced with a ``StreamOpen`` line; the connector answers
  a ready line before the app's first bytes.
* :class:`DirectDialer`: a plain connection to the target, checked against an allow-list. The
  hub embedded in a Jupyter server uses it for the tunnels of the server's own connector, which
  runs in the same process: a data connection would be a second hop through the server's port.
* :class:`RoutedDialer` picks one of the two per tunnel.

Either way the stream is tracked per tunnel, so closing (or pausing, or rotating) a tunnel
aborts its open streams.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Callable, Iterable
from typing import Protocol

from ..._core.errors import ErrorCode
from ..._core.hosts import host_allowed
from ..._core.status import TunnelStatus
from ..._core.timeouts import within
from ..._wire.held import HeldProtocol
from .._exceptions import HubError
from ..services._agents import AgentRegistry, ProbeResult
from ..services._routing import Route
from ._streams import open_stream

__all__ = [
    "DIRECT_CONNECT_TIMEOUT",
    "AgentDialer",
    "Dialer",
    "DirectDialer",
    "RoutedDialer",
    "Stream",
]

DIRECT_CONNECT_TIMEOUT = 3.5
"""Seconds a direct dial waits for the tunnel's target to accept the connection (then 502),
as long as a connector waits for its own (``connector/_streams.py``)."""


@dataclasses.dataclass
class Stream:
    """A connection towards a tunnel's app, ready for the request."""

    transport: asyncio.Transport
    header: bytes
    """Bytes to write before the request (the ``StreamOpen`` line of a data connection)."""
    ready_line: bool
    """Whether the connector's ready line comes before the app's answer."""
    untrack: Callable[[], None]
    """Forget the stream once it has ended (the tunnel no longer needs to abort it)."""
    probe: Callable[[ProbeResult], None] | None = None
    """Asks whether the connector behind the stream still answers (None for a direct one)."""


class Dialer(Protocol):
    """Opens streams to tunnels' targets."""

    def ready(self, route: Route) -> Stream | None:
        """A stream available now, without waiting (an idle pooled data connection), or None."""

    async def open(self, route: Route) -> Stream:
        """A new stream; :class:`HubError` (502/503) when the target cannot be reached."""

    async def open_raw(
        self, route: Route, protocol: str, *others: asyncio.Transport
    ) -> tuple[asyncio.Transport, bytes, Callable[[], None]]:
        """A raw stream (``CONNECT``, TCP/UDP ports, reach): its paused transport, bytes that
        came with it, and its untrack. ``others`` are tracked with it (the visitor's side)."""


class AgentDialer:
    """Streams through the tunnel's connector."""

    def __init__(self, agents: AgentRegistry) -> None:
        self.agents = agents

    def ready(self, route: Route) -> Stream | None:
        """An idle data connection of the tunnel's connector, if one waits in its pool."""
        session = self.agents.session_for(route)
        transport = session.take_idle()
        if transport is None:
            return None
        untrack = session.track(route.tunnel_id, transport)
        return Stream(transport, session.stream_header(route, "tcp"), True, untrack, session.probe)

    async def open(self, route: Route) -> Stream:
        """A data connection, waiting for the connector to open one if the pool is empty."""
        session = self.agents.session_for(route)
        transport = await session.acquire()
        untrack = session.track(route.tunnel_id, transport)
        return Stream(transport, session.stream_header(route, "tcp"), True, untrack, session.probe)

    async def open_raw(
        self, route: Route, protocol: str, *others: asyncio.Transport
    ) -> tuple[asyncio.Transport, bytes, Callable[[], None]]:
        """A stream the connector has connected to the target (its ready line read)."""
        transport, leftover = await open_stream(self.agents, route, protocol)
        untrack = self.agents.session_for(route).track(route.tunnel_id, transport, *others)
        return transport, leftover, untrack


class DirectDialer:
    """Connects to tunnels' targets itself, when they are in ``allowed_hosts``."""

    def __init__(self, allowed_hosts: Callable[[], Iterable[str]]) -> None:
        self.allowed_hosts = allowed_hosts
        """The connector's allow-list, read at each dial (it may change)."""
        self._streams: dict[str, set[asyncio.Transport]] = collections.defaultdict(set)

    def ready(self, route: Route) -> Stream | None:
        """Never: a direct connection is always opened (the ingress keeps idle ones alive)."""
        return None

    async def open(self, route: Route) -> Stream:
        """A new connection to the target."""
        transport = await self._connect(route)
        return Stream(transport, b"", False, self._track(route, transport))

    async def open_raw(
        self, route: Route, protocol: str, *others: asyncio.Transport
    ) -> tuple[asyncio.Transport, bytes, Callable[[], None]]:
        """A new connection to the target, paused."""
        if protocol == "udp":
            raise HubError(
                ErrorCode.AGENT_UNAVAILABLE, "UDP tunnels need a hub with UDP ports of its own"
            )
        transport = await self._connect(route)
        held = transport.get_protocol()
        early = bytes(held.early) if isinstance(held, HeldProtocol) else b""
        return transport, early, self._track(route, transport, *others)

    def routes_changed(self, changes: dict[str, Route | None]) -> None:
        """Abort the streams of tunnels that stopped (or are stopping)."""
        for tunnel_id, route in changes.items():
            if route is None or route.status is TunnelStatus.STOPPING:
                for transport in self._streams.pop(tunnel_id, set()):
                    transport.abort()

    async def _connect(self, route: Route) -> asyncio.Transport:
        host, port = route.target_host, route.target_port
        allowed = list(self.allowed_hosts())
        if not host_allowed(host, allowed):
            message = (
                f"target host {host!r} is not allowed by this connector (allowed: "
                f"{', '.join(allowed)})"
            )
            raise HubError(ErrorCode.LOCAL_UNAVAILABLE, message)
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await within(
                DIRECT_CONNECT_TIMEOUT, loop.create_connection(HeldProtocol, host, port)
            )
        except (OSError, asyncio.TimeoutError) as exc:
            message = (
                f"port {port} is not answering on {host}: start your app first "
                f"({exc.__class__.__name__})"
            )
            raise HubError(ErrorCode.LOCAL_UNAVAILABLE, message) from None
        transport.pause_reading()
        return transport

    def _track(self, route: Route, *transports: asyncio.Transport) -> Callable[[], None]:
        streams = self._streams[route.tunnel_id]
        streams.update(transports)

        def untrack() -> None:
            streams.difference_update(transports)

        return untrack


class RoutedDialer:
    """A :class:`DirectDialer` for the tunnels ``is_direct`` picks, an agent's otherwise."""

    def __init__(
        self, direct: DirectDialer, agents: AgentDialer, is_direct: Callable[[Route], bool]
    ) -> None:
        self.direct = direct
        self.agents = agents
        self.is_direct = is_direct

    def _for(self, route: Route) -> Dialer:
        return self.direct if self.is_direct(route) else self.agents

    def ready(self, route: Route) -> Stream | None:
        """See :meth:`Dialer.ready`."""
        return self._for(route).ready(route)

    async def open(self, route: Route) -> Stream:
        """See :meth:`Dialer.open`."""
        return await self._for(route).open(route)

    async def open_raw(
        self, route: Route, protocol: str, *others: asyncio.Transport
    ) -> tuple[asyncio.Transport, bytes, Callable[[], None]]:
        """See :meth:`Dialer.open_raw`."""
        return await self._for(route).open_raw(route, protocol, *others)
