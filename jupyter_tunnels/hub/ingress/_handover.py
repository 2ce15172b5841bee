"""Moving a visitor connection between a tornado server and the front, both ways.

Inside a Jupyter server every connection is tornado's first. :class:`HandoverHandler`, mounted
at the tunnels' paths (``{base_url}tunnels/t/...`` and the data-connection endpoint), judges
nothing: it takes the connection from tornado before any body is read and gives it, with the
request's head and whatever tornado had already read past it, to a
:class:`~._front.FrontProtocol`, which judges that request and every following one itself.
When a later request on the connection is not for a tunnel (a browser reuses its connections
for Jupyter's own pages and API), the front gives the connection back: :class:`GiveBack`
hands it to a tornado HTTP server of the same application, with the bytes already read, so
Jupyter serves it exactly as it serves any connection (its own address, headers, TLS
settings). The next tunnel request on it comes back here.

Tornado has no public API for the bytes it read ahead (nor for handing them to a new stream),
so :func:`take_read_ahead` and :func:`give_read_ahead` use its ``IOStream`` read buffer; the
hand-over tests pipeline requests across both directions to keep this honest.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from typing import Any, cast

from tornado import httpserver, iostream, web

__all__ = ["GiveBack", "HandoverHandler", "give_read_ahead", "take_read_ahead"]

PUMP_CHUNK = 64 * 1024
"""Bytes moved at a time between a TLS connection and the front's socket."""

Adopt = Callable[[socket.socket, bytes, tuple[str, int]], None]
"""Takes a visitor's socket, the bytes already read from it (starting with a head) and the
visitor's address."""
Spawn = Callable[[Coroutine[Any, Any, None]], None]
"""Runs background work owned by the hosting (cancelled when it stops)."""


def take_read_ahead(stream: iostream.IOStream) -> bytes:
    """The bytes tornado read from ``stream`` and nobody consumed yet (emptied)."""
    buffered = bytes(stream._read_buffer[: stream._read_buffer_size])
    del stream._read_buffer[:]
    stream._read_buffer_size = 0
    return buffered


def give_read_ahead(stream: iostream.IOStream, data: bytes) -> None:
    """Make ``data`` the first bytes tornado reads from ``stream``."""
    stream._read_buffer += data
    stream._read_buffer_size += len(data)


def request_head(request: Any) -> bytes:
    """A request's head as tornado parsed it (start line, then the fields as received)."""
    lines = [f"{request.method} {request.uri} {request.version}"]
    lines += [f"{name}: {value}" for name, value in request.headers.get_all()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@web.stream_request_body
class HandoverHandler(web.RequestHandler):
    """Gives its connection to the front before tornado reads the request's body.

    Mounted (inside Jupyter) with ``adopt``, what receives the connection, and ``spawn``,
    which owns the background work of TLS connections.
    """

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    def initialize(self, adopt: Adopt, spawn: Spawn) -> None:
        """Receive where connections go (tornado calls this per request)."""
        self.adopt = adopt
        self.spawn = spawn

    def check_xsrf_cookie(self) -> None:
        """No XSRF check here: the front judges the request (and tunnels' apps have their own
        forms and defences)."""

    async def prepare(self) -> None:
        """Hand the connection over, with the head and what was read after it."""
        stream = self.detach()
        data = request_head(self.request) + take_read_ahead(stream)
        peer = _peer(stream)
        if isinstance(stream, iostream.SSLIOStream):
            # the keys are in tornado's SSL object: the front gets the decrypted bytes through
            # a socket pair whose other end is pumped to and from the TLS stream
            ours, theirs = socket.socketpair()
            self.spawn(_pump(stream, iostream.IOStream(theirs)))
            self.adopt(ours, data, peer)
            return
        # asyncio takes the socket over from tornado: a duplicate survives tornado's close
        sock = stream.socket.dup()
        stream.close()
        self.adopt(sock, data, peer)

    def data_received(self, chunk: bytes) -> None:
        """Never called: the connection is handed over before the body is read."""


def _peer(stream: iostream.IOStream) -> tuple[str, int]:
    try:
        address = stream.socket.getpeername()
    except OSError:
        return ("", 0)
    return (str(address[0]), int(address[1])) if isinstance(address, tuple) else ("", 0)


async def _pump(tls: iostream.IOStream, plain: iostream.IOStream) -> None:
    """Relay a TLS connection's plain bytes to and from a local socket until either ends."""

    async def copy(source: iostream.IOStream, target: iostream.IOStream) -> None:
        try:
            while True:
                await target.write(await source.read_bytes(PUMP_CHUNK, partial=True))
        except iostream.StreamClosedError:
            pass
        finally:
            source.close()
            target.close()

    await asyncio.gather(copy(tls, plain), copy(plain, tls))


class GiveBack:
    """Gives connections back to a tornado server of ``application`` (one that never listens:
    its connections are the ones given back, closed by :meth:`close`). ``server_options`` are
    those of the server that handed the connections over (``xheaders``, body limits,
    ``protocol="https"`` when it terminates TLS itself)."""

    def __init__(self, application: web.Application, **server_options: Any) -> None:
        self.server = httpserver.HTTPServer(application, **server_options)

    def __call__(self, sock: socket.socket, data: bytes, peer: tuple[str, int]) -> None:
        """Serve ``sock`` as a new connection from ``peer`` that has already sent ``data``."""
        stream = iostream.IOStream(sock)
        give_read_ahead(stream, data)
        cast(Any, self.server).handle_stream(stream, peer)

    async def close(self) -> None:
        """Close the connections given back (the server is shutting down)."""
        await self.server.close_all_connections()
