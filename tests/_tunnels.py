"""Helpers for data-plane tests: a connector serving tunnels of a real hub to real services.

The hub runs in its own thread (``_hubs.py``), the services in theirs (``_apps.py``); the
connector runs on the test's own event loop, as it would inside a notebook server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from jupyter_tunnels import Tunnel
from jupyter_tunnels.connector import Connector
from tests._hubs import RunningHub

WAIT = 15.0


@contextlib.asynccontextmanager
async def connector_for(
    hub: RunningHub, *, client_instance_id: str = "test-connector", **options: Any
) -> AsyncIterator[Connector]:
    """A started connector for the hub's admin, closed (lease released) at the end."""
    connector = Connector(hub.url, hub.token, client_instance_id=client_instance_id, **options)
    await connector.start()
    try:
        yield connector
    finally:
        await connector.close()


async def until(condition: Callable[[], bool | Awaitable[bool]]) -> None:
    """Wait (at most :data:`WAIT` seconds) until ``condition`` holds; it may be async."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


def visitor(timeout: float = WAIT, **options: Any) -> httpx.AsyncClient:
    """An HTTP client for visitors of tunnels (never through a proxy the test sets)."""
    return httpx.AsyncClient(timeout=timeout, trust_env=False, **options)


def hub_address(hub: RunningHub) -> tuple[str, int]:
    """The hub's host and port."""
    return hub.server.host, hub.server.port


async def wait_for_status(connector: Connector, tunnel: Tunnel, status: str) -> Tunnel:
    """Poll until the tunnel has ``status`` (or fail after :data:`WAIT` seconds)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        current = await connector.client.get(tunnel.id)
        if current.status.value == status:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"tunnel stayed {current.status.value}, expected {status}")
        await asyncio.sleep(0.05)


async def http_get_raw(host: str, port: int, request: bytes, *, until_close: bool = True) -> bytes:
    """Send raw bytes to ``host:port`` and read the whole answer (until the peer closes)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        if until_close:
            return await asyncio.wait_for(reader.read(), WAIT)
        return await asyncio.wait_for(reader.read(65536), WAIT)
    finally:
        writer.close()


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def udp_roundtrip(port: int, payload: bytes, attempts: int = 20) -> bytes:
    """Send a datagram to 127.0.0.1:``port`` until a reply comes; return the reply."""
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        _UdpClient, remote_addr=("127.0.0.1", port)
    )
    try:
        for _ in range(attempts):  # UDP may drop the first datagrams while the stream opens
            transport.sendto(payload)
            try:
                return await asyncio.wait_for(client.replies.get(), 0.5)
            except asyncio.TimeoutError:
                continue
    finally:
        transport.close()
    raise AssertionError(f"no UDP reply from port {port}")
