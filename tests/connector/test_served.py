"""A tunnel is servable the moment the hub says it is active, however late the connector
hears of it on its control channel (issue 14, item 2).

The hub tells the connector which tunnels it serves on the control WebSocket, and routes
visitors to it over separate data connections; nothing orders the two. A slow link on the
control channel alone (a proxy between connector and hub that holds back what the hub sends
on that one connection) makes the race certain instead of a matter of load.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from jupyter_tunnels._wire.protocol import CONTROL_PATH
from jupyter_tunnels.connector import Connector
from tests._apps import Services
from tests._hubs import RunningHub
from tests._tunnels import visitor

pytestmark = pytest.mark.anyio

CONTROL_DELAY = 1.0
"""Seconds the slow link holds back every byte the hub sends on the control channel."""


class SlowControlLink:
    """A TCP proxy to the hub on 127.0.0.1 that delays the hub's bytes on control channels
    (connections whose request is ``GET {CONTROL_PATH}``) by :data:`CONTROL_DELAY`; API
    calls and data connections pass at once."""

    def __init__(self, hub_host: str, hub_port: int) -> None:
        self.hub_host = hub_host
        self.hub_port = hub_port
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The hub's URL through the proxy."""
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def start(self) -> None:
        """Listen on a free port."""
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        """Stop listening and end every proxied connection."""
        assert self.server is not None
        self.server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        hub_reader, hub_writer = await asyncio.open_connection(self.hub_host, self.hub_port)
        try:
            first = await reader.read(65536)
            control = first.startswith(f"GET {CONTROL_PATH}".encode())
            hub_writer.write(first)
            upstream = asyncio.create_task(_pipe(reader, hub_writer, 0.0))
            await _pipe(hub_reader, writer, CONTROL_DELAY if control else 0.0)
            upstream.cancel()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            hub_writer.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter, delay: float) -> None:
    """Copy ``source`` to ``sink``, each chunk ``delay`` seconds after it arrived."""
    loop = asyncio.get_running_loop()
    line: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await line.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not chunk:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            sink.write(chunk)
            await sink.drain()

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            chunk = await source.read(65536)
            line.put_nowait((loop.time() + delay, chunk))
            if not chunk:
                break
        await delivering
    finally:
        delivering.cancel()


@contextlib.asynccontextmanager
async def slow_connector(hub: RunningHub) -> AsyncIterator[Connector]:
    """A started connector whose control channel to ``hub`` is slow; closed at the end."""
    link = SlowControlLink(hub.server.host, hub.server.port)
    await link.start()
    connector = Connector(link.url, hub.token, client_instance_id="slow-link", pool_size=2)
    try:
        await connector.start()
        yield connector
    finally:
        await connector.close()
        await link.close()


async def test_expose_returns_a_tunnel_that_serves_at_once(
    hub: RunningHub, services: Services
) -> None:
    async with slow_connector(hub) as connector, visitor() as http:
        tunnel = await connector.expose(services.http_port, name="at-once", public=True)
        assert tunnel.status.value == "active"
        page = await http.get(tunnel.url)
        assert page.status_code == 200, page.text
        assert page.text == "hello from the app\n"


async def test_a_tunnel_created_on_the_lease_through_the_api_serves_at_once(
    hub: RunningHub, services: Services
) -> None:
    async with slow_connector(hub) as connector, visitor() as http:
        tunnel = await connector.client.create(
            f"127.0.0.1:{services.http_port}",
            name="scripted",
            access="public",
            lease_id=connector.lease_id,
        )
        assert tunnel.status.value == "active"
        page = await http.get(tunnel.url)
        assert page.status_code == 200, page.text
        assert page.text == "hello from the app\n"
