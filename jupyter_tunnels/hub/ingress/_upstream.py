"""The upstream side of the ingress: responses from a tunnel (or the API), and a keep-alive
pool of idle upstream connections shared by visitors.

An :class:`Upstream` is one connection towards a tunnel's local app (a data connection
spliced by the connector to a local connection) or towards the hub's own API. It finds
response boundaries without copying bodies and hands the bytes to the visitor connection it
currently serves (its :class:`Downstream`). Bodies pass untouched; a response head passes as
it came unless it has fields that would send the visitor out of the tunnel (rewritten by
``_response_rewrite.py``, the same for both hostings) or the visitor asked to close.

When a visitor leaves while its upstream is idle and reusable, the upstream goes to the
:class:`UpstreamPool` and serves the next visitor of the same tunnel, as a reverse proxy keeps
its upstream connections alive: a new visitor connection then costs the hub one accepted
socket and nothing more, and the connector no dial at all.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Iterable
from typing import Protocol

from ..._core.errors import ErrorCode
from ..._wire.http1 import MAX_HEAD_BYTES, BodyScanner, HeadError, parse_response_head
from ..._wire.protocol import MAX_LINE, READY_LINE, StreamReady, decode_line
from ..._wire.splice import WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW, read_large_chunks
from ..services._agents import PROBE_AFTER, ProbeResult
from ..services._routing import Destination, Route
from ..services._traffic import Exchange, TunnelTraffic
from ._response_rewrite import ResponseRewrite, rewrite_response_head

__all__ = [
    "POOL_IDLE_SECONDS",
    "POOL_PER_TUNNEL",
    "PROBE_EVERY",
    "Downstream",
    "Pending",
    "Upstream",
    "UpstreamPool",
]

POOL_PER_TUNNEL = 32
"""Idle upstream connections kept per tunnel."""
POOL_IDLE_SECONDS = 30.0
"""An idle pooled upstream is closed after this long."""
PROBE_EVERY = 4.0
"""While an answer keeps the visitor waiting behind a live connector (a slow app, a long
poll), its connector is asked again this often."""


class Pending(Exchange):
    """A request forwarded upstream whose response has not ended yet."""

    __slots__ = ("rewrite",)

    def __init__(
        self,
        method: bytes,
        traffic: TunnelTraffic | None = None,
        path: bytes = b"",
        client: str = "",
        bytes_in: int = 0,
        rewrite: ResponseRewrite | None = None,
    ) -> None:
        super().__init__(method, traffic, path, client, bytes_in)
        self.rewrite = rewrite
        """How its response head is rewritten (None for the hub's own API)."""


class Downstream(Protocol):
    """What an upstream needs from the visitor connection it serves."""

    pending: collections.deque[Pending]

    @property
    def close_after(self) -> bool:
        """Whether the answer in flight is the visitor connection's last."""

    def send(self, data: bytes) -> None: ...
    def pause(self, reason: str) -> None: ...
    def resume(self, reason: str) -> None: ...
    def response_done(self, upstream: Upstream, closes: bool) -> None: ...
    def upstream_ended(self, upstream: Upstream, exc: Exception | None) -> None: ...
    def fail_upstream(
        self, upstream: Upstream, status: int, code: ErrorCode, message: str
    ) -> None: ...
    def switch_to_raw(self, upstream: Upstream, leftover: bytes) -> None: ...


class Upstream(asyncio.Protocol):
    """One upstream connection: parses responses and hands their bytes to the visitor."""

    def __init__(
        self,
        front: Downstream,
        transport: asyncio.Transport,
        key: str,
        ready_line: bool,
        destination: Destination | None = None,
        probe: Callable[[ProbeResult], None] | None = None,
    ) -> None:
        self.front: Downstream | None = front
        self.transport = transport
        self.key = key
        """``api``, or the id of the tunnel this connection reaches."""
        self.destination = destination
        """The route's :attr:`~Route.destination` when this connection was opened."""
        self.probe = probe
        """Asks the connector behind this connection whether it still answers."""
        self.watch: asyncio.TimerHandle | None = None
        """Set while requests wait for answers through a connector."""
        self.heard = False
        """Whether bytes came from upstream since the last look."""
        self.ready_line = ready_line
        self.buffer = bytearray()
        self.scanner: BodyScanner | None = None
        self.response: Pending | None = None
        """The request whose response is being read (its status and bytes are filled in)."""
        self.closed = False
        self.sent_any = False
        """Whether bytes of the response in progress went to the visitor (a failure then can
        only cut the connection; before, the visitor can still get an error answer)."""
        self.closes_after = False
        self.reusable = key != "api"
        """False once anything makes the connection unfit for another visitor."""
        self.untrack: Callable[[], None] | None = None
        self.pool: UpstreamPool | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_LOW)
        read_large_chunks(transport)
        transport.set_protocol(self)
        transport.resume_reading()  # a direct connection arrives paused

    def serves(self, route: Route) -> bool:
        """Whether a request for ``route`` may use this connection: same tunnel, same lease
        and target as when it was opened (a rotated tunnel gets new connections)."""
        return (
            not self.closed
            and self.key == route.tunnel_id
            and self.destination == route.destination
        )

    def request_sent(self) -> None:
        """A request went out: while answers are awaited, look once per :data:`PROBE_AFTER`
        whether anything came back, and if nothing did, ask the connector whether it is still
        there (a silent one must not leave the visitor hanging). One timer per second at most,
        however many requests."""
        if self.probe is not None and self.watch is None:
            self.heard = False
            self.watch = asyncio.get_running_loop().call_later(PROBE_AFTER, self._look)

    def _look(self) -> None:
        self.watch = None
        front = self.front
        if self.probe is None or self.closed or front is None or not front.pending:
            return
        if self.heard:  # answers are coming: look again in a while
            self.heard = False
            self.watch = asyncio.get_running_loop().call_later(PROBE_AFTER, self._look)
            return
        self.probe(self._probed)

    def _probed(self, alive: bool) -> None:
        front = self.front
        if self.closed or front is None:
            return
        if alive:  # a slow app behind a live connector: look again later while it is silent
            if self.watch is None and front.pending:
                self.watch = asyncio.get_running_loop().call_later(PROBE_EVERY, self._look)
            return
        self.reusable = False
        message = "the tunnel's connector stopped answering: it may be offline or frozen"
        front.fail_upstream(self, 503, ErrorCode.AGENT_UNAVAILABLE, message)

    @property
    def idle(self) -> bool:
        """Between responses, with nothing half-read."""
        return not self.closed and self.scanner is None and not self.buffer

    # bytes from upstream ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.heard = True
        if self.front is None:  # pooled: an idle server has nothing to say
            self.close()
            return
        if self.buffer:
            self.buffer += data
            data = bytes(self.buffer)
            self.buffer.clear()
        try:
            self._consume(self.front, data)
        except HeadError as exc:
            self.reusable = False
            self.front.fail_upstream(self, exc.status, ErrorCode.LOCAL_UNAVAILABLE, exc.message)

    def _consume(self, front: Downstream, data: bytes) -> None:
        """Find response boundaries in ``data`` and pass it on in one write.

        Responses are forwarded byte for byte, so everything up to the last boundary found
        goes to the visitor in a single write; completions are reported after that write.
        """
        position = 0
        end = len(data)
        if self.ready_line:
            if data.startswith(READY_LINE):
                position = len(READY_LINE)
            else:
                newline = data.find(b"\n")
                if newline < 0:
                    if end > MAX_LINE:
                        raise HeadError(502, "the connector sent an over-long stream header")
                    self.buffer += data
                    return
                ready = decode_line(data[:newline], StreamReady)
                if not ready.ok:
                    self.reusable = False
                    front.fail_upstream(self, 502, ErrorCode.LOCAL_UNAVAILABLE, ready.message)
                    return
                position = newline + 1
            self.ready_line = False
        start = position
        completed = 0
        closes = False
        while position < end:
            scanner = self.scanner
            if scanner is not None:
                used = scanner.feed(data, position)
                position += used
                if self.response is not None:
                    self.response.bytes_out += used
                if scanner.done:
                    self.scanner = None
                    self.sent_any = False
                    completed += 1
                    closes = closes or self.closes_after
                continue
            head_end = data.find(b"\r\n\r\n", position)
            if head_end < 0:
                if end - position > MAX_HEAD_BYTES:
                    raise HeadError(502, "the local service sent an over-long response head")
                self.buffer += data[position:]
                break
            head_end += 4
            head_start = position
            raw_head = data[head_start:head_end]
            head = parse_response_head(raw_head)
            position = head_end
            self.sent_any = True
            if head.status == 101:
                self.reusable = False
                if front.pending:
                    front.pending[0].status = 101
                    front.pending[0].bytes_out = head_end - head_start
                front.send(data[start:position])
                if self.watch is not None:  # raw from now on: nothing more to watch for
                    self.watch.cancel()
                    self.watch = None
                front.switch_to_raw(self, data[position:])
                return
            if head.informational:
                continue
            index = completed if completed < len(front.pending) else -1
            response = self.response = front.pending[index] if front.pending else None
            method = response.method if response is not None else b"GET"
            head_size = head_end - head_start
            sent_head = raw_head
            if response is not None and response.rewrite is not None:
                sent_head = rewrite_response_head(raw_head, response.rewrite)
            if front.close_after and completed + 1 >= len(front.pending):
                # the visitor asked to close after this response: say so in it (the app,
                # which keeps its connection for the next visitor, said keep-alive)
                sent_head = _closing_head(sent_head)
            if sent_head is not raw_head:
                front.send(data[start:head_start] + sent_head)
                start = head_end
                head_size = len(sent_head)
            if response is not None:
                response.status = head.status
                response.bytes_out = head_size
            self.scanner = head.body_scanner(method)
            self.closes_after = head.closes
            if head.closes or self.scanner.until_close:
                self.reusable = False
            if self.scanner.done:
                self.scanner = None
                self.sent_any = False
                completed += 1
                closes = closes or head.closes
        if position > start:
            front.send(data[start:position] if start or position < end else data)
        if completed:
            front.resume("upgrade")
            for done in range(completed, 0, -1):
                front.response_done(self, closes and done == 1)

    def eof_received(self) -> bool:
        self.reusable = False
        front = self.front
        if front is None:
            self.close()
            return False
        if self.scanner is not None and self.scanner.until_close:
            self.scanner = None
            front.response_done(self, True)
        front.upstream_ended(self, None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        front = self.front
        if not self.closed and front is not None:
            front.upstream_ended(self, exc)
        self.closed = True
        self.reusable = False
        if self.pool is not None:
            self.pool.forget(self)
        if self.untrack is not None:
            self.untrack()

    # backpressure ----------------------------------------------------------------------

    def pause_writing(self) -> None:
        if self.front is not None:
            self.front.pause("upstream")

    def resume_writing(self) -> None:
        if self.front is not None:
            self.front.resume("upstream")

    def close(self) -> None:
        """Close the upstream connection."""
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None
        self.closed = True
        self.reusable = False
        self.transport.close()


def _closing_head(head: bytes) -> bytes:
    """A response head with ``Connection: close`` in place of any persistence headers."""
    lines = head[:-4].split(b"\r\n")
    kept = [
        line
        for line in lines[1:]
        if line.split(b":", 1)[0].strip().lower() not in (b"connection", b"keep-alive")
    ]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


class UpstreamPool:
    """Idle upstream connections by tunnel, handed to the next visitor of that tunnel."""

    def __init__(self) -> None:
        self._idle: dict[str, collections.deque[Upstream]] = {}

    def put(self, upstream: Upstream) -> bool:
        """Keep an idle, reusable upstream for later; False (and closed) when it cannot be."""
        if not (upstream.reusable and upstream.idle):
            upstream.close()
            return False
        idle = self._idle.setdefault(upstream.key, collections.deque())
        if len(idle) >= POOL_PER_TUNNEL:
            idle.popleft().close()
        upstream.front = None
        upstream.pool = self
        upstream.transport.resume_reading()
        upstream.idle_timer = asyncio.get_running_loop().call_later(
            POOL_IDLE_SECONDS, upstream.close
        )
        idle.append(upstream)
        return True

    def take(self, route: Route, front: Downstream) -> Upstream | None:
        """An idle upstream to ``route`` now serving ``front``, or None."""
        idle = self._idle.get(route.tunnel_id)
        while idle:
            upstream = idle.pop()  # the most recent: the least likely to have timed out
            if not upstream.serves(route) or upstream.transport.is_closing():
                upstream.close()
                continue
            if upstream.idle_timer is not None:
                upstream.idle_timer.cancel()
                upstream.idle_timer = None
            upstream.pool = None
            upstream.front = front
            return upstream
        return None

    def forget(self, upstream: Upstream) -> None:
        """Drop a pooled upstream that closed."""
        idle = self._idle.get(upstream.key)
        if idle is not None and upstream in idle:
            idle.remove(upstream)
        if upstream.idle_timer is not None:
            upstream.idle_timer.cancel()

    def drop(self, tunnel_ids: Iterable[str]) -> None:
        """Close the pooled upstreams of these tunnels (changed: rotated, paused, closed)."""
        for tunnel_id in tunnel_ids:
            for upstream in self._idle.pop(tunnel_id, ()):
                upstream.close()

    def close(self) -> None:
        """Close every pooled upstream."""
        self.drop(list(self._idle))
