"""Raw TCP and UDP ports on the hub for public ``tcp``/``udp`` tunnels.

A port is listened on while its tunnel is live and public, and closed when the tunnel stops
(its number stays reserved for the owner, like the slug). Private TCP tunnels have no open
port: they are reached through an authenticated ``CONNECT`` on the hub's main port.
Each TCP connection gets its own data connection; each UDP client address gets one too,
carrying length-prefixed datagrams, closed after :data:`UDP_IDLE_SECONDS` of silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

from ..._core.models import Access
from ..._core.tasks import TaskSet
from ..._wire.datagrams import MAX_DATAGRAM, DatagramReader, frame
from ..._wire.splice import splice
from .._exceptions import HubError
from ..services._agents import AgentRegistry
from ..services._routing import Route, Router
from ._streams import open_stream

__all__ = ["UDP_IDLE_SECONDS", "PortListeners"]

log = logging.getLogger("jupyter_tunnels.hub")

UDP_IDLE_SECONDS = 60.0
UDP_QUEUE_LIMIT = 256


class _TcpVisitor(asyncio.Protocol):
    def __init__(self, ports: PortListeners, port: int) -> None:
        self.ports = ports
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence a cast, not a check
        self.transport = transport = cast(asyncio.Transport, base)
        transport.pause_reading()
        self.ports.spawn(self._connect(transport))

    def data_received(self, data: bytes) -> None:
        self.buffer += data

    def eof_received(self) -> bool:
        self.eof = True
        return True

    async def _connect(self, transport: asyncio.Transport) -> None:
        route = self.ports.router.by_port.get(self.port)
        if route is None or not route.accepting:
            transport.close()
            return
        try:
            upstream, leftover = await open_stream(self.ports.agents, route, "tcp")
        except HubError as exc:
            log.info("TCP visitor on port %d refused: %s", self.port, exc.message)
            transport.close()
            return
        untrack = self.ports.agents.session_for(route).track(route.tunnel_id, transport, upstream)
        done = splice(transport, upstream, to_a=leftover, to_b=bytes(self.buffer))
        if self.eof and upstream.can_write_eof():
            upstream.write_eof()
        done.add_done_callback(lambda _: untrack())


class _UdpPeer:
    """The stream carrying one client address's datagrams."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.queue: list[bytes] = []
        self.last_seen = time.monotonic()


class _UdpPort(asyncio.DatagramProtocol):
    def __init__(self, ports: PortListeners, port: int) -> None:
        self.ports = ports
        self.port = port
        self.transport: asyncio.DatagramTransport | None = None
        self.peers: dict[tuple[str, int], _UdpPeer] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        peer = self.peers.get(addr)
        if peer is None:
            route = self.ports.router.by_port.get(self.port)
            if route is None or not route.accepting:
                return
            peer = self.peers[addr] = _UdpPeer()
            self.ports.spawn(self._connect(peer, addr, route))
        peer.last_seen = time.monotonic()
        if peer.transport is not None:
            peer.transport.write(frame(data[:MAX_DATAGRAM]))
        elif len(peer.queue) < UDP_QUEUE_LIMIT:
            peer.queue.append(data[:MAX_DATAGRAM])

    async def _connect(self, peer: _UdpPeer, addr: tuple[str, int], route: Route) -> None:
        try:
            upstream, leftover = await open_stream(self.ports.agents, route, "udp")
        except HubError as exc:
            log.info("UDP client %s on port %d refused: %s", addr, self.port, exc.message)
            self.peers.pop(addr, None)
            return
        reader = DatagramReader(lambda payload: self._reply(payload, addr))
        upstream.set_protocol(_UdpUpstream(reader, lambda: self.peers.pop(addr, None)))
        reader.feed(leftover)
        upstream.resume_reading()
        peer.transport = upstream
        for queued in peer.queue:
            upstream.write(frame(queued))
        peer.queue.clear()
        while not upstream.is_closing():
            await asyncio.sleep(UDP_IDLE_SECONDS / 4)
            if time.monotonic() - peer.last_seen > UDP_IDLE_SECONDS:
                upstream.close()

    def _reply(self, payload: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(payload, addr)

    def close(self) -> None:
        for peer in self.peers.values():
            if peer.transport is not None:
                peer.transport.close()
        if self.transport is not None:
            self.transport.close()


class _UdpUpstream(asyncio.Protocol):
    def __init__(self, reader: DatagramReader, forget: Callable[[], object]) -> None:
        self.reader = reader
        self.forget = forget

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.forget()


class PortListeners:
    """Opens and closes the hub's TCP/UDP ports as public tcp/udp tunnels come and go."""

    def __init__(self, router: Router, agents: AgentRegistry, host: str) -> None:
        self.router = router
        self.agents = agents
        self.host = host
        self.tcp: dict[int, asyncio.Server] = {}
        self.udp: dict[int, _UdpPort] = {}
        self._tasks = TaskSet(log, "opening a stream for a TCP/UDP visitor")

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a task owned by the listeners."""
        self._tasks.spawn(work)

    def wanted(self) -> dict[int, str]:
        """The ports that should be open now, with their protocol."""
        return {
            route.hub_port: route.protocol
            for route in self.router.by_id.values()
            if route.hub_port is not None
            and route.protocol in ("tcp", "udp")
            and route.access is Access.PUBLIC
        }

    async def sync(self) -> None:
        """Open the ports that should be open and close the others."""
        wanted = self.wanted()
        for port in [p for p in self.tcp if wanted.get(p) != "tcp"]:
            self.tcp.pop(port).close()
        for port in [p for p in self.udp if wanted.get(p) != "udp"]:
            self.udp.pop(port).close()
        for port, protocol in wanted.items():
            if port not in self.tcp and port not in self.udp:
                await self._listen(port, protocol)

    async def _listen(self, port: int, protocol: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            if protocol == "tcp":
                self.tcp[port] = await loop.create_server(self._tcp_factory(port), self.host, port)
            else:
                udp = _UdpPort(self, port)
                await loop.create_datagram_endpoint(lambda: udp, (self.host, port))
                self.udp[port] = udp
        except OSError as exc:
            log.error("cannot listen on %s port %d: %s", protocol, port, exc)

    def _tcp_factory(self, port: int) -> Callable[[], _TcpVisitor]:
        def factory() -> _TcpVisitor:
            return _TcpVisitor(self, port)

        return factory

    async def close(self) -> None:
        """Close every port and cancel pending connects."""
        for server in self.tcp.values():
            server.close()
        for udp in self.udp.values():
            udp.close()
        self.tcp.clear()
        self.udp.clear()
        await self._tasks.close()
