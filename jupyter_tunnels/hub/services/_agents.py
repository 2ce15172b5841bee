"""Connected agents: one control session per lease, its warm pool of data connections, and
the streams open through it.

A connector attaches by opening the control WebSocket (``hub/api/_control.py``); the session
it gets replaces any earlier session of the same lease (a connector coming back after a network
drop evicts its own stale session instead of failing with "already bound"). Data connections
the connector opens wait, idle, in the session's pool until a visitor needs one; the hub then
writes a :class:`~jupyter_tunnels._wire.protocol.StreamOpen` line and hands the connection to the
ingress. When the pool runs dry the hub asks for more with a ``dial`` message.

Nobody hangs on a connector that has silently gone (a laptop whose link dropped: packets
vanish, no reset; a frozen process). Heartbeats and the WebSocket's own pings notice only
after tens of seconds, so whenever a visitor waits on a connector for longer than
:data:`PROBE_AFTER` (for a data connection, for the ready line, for the first byte of an
answer) the session is **probed**: a WebSocket ping that must be answered within
:data:`PROBE_TIMEOUT`. No answer ends the session: every visitor waiting on it gets a ``503``
at once, the lease's tunnels go back to ``connecting``, and later visitors get a ``503``
straight away until the connector returns. One probe serves every visitor waiting at the
time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Literal

from ..._core.errors import ErrorCode
from ..._core.status import TunnelStatus
from ..._wire.protocol import (
    ControlMessage,
    Dial,
    StreamOpen,
    TunnelsChanged,
    TunnelSpec,
    encode_line,
)
from .._exceptions import HubError
from ..store._owners import hash_token
from ._routing import Route

__all__ = [
    "DIAL_TIMEOUT",
    "POOL_SIZE",
    "PROBE_AFTER",
    "PROBE_TIMEOUT",
    "AgentRegistry",
    "AgentSession",
]

log = logging.getLogger("jupyter_tunnels.hub")

POOL_SIZE = 32
"""Idle data connections a connector keeps open to the hub."""
DIAL_TIMEOUT = 4.5
"""Seconds a visitor waits for a data connection before getting a 503: within the five
seconds in which every visitor gets an answer or a clear error (DESIGN.md)."""
PROBE_AFTER = 1.0
"""Seconds a visitor waits on a connector before the hub checks that it is still there."""
PROBE_TIMEOUT = 2.0
"""Seconds a connector has to answer the hub's ping before its session is ended. A live
connector answers in milliseconds (its WebSocket library answers pings by itself); this much
leaves room for a busy machine."""
MAX_POOL = 256
"""The most idle data connections the hub keeps for one session; further offers are closed, so
a connector that ignores ``poolSize`` cannot make the hub hold sockets without bound."""

SendControl = Callable[[ControlMessage], None]
Ping = Callable[[], Awaitable[None]]
"""Sends a WebSocket ping on the control channel; returns when its pong arrives."""
ProbeResult = Callable[[bool], None]
"""Told whether the connector answered a probe."""


class _IdleData(asyncio.Protocol):
    """Protocol of a pooled data connection: nothing may arrive while it is idle."""

    def __init__(self, session: AgentSession, transport: asyncio.Transport) -> None:
        self.session = session
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        log.warning("agent sent %d bytes on an idle data connection; closing it", len(data))
        self.transport.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.forget(self.transport)


class AgentSession:
    """One attached connector: its control channel, idle data connections and streams."""

    def __init__(
        self,
        lease_id: str,
        owner_id: str,
        token_hash: str,
        send: SendControl,
        disconnect: Callable[[], None],
        ping: Ping | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.disconnect = disconnect
        self.ping = ping
        self.lost: str | None = None
        """Why the hub ended this session itself (its connector did not answer a probe)."""
        self._probe: asyncio.Task[None] | None = None
        self._probe_results: list[ProbeResult] = []
        self.lease_id = lease_id
        self.owner_id = owner_id
        self.token_hash = token_hash
        self.send = send
        self.closed = False
        self._idle: collections.deque[asyncio.Transport] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[asyncio.Transport]] = collections.deque()
        self._streams: dict[str, set[asyncio.Transport]] = collections.defaultdict(set)
        self.tunnel_ids: set[str] = set()

    @property
    def idle_count(self) -> int:
        """How many data connections wait in the pool."""
        return len(self._idle)

    def offer(self, transport: asyncio.Transport) -> None:
        """Take a freshly upgraded data connection into the pool (or give it to a waiter)."""
        if self.closed or len(self._idle) >= MAX_POOL:
            transport.close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(transport)
                return
        transport.set_protocol(_IdleData(self, transport))
        self._idle.append(transport)

    def forget(self, transport: asyncio.Transport) -> None:
        """Drop a pooled connection that closed."""
        with contextlib.suppress(ValueError):
            self._idle.remove(transport)

    async def acquire(self, timeout: float = DIAL_TIMEOUT) -> asyncio.Transport:
        """Take a data connection from the pool, asking the connector for more if it is empty."""
        transport = self.take_idle()
        if transport is not None:
            return transport
        if self.closed:
            raise _unavailable("its connector has disconnected")
        waiter: asyncio.Future[asyncio.Transport] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self.send(Dial(count=max(POOL_SIZE, len(self._waiters))))
        try:
            done, _ = await asyncio.wait((waiter,), timeout=min(PROBE_AFTER, timeout))
            if not done:  # slow to dial: is the connector still there? (if not, close fails us)
                self.probe()
                return await asyncio.wait_for(waiter, max(0.0, timeout - PROBE_AFTER))
            return waiter.result()
        except asyncio.TimeoutError:
            self._reclaim(waiter)
            why = f"its connector opened no data connection within {timeout:g} s"
            raise _unavailable(why) from None
        except BaseException:
            self._reclaim(waiter)
            raise

    def probe(self, result: ProbeResult | None = None) -> None:
        """Check that the connector still answers (a ping within :data:`PROBE_TIMEOUT`); tell
        ``result``. A probe already under way serves this caller too. No answer ends the
        session (:meth:`close`), after telling every caller."""
        if self.closed:
            if result is not None:
                result(False)
            return
        if result is not None:
            self._probe_results.append(result)
        if self._probe is None and self.ping is not None:
            self._probe = asyncio.get_running_loop().create_task(self._run_probe(self.ping))
        elif self.ping is None and result is not None:  # nothing to ask with: assume alive
            self._probe_results.remove(result)
            result(True)

    async def _run_probe(self, ping: Ping) -> None:
        try:
            await asyncio.wait_for(ping(), PROBE_TIMEOUT)
            alive = True
        except asyncio.TimeoutError:
            alive = False
        except Exception:  # the channel closed meanwhile
            alive = False
        self._probe = None
        results, self._probe_results = self._probe_results, []
        if not alive and not self.closed:
            self.lost = f"its connector did not answer a ping within {PROBE_TIMEOUT:g} s"
            log.warning("lease %s: %s; ending its session", self.lease_id, self.lost)
        for told in results:
            told(alive)
        if not alive:
            self.close()

    def _reclaim(self, waiter: asyncio.Future[asyncio.Transport]) -> None:
        """A connection handed to a waiter that gave up (cancelled, timed out at the same
        moment) goes back to the pool instead of being dropped unclosed."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            self.offer(waiter.result())

    def take_idle(self) -> asyncio.Transport | None:
        """An idle data connection if one is ready now (no waiting, no dial)."""
        while self._idle:
            transport = self._idle.popleft()
            if not transport.is_closing():
                return transport
        return None

    @staticmethod
    def stream_header(route: Route, protocol: str) -> bytes:
        """The ``StreamOpen`` line announcing a stream for ``route``."""
        kind: Literal["tcp", "udp"] = "udp" if protocol == "udp" else "tcp"
        return encode_line(StreamOpen(uuid.uuid4().hex, route.tunnel_id, kind))

    def open_stream(self, transport: asyncio.Transport, route: Route, protocol: str) -> None:
        """Announce a stream for ``route`` on a data connection."""
        transport.write(self.stream_header(route, protocol))

    def track(self, tunnel_id: str, *transports: asyncio.Transport) -> Callable[[], None]:
        """Remember a stream's transports so closing the tunnel closes them; returns the undo."""
        streams = self._streams[tunnel_id]
        streams.update(transports)

        def untrack() -> None:
            streams.difference_update(transports)

        return untrack

    def announce(self, routes: dict[str, Route]) -> tuple[TunnelSpec, ...]:
        """Send the connector the whole set of tunnels it serves now; return that set."""
        specs = specs_for(self.lease_id, routes)
        self.tunnel_ids = {spec.id for spec in specs}
        self.send(TunnelsChanged(tunnels=specs))
        return specs

    def close_streams(self, tunnel_id: str) -> None:
        """Abort every stream of a tunnel (it was closed)."""
        for transport in self._streams.pop(tunnel_id, set()):
            transport.abort()

    def close(self) -> None:
        """End the session: close the control channel and pooled connections, fail waiters,
        abort streams."""
        if not self.closed:
            self.disconnect()
        self.closed = True
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None
        results, self._probe_results = self._probe_results, []
        for told in results:
            told(False)
        while self._idle:
            self._idle.popleft().close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(_unavailable(self.lost or "its connector has disconnected"))
        for tunnel_id in list(self._streams):
            self.close_streams(tunnel_id)


def _unavailable(why: str) -> HubError:
    return HubError(ErrorCode.AGENT_UNAVAILABLE, f"the tunnel is unreachable: {why}")


class AgentRegistry:
    """Sessions by lease id, and the hooks that tell the store when agents come and go."""

    def __init__(self, set_connected: Callable[[str, bool], Awaitable[None]]) -> None:
        self.sessions: dict[str, AgentSession] = {}
        self._set_connected = set_connected
        self._lost: dict[str, str] = {}
        """Why the last session of a lease was ended by the hub, until the lease attaches
        again (told to its visitors meanwhile)."""

    async def attach(
        self,
        lease_id: str,
        owner_id: str,
        token: str,
        send: SendControl,
        disconnect: Callable[[], None],
        ping: Ping | None = None,
    ) -> AgentSession:
        """Register a new session for the lease, evicting the previous one. ``ping`` is how
        the session probes its connector (:meth:`AgentSession.probe`)."""
        old = self.sessions.pop(lease_id, None)
        if old is not None:
            log.info("lease %s reattached: closing its previous session", lease_id)
            old.close()
        self._lost.pop(lease_id, None)
        session = AgentSession(lease_id, owner_id, hash_token(token), send, disconnect, ping)
        self.sessions[lease_id] = session
        await self._set_connected(lease_id, True)
        return session

    async def detach(self, session: AgentSession) -> None:
        """Forget a session whose control channel closed (unless it was already replaced)."""
        session.close()
        if self.sessions.get(session.lease_id) is session:
            del self.sessions[session.lease_id]
            if session.lost:
                self._lost[session.lease_id] = session.lost
            await self._set_connected(session.lease_id, False)

    def session_for(self, route: Route) -> AgentSession:
        """The session serving a tunnel, or a 503 saying why there is none."""
        session = self.sessions.get(route.lease_id) if route.lease_id else None
        if session is None or session.closed:
            lost = session.lost if session is not None else self._lost.get(route.lease_id or "")
            why = f"no connector is attached to tunnel {route.slug!r}"
            raise _unavailable(f"{why} ({lost})" if lost else why)
        return session

    def for_data_connection(self, session_id: str, token: str) -> AgentSession | None:
        """The live session a data connection belongs to, if its agent token matches."""
        token_hash = hash_token(token)
        for session in self.sessions.values():
            if session.id == session_id and not session.closed:
                return session if hmac.compare_digest(session.token_hash, token_hash) else None
        return None

    def routes_changed(self, changes: dict[str, Route | None], routes: dict[str, Route]) -> None:
        """Close streams of tunnels that stopped; tell each affected session its new tunnels."""
        for tunnel_id, route in changes.items():
            if route is None or route.status is TunnelStatus.STOPPING:
                for session in self.sessions.values():
                    session.close_streams(tunnel_id)
        for session in self.sessions.values():
            if any(
                tunnel_id in session.tunnel_ids
                or (route is not None and route.lease_id == session.lease_id)
                for tunnel_id, route in changes.items()
            ):
                session.announce(routes)

    async def close(self) -> None:
        """Close every session (hub shutdown)."""
        for session in list(self.sessions.values()):
            await self.detach(session)


def specs_for(lease_id: str, routes: dict[str, Route]) -> tuple[TunnelSpec, ...]:
    """The tunnel specs a lease's connector serves."""
    return tuple(
        TunnelSpec(
            id=route.tunnel_id,
            slug=route.slug,
            protocol=route.protocol,
            host=route.target_host,
            port=route.target_port,
            status=route.status.value,
        )
        for route in routes.values()
        if route.lease_id == lease_id
    )
