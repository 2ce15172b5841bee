"""The two origins nginx does not play: an upload sink and a WebSocket echo server.

Run as ``python _aux_origin.py UPLOAD_PORT WS_PORT``; both listen on 127.0.0.1.

* The upload sink answers a request only after it has read the whole body
  (``Content-Length``), and its answer is the number of body bytes it read, so the uploader
  can check that every byte went through. nginx's ``return 200`` may answer before the body is
  read, which would make an upload look faster than it is.
* The echo server sends every WebSocket message back unchanged (no compression).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from websockets.asyncio.server import ServerConnection, serve

MAX_HEAD = 64 * 1024


class UploadSink(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: read each request's body, then answer its length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.remaining = -1
        self.received = 0
        self.close_after = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        while data:
            if self.remaining < 0:
                self.head += data
                end = self.head.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.head) > MAX_HEAD:
                        self._answer(b"431 Request Header Fields Too Large", b"head too long")
                    return
                data = bytes(self.head[end + 4 :])
                if not self._start(bytes(self.head[:end])):
                    return
                self.head.clear()
            used = min(len(data), self.remaining)
            self.received += used
            self.remaining -= used
            data = data[used:]
            if self.remaining == 0:
                self.remaining = -1
                self._answer(b"200 OK", str(self.received).encode())

    def _start(self, head: bytes) -> bool:
        length = None
        self.close_after = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection" and value.strip().lower() == b"close":
                self.close_after = True
        if length is None:
            self.close_after = True
            self._answer(b"411 Length Required", b"send a Content-Length")
            return False
        self.remaining = length
        self.received = 0
        if length == 0:
            self.remaining = -1
            self._answer(b"200 OK", b"0")
        return True

    def _answer(self, status: bytes, body: bytes) -> None:
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(body), body)
        )
        if self.close_after:
            self.transport.close()


async def echo(connection: ServerConnection) -> None:
    """Send every message back."""
    async for message in connection:
        await connection.send(message)


async def main(upload_port: int, ws_port: int) -> None:
    """Serve both origins until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    sink = await loop.create_server(UploadSink, "127.0.0.1", upload_port)
    async with serve(echo, "127.0.0.1", ws_port, compression=None, max_size=None):
        print(f"upload sink on {upload_port}, websocket echo on {ws_port}", flush=True)
        await stopping.wait()
    sink.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
