"""Relaying one visitor request, taken over from tornado, to a tunnel's app.

Inside Jupyter the ingress is a tornado handler. Once it has judged a request (tunnel, access,
pause), it takes the visitor's connection from tornado (``detach``) and relays bytes both ways
with bounded buffers: the rewritten request head, then whatever follows (a body of any size,
chunked or not, WebSocket frames, an SSE stream) goes to the app as it arrives, and the app's
answer goes back as it comes, never held whole.

Decision: one request per visitor connection. The app is asked to close after its answer
(``Connection: close``) and the visitor is told the same, so the next request arrives on a new
connection and is judged again. Only that one request reaches the app: its body is relayed up
to where its framing (``Content-Length`` or chunked) says it ends, and anything the visitor
pipelines after it is read and dropped, never relayed unjudged (an app that ignores
``Connection: close`` would otherwise answer it). A request that upgrades (WebSocket) keeps its
connection: what the visitor sends after it waits for the app's ``101`` and is relayed from
then on; after a refused upgrade nothing more from the visitor reaches the app. The standalone hub's
front keeps visitor connections alive instead (``_front.py``); Jupyter is not the fast path.

The relay also fills in the request's :class:`~._traffic.Exchange` (status from the response
head it reads anyway, bytes counted per chunk: this is not the fast path) and records it when
the answer ends, or when a WebSocket's ``101`` arrives (``_traffic.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tornado.iostream import IOStream, StreamClosedError

from .._core.errors import HTTP_STATUS, ErrorCode
from .._wire.http1 import HeadError, parse_request_head
from .ingress._pages import error_response
from .services._traffic import CLIENT_CLOSED, Exchange, TunnelTraffic

__all__ = ["CHUNK", "MAX_RESPONSE_HEAD", "RequestBody", "relay_visitor", "stream_pair"]

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
"""Bytes read from either side at a time (and so the most held per direction)."""
MAX_RESPONSE_HEAD = 64 * 1024
"""The longest response head an app may send."""
_DROPPED_RESPONSE_FIELDS = (b"connection", b"keep-alive", b"proxy-connection")


def stream_pair(
    transport: asyncio.Transport, leftover: bytes = b""
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Streams over an already connected transport (a connector's data connection)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_RESPONSE_HEAD, loop=loop)
    protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
    transport.set_protocol(protocol)
    protocol.connection_made(transport)
    if leftover:
        reader.feed_data(leftover)
    transport.resume_reading()
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


async def relay_visitor(
    visitor: IOStream,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    head: bytes,
    *,
    upgrade: bool,
    body: RequestBody | None = None,
    exchange: Exchange | None = None,
    html_errors: bool = False,
) -> None:
    """Send ``head`` to the app, then relay both ways until either side is done.

    ``body`` is the request's framing, read from ``head`` when not given (the caller checks
    it before taking the connection over, to refuse a bad one with a 400); ``exchange``, when
    given, is filled in and recorded (``_traffic.py``); ``html_errors``: the hub's own answers
    (502) are pages for a browser rather than JSON.
    """
    exchange = exchange if exchange is not None else Exchange(b"")
    relay = _Relay(visitor, reader, writer, upgrade=upgrade, exchange=exchange)
    relay.html_errors = html_errors
    try:
        await relay.run(head, body if body is not None else RequestBody(head))
    finally:
        relay.close()
        exchange.finish(CLIENT_CLOSED)
        if relay.upgraded is not None:
            relay.upgraded.stream_closed()


class _Relay:
    def __init__(
        self,
        visitor: IOStream,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upgrade: bool,
        exchange: Exchange,
    ) -> None:
        self.visitor = visitor
        self.reader = reader
        self.writer = writer
        self.upgrade = upgrade
        self.answered = False
        self.exchange = exchange
        self.upgraded: TunnelTraffic | None = None
        """The traffic a WebSocket counts as an open stream of, once upgraded."""
        self.html_errors = False
        self.switched: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        """Whether the app switched protocols (set once its answer's head is read)."""

    async def run(self, head: bytes, body: RequestBody) -> None:
        self.exchange.bytes_in += len(head)
        self.writer.write(head)
        uploading = asyncio.ensure_future(self._visitor_to_app(body))
        try:
            await self._app_to_visitor()
        finally:
            uploading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await uploading

    def close(self) -> None:
        self.writer.close()
        self.visitor.close()

    async def _visitor_to_app(self, body: RequestBody) -> None:
        """The request's body, then (a WebSocket) frames, to the app with its backpressure;
        nothing past the one request unless the app switched protocols."""
        try:
            after = b""
            while not body.complete:
                data = await self.visitor.read_bytes(CHUNK, partial=True)
                data, after = body.split(data)
                await self._to_app(data)
            if self.upgrade and await self.switched:
                await self._to_app(after)
                while True:
                    await self._to_app(await self.visitor.read_bytes(CHUNK, partial=True))
            while True:  # pipelined requests are dropped; the visitor was told we close
                await self.visitor.read_bytes(CHUNK, partial=True)
        except StreamClosedError:
            # tornado closes the whole connection at the visitor's EOF (no half-close)
            self.writer.close()
        except (ConnectionError, OSError):
            self.visitor.close()
        except HeadError as exc:  # a chunked body that breaks its framing: end it all
            log.info("ingress: %s; closing the visitor's connection", exc.message)
            self.visitor.close()
            self.writer.close()

    async def _to_app(self, data: bytes) -> None:
        if data:
            self.exchange.bytes_in += len(data)
            self.writer.write(data)
            await self.writer.drain()

    async def _app_to_visitor(self) -> None:
        """The app's answer to the visitor, head rewritten, then bytes as they come."""
        try:
            await self._response_head()
            while data := await self.reader.read(CHUNK):
                self.exchange.bytes_out += len(data)
                await self.visitor.write(data)
        except StreamClosedError:
            return  # the visitor left: close the app's side too
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            if not self.answered:
                message = "the app closed the connection without a complete answer"
                await self._fail(ErrorCode.LOCAL_UNAVAILABLE, message)

    async def _response_head(self) -> None:
        while True:
            head = await self.reader.readuntil(b"\r\n\r\n")
            self.answered = True
            status = head.split(b" ", 2)[1:2]
            if status == [b"101"] and self.upgrade:
                await self.visitor.write(head)  # a WebSocket from here on: raw both ways
                self._upgraded(len(head))
                self.switched.set_result(True)
                return
            if status[:1] and status[0].startswith(b"1") and status != [b"101"]:
                await self.visitor.write(head)  # 100 Continue, 103 Early Hints: more follows
                self.answered = False
                continue
            self.switched.set_result(False)
            closing = _closing(head)
            if status and status[0].isdigit():
                self.exchange.status = int(status[0])
            self.exchange.bytes_out += len(closing)
            await self.visitor.write(closing)
            return

    def _upgraded(self, head_size: int) -> None:
        """Record the WebSocket's handshake; it is an open stream until the relay ends."""
        exchange = self.exchange
        self.upgraded = exchange.traffic
        exchange.status = 101
        exchange.bytes_out += head_size
        exchange.finish()
        if self.upgraded is not None:
            self.upgraded.upgraded()

    async def _fail(self, code: ErrorCode, message: str) -> None:
        status = HTTP_STATUS[code]
        answer = error_response(status, code.value, message, html_page=self.html_errors)
        self.exchange.status = status
        self.exchange.bytes_out += len(answer)
        with contextlib.suppress(StreamClosedError):
            await self.visitor.write(answer)


def _closing(head: bytes) -> bytes:
    """A response head saying the connection closes after it (persistence fields dropped)."""
    lines = head[:-4].split(b"\r\n")
    kept = [
        line
        for line in lines[1:]
        if line.split(b":", 1)[0].strip().lower() not in _DROPPED_RESPONSE_FIELDS
    ]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


class RequestBody:
    """Where one request's body ends in the bytes that follow its head: its framing read from
    the head with the standalone front's parser (``_http1.py``), which refuses anything an app
    could read differently (both ``Content-Length`` and ``Transfer-Encoding``, conflicting
    lengths, unknown codings) with :class:`~._http1.HeadError`."""

    def __init__(self, head: bytes) -> None:
        self._scanner = parse_request_head(head).body_scanner()

    @property
    def complete(self) -> bool:
        """Whether the whole body has gone past."""
        return self._scanner.done

    def split(self, data: bytes) -> tuple[bytes, bytes]:
        """``data`` cut into the part that belongs to the body and what comes after it;
        :class:`~._http1.HeadError` if a chunked body breaks its framing."""
        taken = self._scanner.feed(data)
        return data[:taken], data[taken:]
