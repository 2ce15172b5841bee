"""A real Redis for reach's tests (Debian's ``redis-server``), and a tiny RESP client.

scripts/test.sh installs ``redis-server``. The server runs on a free loopback port with no
persistence and is killed at the end; the client speaks just enough RESP2 for a session:
commands as arrays of bulk strings, and every reply type back.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

START_TIMEOUT = 10.0
IO_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    """Run ``redis-server`` on a free loopback port; yield the port; kill it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is missing: apt-get install redis-server (scripts/test.sh)")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield port
    finally:
        process.kill()
        process.wait(START_TIMEOUT)


class RedisError(Exception):
    """An error reply (``-ERR ...``)."""


class Resp:
    """A RESP2 client over an asyncio stream pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Resp:
        """Connect to ``host:port``."""
        reader, writer = await asyncio.open_connection(host, port, limit=2**24)
        return cls(reader, writer)

    @staticmethod
    def encode(*args: str | bytes | int) -> bytes:
        """One command as an array of bulk strings."""
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
        return b"".join(parts)

    async def call(self, *args: str | bytes | int) -> Any:
        """Send one command and read its reply."""
        self.writer.write(self.encode(*args))
        await self.writer.drain()
        return await self.read()

    async def pipeline(self, commands: Sequence[tuple[str | bytes | int, ...]]) -> list[Any]:
        """Send every command in one write, then read every reply in order."""
        self.writer.write(b"".join(self.encode(*command) for command in commands))
        await self.writer.drain()
        return [await self.read() for _ in commands]

    async def read(self) -> Any:
        """Read one reply (integers as int, strings as bytes, errors raised)."""
        line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), IO_TIMEOUT)
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = await asyncio.wait_for(self.reader.readexactly(size + 2), IO_TIMEOUT)
            return data[:-2]
        if kind == b"*":
            return [await self.read() for _ in range(int(rest))]
        raise AssertionError(f"not a RESP reply: {line!r}")

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
