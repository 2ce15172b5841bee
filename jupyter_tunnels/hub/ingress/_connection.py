"""A visitor connection's state, and what the front does without an upstream: the hub's own
answers, raw streams (a connector's data connection, ``CONNECT``) and flow control.

:class:`FrontConnection` is the base of :class:`~._front.FrontProtocol`, which reads the
requests and relays them. The connection's :class:`Phase` is one explicit state with a
transition table (:data:`NEXT`): every change goes through :meth:`FrontConnection._move`.

A request head must be complete within the policy's head timeout, counted from its first byte
(from the connection's opening for the first head); while the visitor waits for answers to
earlier requests its clock starts again. A begun head counts against the visitor's address
(:meth:`~._policy.IngressPolicy.hold_head`) until it is complete or the connection is gone.
"""

from __future__ import annotations

import abc
import asyncio
import collections
import enum
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..._core.errors import ErrorCode
from ..._wire.http1 import BodyScanner, HeadError, RequestHead
from ..._wire.protocol import DATA_UPGRADE
from ..._wire.splice import WRITE_BUFFER_HIGH, WRITE_BUFFER_LOW, splice
from .._exceptions import HubError
from ..services._agents import AgentSession
from ._decisions import Answer, LogIn, OpenStream, Redirect
from ._engine import Ingress
from ._pages import render_answer
from ._upstream import Pending, Upstream

__all__ = ["DRAINED_BODY", "LINGER_SECONDS", "NEXT", "READING", "FrontConnection", "Phase"]

log = logging.getLogger("jupyter_tunnels.hub")

LINGER_SECONDS = 5.0
"""How long a connection the hub answered and closes drains the visitor's leftovers."""
DRAINED_BODY = 1024 * 1024
"""The longest request body the hub reads and drops to keep the connection after answering
that request itself; a longer (or chunked) one gets ``Connection: close``."""


class Phase(enum.Enum):
    """Where a visitor connection stands."""

    OPEN = "open"
    """Requests are read and judged."""
    LAST = "last"
    """The visitor asked to close after the request in flight: its body is read, nothing more."""
    HALF_CLOSED = "half-closed"
    """The visitor sent EOF: answers in flight are finished, then the connection closes."""
    RAW = "raw"
    """Bytes only, both ways (a WebSocket after ``101``, ``CONNECT``, a data connection)."""
    LINGER = "linger"
    """The hub answered and half-closed: what the visitor still sends is dropped."""
    HANDED_BACK = "handed back"
    """The connection went back to the server that handed it over (Jupyter's)."""
    CLOSED = "closed"


NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.OPEN: frozenset(Phase) - {Phase.OPEN},
    Phase.LAST: frozenset({Phase.HALF_CLOSED, Phase.RAW, Phase.LINGER, Phase.CLOSED}),
    Phase.HALF_CLOSED: frozenset({Phase.RAW, Phase.CLOSED}),
    Phase.RAW: frozenset({Phase.CLOSED}),
    Phase.LINGER: frozenset({Phase.CLOSED}),
    Phase.HANDED_BACK: frozenset({Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}
"""The phases a connection may move to from each phase."""

READING = (Phase.OPEN, Phase.LAST)
_DATA_SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
    + DATA_UPGRADE.encode()
    + b"\r\n\r\n"
)


class FrontConnection(abc.ABC):
    """One visitor connection's state and the front's work that needs no upstream."""

    def __init__(
        self,
        ingress: Ingress,
        register: Callable[[asyncio.Transport], None] | None = None,
        initial: bytes = b"",
        peer: tuple[str, int] | None = None,
    ) -> None:
        self.ingress = ingress
        self._register = register
        self._initial = initial
        """Bytes read before this protocol took the connection over (the hand-over)."""
        self.phase = Phase.OPEN
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = peer or ("", 0)
        """The visitor's address (given when the socket is not the visitor's own: TLS)."""
        self.client = peer[0] if peer else "unknown"
        self.buffer = bytearray()
        self.body: BodyScanner | None = None
        """The body of the request being read (relayed to ``body_to``, or dropped)."""
        self.body_to: asyncio.Transport | None = None
        self.upstream: Upstream | None = None
        self.pending: collections.deque[Pending] = collections.deque()
        self.paused: set[str] = set()
        self.waiting: asyncio.Task[None] | None = None
        self.request: Pending | None = None
        """The tunnel request being judged (recorded when refused, else it joins ``pending``)."""
        self.head: RequestHead | None = None
        """The request being judged: its ``Accept`` picks HTML or JSON for the hub's answers."""
        self.head_bytes = 0
        self.requests = 0
        self.login: LogIn | None = None
        """A posted login form being read into ``form`` (``_login.py``)."""
        self.form: bytearray | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._flush_waiter: asyncio.Future[None] | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._counted = False
        self._head_timer: asyncio.TimerHandle | None = None
        """Runs out when the head being read is too slow (:meth:`_head_begun`)."""
        self._head_held = False
        """Whether the head being read counts against the visitor's address."""

    @property
    def close_after(self) -> bool:
        """Whether the answer in flight is the connection's last (the upstream says so in it)."""
        return self.phase is Phase.LAST or self.phase is Phase.HALF_CLOSED

    def _move(self, phase: Phase) -> None:
        if phase is not self.phase:
            assert phase in NEXT[self.phase], f"{self.phase.value} -> {phase.value}"
            self.phase = phase

    def _left(self) -> None:
        """This protocol no longer carries the connection (closed, raw, or handed back)."""
        self._head_done()
        if self._counted:
            self._counted = False
            self.ingress.open_connections -= 1

    def _head_clock(self) -> None:
        """Start the clock of the head to come (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        timeout = self.ingress.policy.settings.head_timeout
        self._head_timer = loop.call_later(timeout, self._head_timed_out)

    def _head_begun(self) -> bool:
        """The buffer holds part of a head: time it and hold it against the visitor's
        address; False when the address holds too many already (then answered ``429``)."""
        if self._head_timer is None:
            self._head_clock()
        if self._head_held:
            return True
        refusal = self.ingress.policy.hold_head(self.client)
        if refusal is not None:
            self._answer(refusal, None)
            return False
        self._head_held = True
        return True

    def _head_done(self) -> None:
        """The head being read is complete, or will never be: stop its clock, release it."""
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if self._head_held:
            self._head_held = False
            self.ingress.policy.release_head(self.client)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.phase is not Phase.OPEN:
            return
        if self.pending or self.waiting is not None or self.body is not None:
            self._head_clock()  # the visitor waits for the hub: its clock starts again
            return
        if not self.buffer:  # a new connection that sent nothing: no head to answer
            log.debug("closing a connection from %s that sent nothing", self.client)
            self._close()
            return
        self._answer(self.ingress.policy.head_too_slow(), None)

    def pause_writing(self) -> None:
        if self.upstream is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and not self.upstream.closed:
            self.upstream.transport.resume_reading()
        waiter = self._flush_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause(self, reason: str) -> None:
        """Stop reading from the visitor for ``reason`` (several may hold at once)."""
        if not self.paused and self.transport is not None:
            self.transport.pause_reading()
        self.paused.add(reason)

    def resume(self, reason: str) -> None:
        """Lift one reason to stop reading; read again when none is left."""
        self.paused.discard(reason)
        if not self.paused and self.transport is not None and self.phase in READING:
            self.transport.resume_reading()
            if self.buffer and self.waiting is None:
                self._process()

    def send(self, data: bytes) -> None:
        """Write to the visitor."""
        if self.transport is not None and data:
            self.transport.write(data)

    def _close(self) -> None:
        self._move(Phase.CLOSED)
        if self.transport is not None:
            self.transport.close()

    async def _drained(self) -> None:
        """Wait until every forwarded request has had its whole response."""
        while self.pending and self.upstream is not None and not self.upstream.closed:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def _release_upstream(self) -> None:
        """Give the upstream back to the pool if it can serve another visitor, else close it."""
        upstream, self.upstream = self.upstream, None
        if upstream is None:
            return
        if self.pending or self.body is not None:
            upstream.close()
            return
        self.ingress.upstreams.put(upstream)

    def _finish_pending(self, status: int) -> None:
        """Record the requests in flight that will get no (more) answer from upstream."""
        for request in self.pending:
            request.finish(status)

    async def _flushed(self, transport: asyncio.Transport) -> None:
        """Wait until everything written to the visitor has gone to the kernel."""
        while transport.get_write_buffer_size():
            self._flush_waiter = asyncio.get_running_loop().create_future()
            transport.set_write_buffer_limits(high=0)
            await self._flush_waiter
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_LOW)

    def _join_pool(self, session: AgentSession) -> None:
        """A connector's data connection: ``101``, then the connection is the session's."""
        transport = self.transport
        if self.buffer or self.pending or transport is None:
            message = "a data connection carries nothing before 101"
            self._answer(Answer(400, ErrorCode.INVALID_INPUT, message), None)
            return
        self.send(_DATA_SWITCH)
        self._move(Phase.RAW)
        self._left()
        self.paused.clear()
        self.transport = None
        transport.resume_reading()
        session.offer(transport)

    async def _open_stream(self, decision: OpenStream) -> None:
        """``CONNECT`` allowed: ``200``, then a raw stream to the tunnel's target."""
        route = decision.route
        transport = self.transport
        assert transport is not None
        upstream, leftover, untrack = await self.ingress.dialer.open_raw(
            route, route.protocol, transport
        )
        self._move(Phase.RAW)
        self.send(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        done = splice(transport, upstream, to_a=leftover, to_b=bytes(self.buffer))
        self.buffer.clear()
        self.paused.clear()
        done.add_done_callback(lambda _: untrack())
        done.add_done_callback(lambda _: self._left())

    @property
    def _html(self) -> bool:
        head = self.head
        return head is not None and b"text/html" in (head.get(b"accept") or b"")

    def _fail(self, error: HubError) -> None:
        self._answer(Answer(error.status, error.code, error.message, html=self._html), self.head)

    def _bad_request(self, exc: HeadError) -> None:
        """Answer a malformed request head or body and close the connection.

        A request whose body cannot be delimited will never get its response, so whatever
        was in flight upstream is dropped rather than waited for.
        """
        if self.body is not None and self.upstream is not None:
            self.upstream.close()
            self.upstream = None
            self._finish_pending(400)
            self.pending.clear()
        self._answer(self.ingress.policy.refuse_framing(exc), None)

    def _answer(
        self, decision: Answer | Redirect, head: RequestHead | None = None, body_read: bool = False
    ) -> None:
        """Answer from the hub itself, after the answers to earlier requests.

        With ``head`` (the request answered), the connection stays usable when the request
        allows it and its body is short enough to read and drop (``body_read``: the hub read
        it already); else it closes cleanly.
        """
        keep = (
            head is not None
            and self.phase is Phase.OPEN
            and head.version == b"HTTP/1.1"
            and head.keep_alive
            and not head.chunked
            and (head.content_length or 0) <= DRAINED_BODY
        )
        response = render_answer(decision, keep=keep)
        if head is not None and head.method == b"HEAD":  # the fields of a GET, no body
            response = response[: response.index(b"\r\n\r\n") + 4]
        request, self.request = self.request, None
        if request is not None:  # a tunnel request the hub refused or could not forward
            request.bytes_out = len(response)
            request.finish(decision.status)
        if keep:
            assert head is not None
            scanner = head.body_scanner()
            self.body, self.body_to = (None if scanner.done or body_read else scanner), None
        else:
            self.buffer.clear()
            self.body = self.body_to = None
            self._head_done()

        async def answer() -> None:
            await self._drained()
            self.send(response)
            if not keep:
                self._linger()

        self._wait(answer())

    def _linger(self) -> None:
        """Close after a hub-made answer without a reset: half-close, then read and drop what
        the visitor still sends (pipelined requests, an unread body) until it closes, for at
        most :data:`LINGER_SECONDS`. Closing with unread bytes would make the kernel reset the
        connection, and a client could lose the answer."""
        transport = self.transport
        if transport is None or self.phase is Phase.CLOSED:
            return
        if self.phase is Phase.HALF_CLOSED or not transport.can_write_eof():
            self._close()
            return
        self._release_upstream()
        self._move(Phase.LINGER)
        transport.write_eof()
        self.paused.clear()
        transport.resume_reading()
        self._linger_timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)

    def _wait(self, work: Coroutine[Any, Any, None]) -> None:
        """Run async work for the current request; reading pauses until it is done."""
        self.pause("wait")
        self.waiting = asyncio.get_running_loop().create_task(work)
        self.waiting.add_done_callback(self._waited)

    def _waited(self, task: asyncio.Task[None]) -> None:
        if task is not self.waiting:
            return  # superseded by work started from inside the task
        self.waiting = None
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, HubError):
            self._fail(exc)
            return
        if exc is not None:
            log.error("ingress request failed", exc_info=exc)
            message = "the hub failed: see its log"
            self._answer(Answer(500, ErrorCode.INTERNAL_ERROR, message, html=self._html))
            return
        if self.phase is Phase.HALF_CLOSED and not self.pending and self.transport is not None:
            self._close()
            return
        self.resume("wait")

    @abc.abstractmethod
    def _process(self) -> None:
        """Read and judge what the visitor has sent (``_front.py``)."""
