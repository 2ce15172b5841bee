"""The front: one visitor connection, every request on it judged by the policy and carried out.

Both hostings serve visitor connections with this protocol: the standalone hub on its own port,
and a Jupyter server after tornado handed it the connection (``_handover.py``). Each request
head is parsed (``_wire/http1.py``) and decided by the hosting's
:class:`~._policy.IngressPolicy`, even on kept-alive and pipelined connections; bodies are
only counted and handed on. A decision is carried out here:

* :class:`~._decisions.Forward`: the request goes to an upstream of the tunnel (a kept-alive
  one from the :class:`~._upstream.UpstreamPool`, else a stream from the hosting's dialer);
* :class:`~._decisions.Answer` / :class:`~._decisions.Redirect`: the hub answers by itself,
  after the answers to earlier requests; the connection stays usable when the request's body
  is short enough to read and drop (:data:`DRAINED_BODY`), else the hub half-closes and drops
  what the visitor still sends (:meth:`FrontProtocol._linger`), never resetting the answer;
* :class:`~._decisions.ToHub`: relayed to the hub's own application (standalone), or the
  connection goes back to the server that handed it over (Jupyter);
* :class:`~._decisions.JoinPool`, :class:`~._decisions.OpenStream`: raw streams (a
  connector's data connection, ``CONNECT``); a ``101`` from an app makes a WebSocket raw too;
* :class:`~._decisions.LogIn`: the standalone hub's login form (a few KiB) is read, its token's
  owner asked, and the answer is the policy's (``_login.py``).

Each connection has at most one upstream at a time; a request for another one waits until
the current upstream has answered every earlier request, so answers keep their order. The
connection's state, the hub's own answers and the raw streams are in ``_connection.py``.
"""

from __future__ import annotations

import asyncio
from typing import cast

from ..._core.errors import ErrorCode
from ..._wire.http1 import HeadError, RequestHead, find_head_end, parse_request_head
from ..._wire.splice import WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW, read_large_chunks, splice
from .._exceptions import HubError
from ..services._routing import Route
from ..services._traffic import CLIENT_CLOSED
from ._connection import READING, FrontConnection, Phase
from ._decisions import Answer, AskOwner, Decision, Forward, JoinPool, LogIn, Redirect, ToHub
from ._dialers import Stream
from ._engine import RelayToHub
from ._login import read_login_form
from ._response_rewrite import ResponseRewrite
from ._upstream import Pending, Upstream

__all__ = ["API_UPSTREAM", "FrontProtocol"]

API_UPSTREAM = "api"
"""The upstream key of the hub's own application."""


class FrontProtocol(FrontConnection, asyncio.Protocol):
    """One visitor (or connector, or API client) connection."""

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence a cast, not a check
        self.transport = transport = cast(asyncio.Transport, base)
        if self._register is not None:
            self._register(transport)
        self.ingress.open_connections += 1
        self._counted = True
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_LOW)
        read_large_chunks(transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and not self.peer[0]:
            self.client = str(peer[0])
            self.peer = (str(peer[0]), int(peer[1]))
        self._head_clock()
        if self._initial:
            initial, self._initial = self._initial, b""
            self.data_received(initial)

    def connection_lost(self, exc: Exception | None) -> None:
        was = self.phase
        self._move(Phase.CLOSED)
        self._left()
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        self._finish_pending(CLIENT_CLOSED)
        if self.request is not None:
            self.request.finish(CLIENT_CLOSED)
        if self.waiting is not None:
            self.waiting.cancel()
        if self.upstream is not None and was is not Phase.RAW:
            self._release_upstream()

    def eof_received(self) -> bool:
        if self.phase is Phase.LINGER:
            return False  # the answer was sent: close now
        if not self.pending and self.body is None and self.waiting is None:
            self._release_upstream()
            self._move(Phase.CLOSED)
            return False
        upstream = self.upstream
        if upstream is not None and upstream.transport.can_write_eof():
            upstream.reusable = False  # half-closed: it can serve nobody after this
            upstream.transport.write_eof()
        self._move(Phase.HALF_CLOSED)
        return True

    def data_received(self, data: bytes) -> None:
        if self.phase not in READING and self.phase is not Phase.HALF_CLOSED:
            return  # lingering (dropped), or no longer ours
        body = self.body
        if body is not None and not self.buffer:
            try:
                used = body.feed(data)
            except HeadError as exc:
                self._bad_request(exc)
                return
            self._body_bytes(data if used == len(data) else data[:used])
            if not body.done:
                return
            self._body_done()
            data = data[used:]
            if not data:
                return
        self.buffer += data
        if self.waiting is None and not self.paused:
            self._process()

    def _body_bytes(self, chunk: bytes) -> None:
        if self.body_to is not None:
            self.body_to.write(chunk)
            if self.pending:
                self.pending[-1].bytes_in += len(chunk)
        elif self.form is not None:
            self.form += chunk

    def _body_done(self) -> None:
        self.body = self.body_to = None
        if self.login is not None:
            self._login_read()

    def _process(self) -> None:
        try:
            while self.buffer and self.waiting is None and self.phase in READING:
                if self.body is not None:
                    chunk = bytes(self.buffer)
                    used = self.body.feed(chunk)
                    self._body_bytes(chunk[:used])
                    del self.buffer[:used]
                    if self.body.done:
                        self._body_done()
                    continue
                if self.phase is Phase.LAST:
                    self.buffer.clear()  # nothing after the last request is read
                    return
                end = find_head_end(self.buffer)
                if end < 0:
                    self._head_begun()
                    return
                if self._head_timer is not None or self._head_held:
                    self._head_done()
                raw = bytes(self.buffer[:end])
                head = parse_request_head(raw)
                del self.buffer[:end]
                self._request(head, raw)
        except HeadError as exc:
            self._bad_request(exc)

    def _request(self, head: RequestHead, raw: bytes) -> None:
        self.head = head
        self.head_bytes = len(raw)
        self.requests += 1
        if head.method == b"CONNECT" and self.requests > 1:
            message = "CONNECT must be the connection's first request"
            self._answer(Answer(400, ErrorCode.INVALID_INPUT, message), None)
            return
        try:
            decision = self.ingress.policy.decide(head, self.client)
        except HubError as exc:
            self._fail(exc)
            return
        self._carry_out(decision, raw)

    def _carry_out(self, decision: Decision, raw: bytes) -> None:
        if isinstance(decision, Forward):
            self._record(decision.route, decision.path, decision.rewrite)
            if self.ingress.on_request is not None:
                self.ingress.on_request()
            self._forward(decision)
        elif isinstance(decision, Answer | Redirect):
            if decision.route is not None:
                self._record(decision.route, decision.path)
            self._answer(decision, self.head)
        elif isinstance(decision, AskOwner):
            self._wait(self._ask_owner(decision, raw))
        elif isinstance(decision, LogIn):
            self._record(decision.route, decision.path)
            self.login, self.form = decision, bytearray()
            scanner = decision.head.body_scanner()
            if scanner.done:
                self._login_read()
            else:
                self.body, self.body_to = scanner, None
        elif isinstance(decision, ToHub):
            self._to_hub(decision.head, raw)
        elif isinstance(decision, JoinPool):
            self._join_pool(decision.session)
        else:
            self._wait(self._open_stream(decision))

    def _record(self, route: Route, path: bytes, rewrite: ResponseRewrite | None = None) -> None:
        assert self.head is not None
        traffic = self.ingress.traffic.for_tunnel(route.tunnel_id, route.slug, route.owner_id)
        self.request = Pending(
            self.head.method, traffic, path, self.client, self.head_bytes, rewrite
        )

    async def _ask_owner(self, question: AskOwner, raw: bytes) -> None:
        owner = await self.ingress.policy.identities.resolve(question.head, question.bearer)
        self._carry_out(self.ingress.policy.with_owner(question, owner), raw)

    def _login_read(self) -> None:
        """The login form is read (the policy let only a short one in): answer it."""
        login, form = self.login, bytes(self.form or b"")
        self.login = self.form = None
        assert login is not None
        self._wait(self._log_in(login, form))

    async def _log_in(self, login: LogIn, form: bytes) -> None:
        policy = self.ingress.policy
        assert policy.logins is not None, "only a hosting with the login form decides LogIn"
        token, back = read_login_form(form)
        owner = await policy.identities.resolve(login.head, token) if token else None
        self._answer(policy.logins.answer(login, owner, back), login.head, body_read=True)

    def _forward(self, decision: Forward) -> None:
        """Send a tunnel request to its upstream, opening one if needed."""
        if decision.close_after:
            self._move(Phase.LAST)
        route, head = decision.route, decision.head
        upstream = self.upstream
        if upstream is not None and upstream.serves(route):
            self._write_request(head)
            return
        if not self.pending and upstream is None:
            pooled = self.ingress.upstreams.take(route, self)
            if pooled is not None:  # a kept-alive connection to the app: no dial at all
                self.upstream = pooled
                self._write_request(head)
                return
            try:
                stream = self.ingress.dialer.ready(route)
            except HubError as exc:
                self._fail(exc)
                return
            if stream is not None:  # the usual case with a connector: a pooled connection
                self._attach(stream, route)
                self._write_request(head, stream.header)
                return
        self._wait(self._switch_upstream(head, route))

    def _attach(self, stream: Stream, route: Route) -> None:
        self.upstream = Upstream(
            self,
            stream.transport,
            route.tunnel_id,
            ready_line=stream.ready_line,
            destination=route.destination,
            probe=stream.probe,
        )
        self.upstream.untrack = stream.untrack

    def _write_request(self, head: RequestHead, prefix: bytes = b"") -> None:
        upstream = self.upstream
        assert upstream is not None
        if head.upgrade or upstream.key == API_UPSTREAM:
            upstream.reusable = False
        request, self.request = self.request, None
        self.pending.append(request if request is not None else Pending(head.method))
        upstream.transport.write(prefix + head.serialize())
        upstream.request_sent()
        scanner = head.body_scanner()
        if not scanner.done:
            self.body, self.body_to = scanner, upstream.transport
        if head.upgrade:
            self.pause("upgrade")

    async def _switch_upstream(self, head: RequestHead, route: Route | None) -> None:
        await self._drained()
        self._release_upstream()
        if route is None:
            hub_side = self.ingress.hub_side
            assert isinstance(hub_side, RelayToHub)
            transport = await hub_side.connect()
            self.upstream = Upstream(self, transport, API_UPSTREAM, ready_line=False)
            self._write_request(head)
            return
        pooled = self.ingress.upstreams.take(route, self)
        if pooled is not None:
            self.upstream = pooled
            self._write_request(head)
            return
        stream = await self.ingress.dialer.open(route)
        self._attach(stream, route)
        self._write_request(head, stream.header)

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
            self._close()
        elif self.close_after and not self.pending and self.body is None:
            self._release_upstream()
            self._close()

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
                self._move(Phase.CLOSED)
                self.transport.abort()
            else:
                self.pending.clear()
                message = "the local service closed the connection without answering"
                self._answer(Answer(502, ErrorCode.LOCAL_UNAVAILABLE, message, html=self._html))
        elif self.phase is Phase.HALF_CLOSED and self.transport is not None:
            self._close()

    def fail_upstream(self, upstream: Upstream, status: int, code: ErrorCode, message: str) -> None:
        """The upstream cannot answer (connector refused the stream, bad response)."""
        if upstream.sent_any:
            if self.transport is not None:
                self._move(Phase.CLOSED)
                self.transport.abort()
            return
        upstream.close()
        self.upstream = None
        self._finish_pending(status)
        self.pending.clear()
        self._answer(Answer(status, code, message, html=self._html))

    def switch_to_raw(self, upstream: Upstream, leftover: bytes) -> None:
        """After ``101 Switching Protocols``: relay raw bytes both ways from now on."""
        assert self.transport is not None
        self._move(Phase.RAW)
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
        done.add_done_callback(lambda _: self._left())

    def _to_hub(self, head: RequestHead, raw: bytes) -> None:
        """A request for the hub's host: relayed, or the connection handed back."""
        if not isinstance(self.ingress.hub_side, RelayToHub):
            self._wait(self._hand_back(raw))
            return
        upstream = self.upstream
        if upstream is not None and upstream.key == API_UPSTREAM and not upstream.closed:
            self._write_request(head)
            return
        self._wait(self._switch_upstream(head, None))

    async def _hand_back(self, raw: bytes) -> None:
        """Give the connection back to the server that handed it over, once every answer in
        flight is out, with the request's head and whatever followed it."""
        await self._drained()
        self._release_upstream()
        transport = self.transport
        assert transport is not None
        await self._flushed(transport)
        take_back = self.ingress.hub_side
        assert not isinstance(take_back, RelayToHub)
        sock = transport.get_extra_info("socket").dup()
        data = raw + bytes(self.buffer)
        self.buffer.clear()
        self._move(Phase.HANDED_BACK)
        self._left()
        self.transport = None
        transport.abort()  # closes this descriptor only: the duplicate keeps the connection
        take_back(sock, data, self.peer)
