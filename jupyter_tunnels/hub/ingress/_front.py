"""The standalone hub's front door: one port for the API, the connectors and the visitors.

Every request head on every connection is parsed and judged on its own (route, access,
pause), even on kept-alive and pipelined connections; bodies are only counted and handed on.
A request goes to one of three places:

* a tunnel (``{slug}.{domain}`` or ``/t/{slug}/...``): over a data connection from the
  tunnel's connector, with ``X-Forwarded-*`` added and the hub's credentials removed;
* a connector's data-connection upgrade (``/v1/agent/data``): the connection joins the
  agent's pool;
* anything else (the ``/v1`` API, the control WebSocket): the tornado application, reached
  over an internal Unix socket.

Each visitor connection has at most one upstream at a time; when a request needs another
upstream, the front waits until the current one has answered every earlier request, so
responses always come back in order. A ``101 Switching Protocols`` answer (WebSocket) turns
the connection into a raw two-way relay (``_splice.py``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from ..._core.errors import HTTP_STATUS, ErrorCode
from ..._wire.http1 import (
    BodyScanner,
    HeadError,
    RequestHead,
    find_head_end,
    parse_request_head,
)
from ..._wire.protocol import DATA_PATH
from ..._wire.splice import WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW, splice
from .._exceptions import HubError
from ..services._agents import AgentSession
from ..services._routing import Route
from ..services._traffic import CLIENT_CLOSED, Exchange
from ._fields import rewrite_for_api, rewrite_for_tunnel
from ._gates import Gates
from ._pages import error_response, wants_html
from ._shares import share_decision
from ._upstream import Pending, Upstream

if TYPE_CHECKING:
    from .._app import Hub

__all__ = ["FrontProtocol"]

log = logging.getLogger("jupyter_tunnels.hub")

LINGER_SECONDS = 5.0
"""How long a connection the hub answered by itself drains the visitor's leftovers."""

_HEAD_ERROR_CODES = {
    400: ErrorCode.INVALID_INPUT,
    431: ErrorCode.REQUEST_HEAD_TOO_LARGE,
    502: ErrorCode.LOCAL_UNAVAILABLE,
    505: ErrorCode.UNSUPPORTED_HTTP_VERSION,
}


class FrontProtocol(Gates, asyncio.Protocol):
    """One visitor (or connector, or API client) connection to the standalone hub."""

    def __init__(
        self, hub: Hub, register: Callable[[asyncio.Transport], None] | None = None
    ) -> None:
        self.hub = hub
        self._register = register
        self.transport: asyncio.Transport | None = None
        self.client = "unknown"
        self.buffer = bytearray()
        self.body: BodyScanner | None = None
        self.upstream: Upstream | None = None
        self.pending: collections.deque[Pending] = collections.deque()
        self.paused: set[str] = set()
        self.waiting: asyncio.Task[None] | None = None
        self.closing = False
        self.raw = False
        self.eof = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.close_after = False
        """The visitor asked to close after the current response."""
        self.head_bytes = 0
        """The size of the request head being judged, as the visitor sent it."""
        self.request: Exchange | None = None
        """The tunnel request being judged (recorded when refused, else it joins ``pending``)."""
        self.draining = False
        """A hub-made answer was sent: what the visitor still sends is dropped (``_linger``)."""
        self._linger_timer: asyncio.TimerHandle | None = None
        self.visitor_head: RequestHead | None = None
        """The last tunnel request's head: its ``Accept`` decides JSON or HTML error pages."""

    # connection ------------------------------------------------------------------------

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence a cast, not a check
        self.transport = transport = cast(asyncio.Transport, base)
        if self._register is not None:
            self._register(transport)
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_LOW)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.client = str(peer[0])

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        self._finish_pending(CLIENT_CLOSED)
        if self.request is not None:
            self.request.finish(CLIENT_CLOSED)
        if self.waiting is not None:
            self.waiting.cancel()
        if self.upstream is not None and not self.raw:
            self._release_upstream()

    def eof_received(self) -> bool:
        self.eof = True
        if self.draining:
            return False  # the answer was sent: close now
        idle = not self.pending and self.body is None and self.waiting is None
        if idle:
            self._release_upstream()
            return False
        if self.upstream is not None and self.upstream.transport.can_write_eof():
            self.upstream.reusable = False  # half-closed: it can serve nobody after this
            self.upstream.transport.write_eof()
        return True

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and not self.upstream.closed:
            self.upstream.transport.resume_reading()

    def pause(self, reason: str) -> None:
        """Stop reading from the visitor for ``reason`` (several may hold at once)."""
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused.add(reason)

    def resume(self, reason: str) -> None:
        """Lift one reason to stop reading; read again when none is left."""
        self.paused.discard(reason)
        if not self.paused and self.transport is not None and not self.closing:
            self.transport.resume_reading()
            if self.buffer and self.waiting is None:
                self._process()

    def send(self, data: bytes) -> None:
        """Write to the visitor."""
        if self.transport is not None and data:
            self.transport.write(data)

    # requests --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.draining:
            return
        if self.body is not None and not self.buffer and self.upstream is not None:
            try:
                used = self.body.feed(data)
            except HeadError as exc:
                self._bad_request(exc)
                return
            self.upstream.transport.write(data if used == len(data) else data[:used])
            if self.pending:
                self.pending[-1].bytes_in += used
            if not self.body.done:
                return
            self.body = None
            data = data[used:]
            if not data:
                return
        self.buffer += data
        if self.waiting is None and not self.paused:
            self._process()

    def _process(self) -> None:
        try:
            while self.buffer and self.waiting is None and not self.closing:
                if self.body is not None:
                    assert self.upstream is not None
                    chunk = bytes(self.buffer)
                    used = self.body.feed(chunk)
                    self.upstream.transport.write(chunk[:used])
                    if self.pending:
                        self.pending[-1].bytes_in += used
                    del self.buffer[:used]
                    if self.body.done:
                        self.body = None
                    continue
                end = find_head_end(self.buffer)
                if end < 0:
                    return
                head = parse_request_head(bytes(self.buffer[:end]))
                del self.buffer[:end]
                self.head_bytes = end
                self._request(head)
        except HeadError as exc:
            self._bad_request(exc)

    def _bad_request(self, exc: HeadError) -> None:
        """Answer a malformed request head or body with 400 and close the connection.

        A request whose body cannot be delimited will never get its response, so whatever
        was in flight upstream is dropped rather than waited for.
        """
        if self.body is not None and self.upstream is not None:
            self.upstream.close()
            self.upstream = None
            self._finish_pending(400)
            self.pending.clear()
        code = _HEAD_ERROR_CODES.get(exc.status, ErrorCode.INVALID_INPUT)
        self._local_answer(error_response(exc.status, code.value, exc.message))

    def _request(self, head: RequestHead) -> None:
        if head.method == b"CONNECT":
            self._connect(head)
            return
        target = self.hub.router.tunnel_for_request(head.host, head.target)
        if target is None:
            if head.target.split(b"?", 1)[0] == DATA_PATH.encode() and head.upgrade:
                try:
                    self._data_connection(head)
                except HubError as exc:
                    self._fail(exc.status, exc.code, exc.message)
            else:
                rewrite_for_api(head, self.client)
                self._forward(head, "api", None)
            return
        self.visitor_head = head
        if target.route is None:
            reason = self.hub.router.offline.get(target.slug)
            if reason is not None:
                message = f"tunnel {target.slug!r} is offline ({reason}); it may come back"
                self._fail(503, ErrorCode.AGENT_UNAVAILABLE, message)
                return
            self._fail(404, ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel is open at {target.slug!r}")
            return
        if not target.path.startswith(b"/"):
            location = self.hub.router.redirect_location(head.target)
            self._local_answer(
                b"HTTP/1.1 308 Permanent Redirect\r\nLocation: "
                + location
                + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            return
        route = target.route
        traffic = self.hub.traffic.for_tunnel(route.tunnel_id, route.slug, route.owner_id)
        self.request = Exchange(head.method, traffic, target.path, self.client, self.head_bytes)
        shared = share_decision(self.hub, head, route, target.path, target.prefix)
        if shared is not None:
            if shared.redirect is not None:
                self._local_answer(shared.redirect)
            elif shared.refusal is not None:
                self._refuse(shared.refusal)
            else:
                self._tunnel_request(head, route, shared.path, target.prefix)
            return
        decided = self._access(route, head)
        if decided is None:
            self._wait(self._check_then_forward(head, route, target.path, target.prefix))
            return
        if decided:
            self._tunnel_request(head, route, target.path, target.prefix)

    def _tunnel_request(self, head: RequestHead, route: Route, path: bytes, prefix: bytes) -> None:
        if not route.accepting:
            self._fail(
                503, ErrorCode.AGENT_UNAVAILABLE, f"tunnel {route.slug!r} is {route.status.value}"
            )
            return
        self.close_after = rewrite_for_tunnel(head, route, path, prefix, self.client, self.hub)
        self._forward(head, route.tunnel_id, route)

    def _forward(self, head: RequestHead, key: str, route: Route | None) -> None:
        """Send a request to the upstream ``key`` (``api`` or a tunnel id), opening it if needed."""
        upstream = self.upstream
        if upstream is not None and upstream.key == key and not upstream.closed:
            self._write_request(head)
            return
        if route is not None and not self.pending and upstream is None:
            pooled = self.hub.upstreams.take(route.tunnel_id, self)
            if pooled is not None:  # a kept-alive connection to the app: no dial at all
                self.upstream = pooled
                self._write_request(head)
                return
            try:
                session = self.hub.agents.session_for(route)
            except HubError as exc:
                self._fail(exc.status, exc.code, exc.message)
                return
            transport = session.take_idle()
            if transport is not None:  # the usual case: a pooled connection is ready
                self._attach_stream(session, transport, route)
                self._write_request(head, session.stream_header(route, "tcp"))
                return
        self._wait(self._switch_upstream(head, key, route))

    def _attach_stream(
        self, session: AgentSession, transport: asyncio.Transport, route: Route
    ) -> None:
        self.upstream = Upstream(self, transport, route.tunnel_id, ready_line=True)
        self.upstream.untrack = session.track(route.tunnel_id, transport)

    def _write_request(self, head: RequestHead, prefix: bytes = b"") -> None:
        assert self.upstream is not None
        if head.upgrade or self.upstream.key == "api":
            self.upstream.reusable = False
        request, self.request = self.request, None
        self.pending.append(request if request is not None else Pending(head.method))
        self.upstream.transport.write(prefix + head.serialize())
        scanner = head.body_scanner()
        self.body = None if scanner.done else scanner
        if head.upgrade:
            self.pause("upgrade")

    async def _switch_upstream(self, head: RequestHead, key: str, route: Route | None) -> None:
        await self._drained()
        self._release_upstream()
        if route is not None:
            pooled = self.hub.upstreams.take(route.tunnel_id, self)
            if pooled is not None:
                self.upstream = pooled
                self._write_request(head)
                return
        if route is None:
            transport = await self.hub.internal_connection()
            self.upstream = Upstream(self, transport, key, ready_line=False)
        else:
            session = self.hub.agents.session_for(route)
            transport = await session.acquire()
            self._attach_stream(session, transport, route)
            self._write_request(head, session.stream_header(route, "tcp"))
            return
        self._write_request(head)

    async def _drained(self) -> None:
        """Wait until every forwarded request has had its whole response."""
        while self.pending and self.upstream is not None and not self.upstream.closed:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def response_done(self, upstream: Upstream, closes: bool) -> None:
        """An upstream finished a response."""
        if self.pending:
            self.pending.popleft().finish()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done() and not self.pending:
            waiter.set_result(None)
        if self.transport is None:
            return
        if closes:
            self.closing = True
            self.transport.close()
        elif self.close_after and not self.pending and self.body is None:
            self.closing = True
            self._release_upstream()
            self.transport.close()

    def _release_upstream(self) -> None:
        """Give the upstream back to the pool if it can serve another visitor, else close it."""
        upstream, self.upstream = self.upstream, None
        if upstream is None:
            return
        if self.pending or self.body is not None:
            upstream.close()
            return
        self.hub.upstreams.put(upstream)

    def upstream_ended(self, upstream: Upstream, exc: Exception | None) -> None:
        """The upstream closed; answer or close what depended on it."""
        if upstream is not self.upstream:
            return
        self.upstream = None
        upstream.closed = True
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self.pending and self.transport is not None:
            self._finish_pending(502)
            if upstream.sent_any or upstream.scanner is not None:
                self.transport.abort()
            else:
                self.pending.clear()
                self._fail(
                    502,
                    ErrorCode.LOCAL_UNAVAILABLE,
                    "the local service closed the connection without answering",
                )
        elif self.eof and self.transport is not None:
            self.transport.close()

    def fail_upstream(self, upstream: Upstream, status: int, code: ErrorCode, message: str) -> None:
        """The upstream cannot answer (connector refused the stream, bad response)."""
        if upstream.sent_any:
            if self.transport is not None:
                self.transport.abort()
            return
        upstream.close()
        self.upstream = None
        self._finish_pending(status)
        self.pending.clear()
        self._fail(status, code, message)

    def switch_to_raw(self, upstream: Upstream, leftover: bytes) -> None:
        """After ``101 Switching Protocols``: relay raw bytes both ways from now on."""
        assert self.transport is not None
        self.raw = True
        traffic = self.pending[0].traffic if self.pending else None
        self._finish_pending(CLIENT_CLOSED)
        self.pending.clear()
        to_upstream = bytes(self.buffer)
        self.buffer.clear()
        self.paused.clear()
        done = splice(self.transport, upstream.transport, to_a=leftover, to_b=to_upstream)
        if traffic is not None:
            traffic.upgraded()
            done.add_done_callback(lambda _: traffic.stream_closed())

    def _finish_pending(self, status: int) -> None:
        """Record the requests in flight that will get no (more) answer from upstream."""
        for request in self.pending:
            request.finish(status)

    # local answers ---------------------------------------------------------------------

    def _fail(self, status: int, code: ErrorCode, message: str, extra: bytes = b"") -> None:
        self._local_answer(
            error_response(status, code.value, message, extra, html_page=self._html())
        )

    def _html(self) -> bool:
        """Whether the visitor of the tunnel request at hand is a browser wanting HTML."""
        head = self.visitor_head
        return head is not None and wants_html(head.get(b"accept"))

    def _local_answer(self, response: bytes) -> None:
        """Answer from the hub itself (after earlier responses), then close."""
        self.buffer.clear()
        self.body = None
        request, self.request = self.request, None
        if request is not None:  # a tunnel request the hub refused or could not forward
            request.bytes_out = len(response)
            request.finish(int(response[9:12]))

        async def answer() -> None:
            await self._drained()
            self.send(response)
            self.closing = True
            self._linger()

        self._wait(answer())

    def _linger(self) -> None:
        """Close after a hub-made answer without a reset: half-close, then read and drop what
        the visitor still sends (pipelined requests, an unread body) until it closes, for at
        most :data:`LINGER_SECONDS`. Closing with unread bytes would make the kernel reset the
        connection, and a client could lose the answer."""
        transport = self.transport
        if transport is None:
            return
        if self.eof or not transport.can_write_eof():
            transport.close()
            return
        self._release_upstream()
        self.draining = True
        transport.write_eof()
        self.paused.clear()
        transport.resume_reading()
        self._linger_timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)

    def _wait(self, work: Any) -> None:
        """Run async work for the current request; reading pauses until it is done."""
        self.pause("wait")
        self.waiting = asyncio.get_running_loop().create_task(work)
        self.waiting.add_done_callback(self._waited)

    def _waited(self, task: asyncio.Task[None]) -> None:
        if task is not self.waiting:
            return  # superseded by a local answer started from inside the task
        self.waiting = None
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, HubError):
            self._fail(HTTP_STATUS[exc.code], exc.code, exc.message)
            return
        if exc is not None:
            log.error("ingress request failed", exc_info=exc)
            self._fail(500, ErrorCode.INTERNAL_ERROR, "the hub failed: see its log")
            return
        if self.eof and not self.pending and self.transport is not None:
            self.transport.close()
            return
        self.resume("wait")
