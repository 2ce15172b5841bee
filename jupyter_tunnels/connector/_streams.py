"""The connector's data connections: a warm pool to the hub, one stream on each.

Each pooled connection is an HTTP request to the hub upgraded to a raw byte stream. When the
hub writes a ``StreamOpen`` line on one, the connector dials the tunnel's local target,
answers with a ``StreamReady`` line, and splices the two connections; a replacement joins the
pool at once, so the next visitor does not wait for a dial.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from .._core.tasks import TaskSet
from .._core.timeouts import within
from .._wire.protocol import (
    DATA_PATH,
    DATA_UPGRADE,
    MAX_LINE,
    READY_LINE,
    SESSION_HEADER,
    ProtocolError,
    StreamOpen,
    StreamReady,
    TunnelSpec,
    decode_line,
    encode_line,
)
from .._wire.splice import splice
from ._dial import HubAddress, TargetNotAllowed, open_hub_connection
from ._udp import serve_udp_stream

__all__ = ["DataPool"]

log = logging.getLogger("jupyter_tunnels.connector")

LOCAL_CONNECT_TIMEOUT = 3.5
"""Seconds to connect to a stream's local target before answering the hub that it is not
answering (the visitor then gets a 502): less than the hub's 4.5 s wait for a raw stream's
answer, so the visitor hears the true reason, and within the five seconds in which every
visitor gets an answer (DESIGN.md)."""
UPGRADE_TIMEOUT = 10.0
"""Seconds the hub has to answer a new data connection's upgrade with ``101``."""
NEW_TUNNEL_WAIT = 2.0
"""Seconds a stream for a tunnel this connector has not heard of waits for the hub's tunnels
message to name it. The hub sends that message before it routes the first visitor, but on the
control channel, which may be read after the data connection (a tunnel created through the API
on this connector's lease is served at once)."""

TunnelLookup = Callable[[str, float], Awaitable[TunnelSpec | None]]
"""The tunnel a stream is for, by id, waiting up to so many seconds to hear of it."""


class _DataConnection(asyncio.Protocol):
    """One data connection: upgrade handshake, then wait for the hub's ``StreamOpen``."""

    def __init__(self, pool: DataPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.used = False

    def connection_made(self, base: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, hence a cast, not a check
        self.transport = cast(asyncio.Transport, base)

    def data_received(self, data: bytes) -> None:
        if self.upgraded.done() and self.upgraded.exception() is not None:
            return  # refused: what follows is the refusal's body
        self.buffer += data
        if not self.upgraded.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            del self.buffer[: end + 4]
            if status_line.split(b" ", 2)[1:2] != [b"101"]:
                self.upgraded.set_exception(
                    ConnectionError(f"the hub refused a data connection: {status_line!r}")
                )
                # the refusal's body is no stream: read no more of it
                self.buffer.clear()
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded.set_result(None)
        newline = self.buffer.find(b"\n")
        if newline < 0:
            if len(self.buffer) > MAX_LINE and self.transport is not None:
                self.transport.close()
            return
        line = bytes(self.buffer[:newline])
        leftover = bytes(self.buffer[newline + 1 :])
        self.buffer.clear()
        assert self.transport is not None
        self.transport.pause_reading()
        self.used = True
        self.pool.stream_started(self)
        try:
            opened = decode_line(line, StreamOpen)
        except ProtocolError as exc:
            log.warning("closing a data connection: %s", exc)
            self.transport.close()
            return
        self.pool.spawn(self.pool.serve(self.transport, opened, leftover))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("the hub closed a data connection"))
        if not self.used:
            self.pool.idle_lost(self)


class DataPool:
    """Keeps ``size`` idle data connections open to the hub and serves streams on them."""

    def __init__(
        self,
        address: HubAddress,
        agent_token: str,
        session_id: str,
        size: int,
        tunnel: TunnelLookup,
        check: Callable[[str], None],
    ) -> None:
        self.address = address
        self.agent_token = agent_token
        self.session_id = session_id
        self.size = size
        self.tunnel = tunnel
        self.check = check
        self.closed = False
        self.last_error: str | None = None
        self._idle: set[_DataConnection] = set()
        self._opening = 0
        self._tasks = TaskSet(log, "data connection task")

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a task owned by the pool (cancelled on close, failures logged)."""
        self._tasks.spawn(work)

    def fill(self, extra: int = 0) -> None:
        """Open connections until ``size`` (plus ``extra``) are idle or on their way."""
        if self.closed:
            return
        missing = self.size + extra - len(self._idle) - self._opening
        for _ in range(max(0, missing)):
            self._opening += 1
            self.spawn(self._open_one())

    async def _open_one(self) -> None:
        connection = _DataConnection(self)
        try:
            transport = await open_hub_connection(self.address, connection)
            transport.write(
                (
                    f"GET {self.address.base_path}{DATA_PATH} HTTP/1.1\r\n"
                    f"Host: {self.address.host_header}\r\n"
                    f"Authorization: Bearer {self.agent_token}\r\n"
                    f"{SESSION_HEADER}: {self.session_id}\r\n"
                    f"Connection: Upgrade\r\nUpgrade: {DATA_UPGRADE}\r\n\r\n"
                ).encode()
            )
            await within(UPGRADE_TIMEOUT, connection.upgraded)
        except (OSError, TimeoutError, asyncio.TimeoutError, ConnectionError) as exc:
            self.last_error = f"cannot open a data connection to the hub: {exc}"
            if connection.transport is not None:
                connection.transport.close()
            return
        except BaseException:  # cancelled (the pool closes): nobody else would close it
            if connection.transport is not None:
                connection.transport.close()
            raise
        finally:
            self._opening -= 1
        if self.closed:
            transport.close()
            return
        if not connection.used:
            self._idle.add(connection)

    def stream_started(self, connection: _DataConnection) -> None:
        """A pooled connection got a stream: replace it in the pool."""
        self._idle.discard(connection)
        self.fill()

    def idle_lost(self, connection: _DataConnection) -> None:
        """A pooled connection closed while idle."""
        self._idle.discard(connection)

    async def serve(self, hub: asyncio.Transport, opened: StreamOpen, leftover: bytes) -> None:
        """Dial the stream's local target and splice it with the hub connection."""
        spec = await self.tunnel(opened.tunnel_id, NEW_TUNNEL_WAIT)
        if spec is None:
            self._refuse(hub, "NOT_SERVED", f"this connector does not serve {opened.tunnel_id}")
            return
        try:
            self.check(spec.host)
        except TargetNotAllowed as exc:
            self.last_error = str(exc)
            self._refuse(hub, "TARGET_NOT_ALLOWED", str(exc))
            return
        if opened.protocol == "udp":
            hub.write(READY_LINE)
            await serve_udp_stream(hub, spec.host, spec.port, leftover)
            return
        loop = asyncio.get_running_loop()
        try:
            local, _ = await within(
                LOCAL_CONNECT_TIMEOUT,
                loop.create_connection(asyncio.Protocol, spec.host, spec.port),
            )
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            message = (
                f"port {spec.port} is not answering on {spec.host}: start your app first "
                f"({exc.__class__.__name__})"
            )
            self.last_error = message
            self._refuse(hub, "LOCAL_CONNECT_FAILED", message)
            return
        except BaseException:  # cancelled (the connector closes): the stream ends here
            hub.close()
            raise
        self.last_error = None
        if leftover:  # the hub sent its request already: answer "ready" with the response
            await splice(hub, local, to_b=leftover, before_b_to_a=READY_LINE)
        else:
            hub.write(READY_LINE)
            await splice(hub, local)

    @staticmethod
    def _refuse(hub: asyncio.Transport, code: str, message: str) -> None:
        hub.write(encode_line(StreamReady(ok=False, code=code, message=message)))
        if hub.can_write_eof():
            hub.write_eof()
        hub.close()

    async def close(self) -> None:
        """Close idle connections and stop opening new ones (open streams are left to end)."""
        self.closed = True
        for connection in list(self._idle):
            if connection.transport is not None:
                connection.transport.close()
        self._idle.clear()
        await self._tasks.close()
