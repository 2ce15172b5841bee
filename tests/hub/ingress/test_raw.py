"""Raw TCP and UDP through the hub: public hub ports, CONNECT for private tunnels, half-close."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable

import pytest

from tests._apps import Services
from tests._hubs import RunningHub
from tests._tunnels import WAIT, connector_for, hub_address, udp_roundtrip, wait_for_status

pytestmark = pytest.mark.anyio


@pytest.fixture
def ports_hub(make_hub: Callable[..., RunningHub], unused_tcp_port_range: range) -> RunningHub:
    """A hub with a small range of TCP/UDP ports of its own."""
    return make_hub(tcp_ports=(unused_tcp_port_range.start, unused_tcp_port_range.stop - 1))


async def _echo_with_half_close(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        writer.write_eof()  # we are done sending; the answer must still come back
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()


async def test_public_tcp_tunnel_on_a_hub_port_with_half_close(
    ports_hub: RunningHub, services: Services
) -> None:
    async with connector_for(ports_hub) as connector:
        tunnel = await connector.expose(services.tcp_port, protocol="tcp", public=True)
        assert tunnel.protocol.value == "tcp"
        first, last = ports_hub.server.hub.config.tcp_ports or (0, 0)
        assert tunnel.hub_port in range(first, last + 1)  # the configured range is inclusive
        assert tunnel.url == f"tcp://127.0.0.1:{tunnel.hub_port}"
        assert tunnel.hub_port is not None
        payload = b"x" * 300_000
        answer = await _echo_with_half_close(tunnel.hub_port, payload)
    assert answer == payload + b"total:300000"


async def test_tcp_streams_are_independent(ports_hub: RunningHub, services: Services) -> None:
    async with connector_for(ports_hub) as connector:
        tunnel = await connector.expose(services.tcp_port, protocol="tcp", public=True)
        assert tunnel.hub_port is not None
        answers = await asyncio.gather(
            *(_echo_with_half_close(tunnel.hub_port, f"stream {n}".encode()) for n in range(8))
        )
    for number, answer in enumerate(answers):
        body = f"stream {number}".encode()
        assert answer == body + f"total:{len(body)}".encode()


async def test_private_tcp_tunnel_is_reached_with_connect(
    ports_hub: RunningHub, services: Services
) -> None:
    other = ports_hub.new_owner("eve")
    async with connector_for(ports_hub) as connector:
        tunnel = await connector.expose(services.tcp_port, protocol="tcp", name="echo")
        assert tunnel.hub_port is not None
        # a private tunnel opens no port of its own on the hub
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", tunnel.hub_port)
        host, port = hub_address(ports_hub)

        async def connect(token: str) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(
                f"CONNECT echo:0 HTTP/1.1\r\nHost: echo\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
            return head, reader, writer

        head, reader, writer = await connect(ports_hub.token)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.write(b"ping")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), WAIT) == b"pingtotal:4"
        writer.close()

        head, _, writer = await connect(other)
        assert head.startswith(b"HTTP/1.1 401 ")
        writer.close()


async def test_udp_tunnel_carries_datagrams(ports_hub: RunningHub, services: Services) -> None:
    async with connector_for(ports_hub) as connector:
        tunnel = await connector.expose(services.udp_port, protocol="udp", public=True)
        assert tunnel.url.startswith("udp://127.0.0.1:")
        assert tunnel.hub_port is not None
        assert await udp_roundtrip(tunnel.hub_port, b"first") == b"echo:first"
        payload = base64.b64encode(bytes(range(256)) * 20)
        assert await udp_roundtrip(tunnel.hub_port, payload) == b"echo:" + payload


async def test_paused_tcp_tunnel_refuses_new_connections(
    ports_hub: RunningHub, services: Services
) -> None:
    async with connector_for(ports_hub) as connector:
        tunnel = await connector.expose(services.tcp_port, protocol="tcp", public=True)
        assert tunnel.hub_port is not None
        await connector.client.update(tunnel.id, status="paused")
        reader, writer = await asyncio.open_connection("127.0.0.1", tunnel.hub_port)
        writer.write(b"hello")
        # closed without a byte of answer (maybe a reset, since "hello" was never read)
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), WAIT) == b""
        writer.close()
        await connector.client.update(tunnel.id, status="active")
        await wait_for_status(connector, tunnel, "active")
        assert await _echo_with_half_close(tunnel.hub_port, b"back") == b"backtotal:4"
