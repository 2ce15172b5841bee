"""The connector reaches its hub through an HTTP proxy (``HTTP_PROXY``/``HTTPS_PROXY``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from jupyter_tunnels._wire.splice import splice
from tests._apps import Services
from tests._hubs import RunningHub
from tests._tunnels import connector_for, visitor

pytestmark = pytest.mark.anyio


class _ForwardProxy(asyncio.Protocol):
    """A minimal forward proxy: ``CONNECT host:port`` tunnels and absolute-form requests."""

    seen: list[str]

    def __init__(self, seen: list[str], transports: set[asyncio.Transport]) -> None:
        self.seen = seen
        self.transports = transports
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.transports.add(transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.transport is None:
            return
        self.transport.pause_reading()
        head, rest = bytes(self.buffer[: end + 4]), bytes(self.buffer[end + 4 :])
        asyncio.get_running_loop().create_task(self._relay(self.transport, head, rest))

    async def _relay(self, client: asyncio.Transport, head: bytes, rest: bytes) -> None:
        method, target, _ = head.split(b"\r\n", 1)[0].split(b" ")
        if method == b"CONNECT":
            host, port = target.decode().rsplit(":", 1)
            self.seen.append(f"CONNECT {target.decode()}")
            first = rest
        else:  # GET http://host:port/path HTTP/1.1 → GET /path to host:port
            without_scheme = target.split(b"://", 1)[1]
            authority, _, path = without_scheme.partition(b"/")
            host, port = authority.decode().rsplit(":", 1)
            self.seen.append(f"{method.decode()} {target.decode()}")
            first = head.replace(target, b"/" + path, 1) + rest
        loop = asyncio.get_running_loop()
        upstream, _ = await loop.create_connection(asyncio.Protocol, host, int(port))
        self.transports.add(upstream)
        if method == b"CONNECT":
            client.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        splice(client, upstream, to_b=first)


@contextlib.asynccontextmanager
async def _proxy() -> AsyncIterator[tuple[str, list[str]]]:
    seen: list[str] = []
    transports: set[asyncio.Transport] = set()
    server = await asyncio.get_running_loop().create_server(
        lambda: _ForwardProxy(seen, transports), "127.0.0.1", 0
    )
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen
    finally:
        server.close()
        for transport in transports:
            transport.abort()


async def test_connector_works_through_an_http_proxy(
    hub: RunningHub, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _proxy() as (proxy_url, seen):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.setenv(name, proxy_url)
        async with connector_for(hub) as connector:
            tunnel = await connector.expose(services.http_port, public=True, name="proxied")
            async with visitor() as http:
                response = await http.get(tunnel.url)
    assert response.status_code == 200, response.text
    hub_authority = f"127.0.0.1:{hub.server.port}"
    # the control channel and the data connections tunnel through CONNECT...
    assert seen.count(f"CONNECT {hub_authority}") >= 2
    # ...and the API calls go through the proxy as plain HTTP requests
    assert any(line.startswith(f"POST http://{hub_authority}/v1/leases") for line in seen)
