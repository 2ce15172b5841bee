"""Raw HTTP/1.1 over one socket, for tests that need to control exactly what goes on the wire
(pipelining, framing, kept-alive connections), and an app that records what reaches it."""

from __future__ import annotations

import asyncio

import h11
import httpx

WAIT = 20.0


def raw_request(
    method: str,
    url: str,
    content: bytes | None = None,
    *,
    close: bool = False,
    headers: dict[str, str] | None = None,
) -> bytes:
    """An HTTP/1.1 request as sent on the wire (``close``: it asks to close the connection)."""
    parsed = httpx.URL(url)
    head = f"{method} {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.netloc.decode()}\r\n"
    for name, value in (headers or {}).items():
        head += f"{name}: {value}\r\n"
    if close:
        head += "Connection: close\r\n"
    return f"{head}Content-Length: {len(content or b'')}\r\n\r\n".encode() + (content or b"")


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, httpx.Headers, bytes]:
    """One response with a ``Content-Length`` from a raw connection: status, fields, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    pairs = [line.partition(": ") for line in lines]
    fields = httpx.Headers([(name, value) for name, _, value in pairs])
    content = await asyncio.wait_for(
        reader.readexactly(int(fields.get("Content-Length", "0"))), WAIT
    )
    return int(status_line.split(" ")[1]), fields, content


async def one_connection(
    host: str, port: int, requests: list[bytes], *, pipelined: bool
) -> list[tuple[int, httpx.Headers, bytes]]:
    """The answers to ``requests`` sent on one connection (all at once when ``pipelined``);
    when the last asks to close, the connection must then close cleanly."""
    reader, writer = await asyncio.open_connection(host, port)
    answers = []
    try:
        if pipelined:
            writer.write(b"".join(requests))
        for request in requests:
            if not pipelined:
                writer.write(request)
            answers.append(await read_answer(reader))
        if b"Connection: close" in requests[-1]:
            assert await asyncio.wait_for(reader.read(), WAIT) == b"", "a clean close at the end"
    finally:
        writer.close()
    return answers


async def first_answer(host: str, port: int, data: bytes) -> tuple[int, bytes]:
    """Send ``data`` on one raw connection; the first answer's status and body."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        status, _, content = await read_answer(reader)
        return status, content
    finally:
        writer.close()


class RecordingApp:
    """An app that answers every request ``200 ok`` and records every byte it receives, per
    connection (h11 finds where each request ends, independently of the hub's parser)."""

    def __init__(self) -> None:
        self.received: list[asyncio.Future[bytes]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen on 127.0.0.1:0; the port."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.received.append(done)
        seen = bytearray()
        connection = h11.Connection(h11.SERVER)
        try:
            while data := await reader.read(65536):
                seen += data
                connection.receive_data(data)
                while (event := connection.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
                    if isinstance(event, h11.EndOfMessage):
                        answer = h11.Response(status_code=200, headers=[("Content-Length", "2")])
                        writer.write(connection.send(answer) or b"")
                        writer.write(connection.send(h11.Data(data=b"ok")) or b"")
                        writer.write(connection.send(h11.EndOfMessage()) or b"")
                        connection.start_next_cycle()
        finally:
            done.set_result(bytes(seen))
            writer.close()

    async def everything_received(self) -> bytes:
        """What every connection received, once they have all closed."""
        return b"".join([await asyncio.wait_for(done, WAIT) for done in self.received])

    def close(self) -> None:
        """Stop listening."""
        if self.server is not None:
            self.server.close()
