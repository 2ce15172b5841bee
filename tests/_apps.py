"""Local services to put behind tunnels in tests: a streaming HTTP app and raw TCP/UDP peers.

They run on 127.0.0.1:0 in a background thread of their own, like a user's app would run in
a notebook, and stream everything (no whole bodies in memory) so transfer tests measure the
tunnel, not the app.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from tornado import httpserver, iostream, netutil, web, websocket
from tornado.http1connection import HTTP1Connection

from jupyter_tunnels._core.loop import run_forever_then_close

T = TypeVar("T")

CHUNK = 1024 * 1024
START_TIMEOUT = 30.0


class _Index(web.RequestHandler):
    def get(self) -> None:
        self.write("hello from the app\n")


class _Headers(web.RequestHandler):
    def get(self, *_: str) -> None:
        self.write(
            {
                "path": self.request.path,
                "query": self.request.query,
                "headers": dict(self.request.headers),
            }
        )

    post = get


class _Peer(web.RequestHandler):
    """Which client connection this request came on (to see connections reused)."""

    def get(self) -> None:
        stream = cast(HTTP1Connection, self.request.connection).stream
        host, port = stream.socket.getpeername()[:2]
        self.write({"peer": f"{host}:{port}", "app": self.application.settings["app_name"]})


class _Events(web.RequestHandler):
    """Server-sent events, one every ``interval`` seconds, flushed one by one."""

    async def get(self) -> None:
        count = int(self.get_query_argument("count", "5"))
        interval = float(self.get_query_argument("interval", "0.2"))
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        for number in range(count):
            self.write(f"id: {number}\ndata: event {number}\n\n")
            await self.flush()
            await asyncio.sleep(interval)


@web.stream_request_body
class _Upload(web.RequestHandler):
    """Counts the bytes of an upload without keeping them."""

    def prepare(self) -> None:
        self.received = 0

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)

    def post(self) -> None:
        self.write({"received": self.received})

    put = post


class _Download(web.RequestHandler):
    """Streams ``size`` zero bytes in 1 MiB writes, waiting for each to drain."""

    async def get(self) -> None:
        size = int(self.get_query_argument("size"))
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(size))
        block = bytes(CHUNK)
        remaining = size
        try:
            while remaining:
                piece = block if remaining >= CHUNK else block[:remaining]
                self.write(piece)
                remaining -= len(piece)
                await self.flush()
        except iostream.StreamClosedError:
            return


LINKS: dict[str, tuple[int, list[tuple[str, str]]]] = {
    "own": (302, [("Location", "http://{own}/next?x=1#f")]),
    "localhost": (302, [("Location", "http://localhost:{port}/next")]),
    "rooted": (302, [("Location", "/next?x=1")]),
    "prefixed": (302, [("Location", "{prefix}/next")]),
    "relative": (302, [("Location", "next")]),
    "parent": (302, [("Location", "../up")]),
    "foreign": (302, [("Location", "http://example.com/next")]),
    "created": (201, [("Location", "/items/1"), ("Content-Location", "http://{own}/items/1")]),
    "refresh": (200, [("Refresh", "0; url=http://{own}/next")]),
    "cookies": (
        200,
        [
            ("Set-Cookie", "root=1; Path=/; HttpOnly"),
            ("Set-Cookie", "sub=2; Path=/sub"),
            ("Set-Cookie", "bare=3"),
            ("Set-Cookie", "known=4; Path={prefix}/x"),
        ],
    ),
}
"""What ``/links/<kind>`` answers: a status and fields built as apps build them, from the
``Host`` the app sees (``{own}``, its port ``{port}``) and ``X-Forwarded-Prefix``
(``{prefix}``)."""


class _Links(web.RequestHandler):
    """Answers :data:`LINKS`; the body repeats the fields as sent (a body is never rewritten)."""

    def get(self, kind: str) -> None:
        status, fields = LINKS[kind]
        host = self.request.host
        values = {
            "own": host,
            "port": host.rpartition(":")[2],
            "prefix": self.request.headers.get("X-Forwarded-Prefix", ""),
        }
        self.set_status(status)
        for name, template in fields:
            self.add_header(name, template.format(**values))
        self.write("\n".join(template.format(**values) for _, template in fields))


class _Echo(websocket.WebSocketHandler):
    def check_origin(self, origin: str) -> bool:
        return True

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


def make_app(name: str = "app") -> web.Application:
    """The HTTP test app."""
    return web.Application(
        [
            (r"/", _Index),
            (r"/peer", _Peer),
            (r"/headers(.*)", _Headers),
            (r"/events", _Events),
            (r"/upload", _Upload),
            (r"/download", _Download),
            (r"/ws", _Echo),
            (r"/links/(.*)", _Links),
        ],
        websocket_ping_interval=0,
        app_name=name,
    )


class _TcpEcho(asyncio.Protocol):
    """Echoes bytes; on EOF answers ``total:<n>`` and closes (tests half-close)."""

    def __init__(self, open_transports: set[asyncio.Transport]) -> None:
        self.transport: asyncio.Transport | None = None
        self.total = 0
        self.open_transports = open_transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open_transports.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.open_transports.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        assert self.transport is not None
        self.transport.write(data)

    def eof_received(self) -> bool:
        assert self.transport is not None
        self.transport.write(f"total:{self.total}".encode())
        self.transport.close()
        return True


class _UdpEcho(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(b"echo:" + data, addr)


@dataclasses.dataclass
class Services:
    """The running test services and their ports."""

    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    http_port: int
    tcp_port: int
    udp_port: int
    closers: list[Callable[[], Any]]
    """Called on the services' loop at stop; coroutine results are awaited."""

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the services' loop."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def stop(self) -> None:
        """Stop every service and the thread."""

        async def close() -> None:
            for closer in self.closers:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result

        self.call(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT)


def free_udp_port() -> int:
    """A UDP port that is free now on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_services(name: str = "app") -> Services:
    """Start the HTTP app, a TCP echo and a UDP echo server in a new thread."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[Services] = concurrent.futures.Future()

    async def boot(thread: threading.Thread) -> None:
        sockets = netutil.bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
        http = httpserver.HTTPServer(
            make_app(name), max_buffer_size=CHUNK * 4, max_body_size=1 << 40
        )
        http.add_sockets(sockets)
        echo_transports: set[asyncio.Transport] = set()
        tcp = await loop.create_server(lambda: _TcpEcho(echo_transports), "127.0.0.1", 0)

        def close_echo() -> None:
            tcp.close()
            for transport in list(echo_transports):
                transport.abort()

        udp, _ = await loop.create_datagram_endpoint(_UdpEcho, ("127.0.0.1", 0))
        ready.set_result(
            Services(
                loop=loop,
                thread=thread,
                http_port=sockets[0].getsockname()[1],
                tcp_port=tcp.sockets[0].getsockname()[1],
                udp_port=udp.get_extra_info("sockname")[1],
                closers=[http.stop, http.close_all_connections, close_echo, udp.close],
            )
        )

    def run() -> None:
        booting = loop.create_task(boot(threading.current_thread()))
        run_forever_then_close(loop)
        del booting

    threading.Thread(target=run, name="test-services", daemon=True).start()
    return ready.result(START_TIMEOUT)


def event_lines(chunks: list[bytes]) -> list[str]:
    """The ``data:`` lines of an SSE stream."""
    text = b"".join(chunks).decode()
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def as_json(body: bytes) -> Any:
    """Parse a JSON body."""
    return json.loads(body)
