"""Misbehaving network peers for the SDK's tests: a closed port, and a server that is no hub.

These stand in for the network and for foreign servers (a proxy's error page, a dropped
connection), never for our hub: every SDK test that needs a hub uses the real one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

ACCEPT_POLL = 0.05
IO_TIMEOUT = 5.0


def closed_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, so connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class CannedServer:
    """A TCP server on 127.0.0.1 that reads each HTTP request and answers ``reply`` verbatim.

    With ``reply=None`` it closes each connection unanswered, as a crashing hub or a flaky
    proxy would. ``connections`` counts the requests it has read.
    """

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(ACCEPT_POLL)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="canned-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The server's base URL."""
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(IO_TIMEOUT)
                try:
                    _read_request(conn)
                    self.connections += 1
                    if self.reply is not None:
                        conn.sendall(self.reply)
                except OSError:
                    continue

    def close(self) -> None:
        """Stop serving and wait for the thread."""
        self._stopping.set()
        self._thread.join(IO_TIMEOUT)
        self._listener.close()


def _read_request(conn: socket.socket) -> None:
    """Read one request's head and its ``Content-Length`` body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


@contextlib.contextmanager
def canned_server(reply: bytes | None) -> Iterator[CannedServer]:
    """Run a :class:`CannedServer` for the duration of a ``with`` block."""
    server = CannedServer(reply)
    try:
        yield server
    finally:
        server.close()


def http_response(status: str, body: bytes, content_type: str) -> bytes:
    """The bytes of a complete HTTP/1.1 response that closes its connection."""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body
