"""HTTP through a real hub and a real connector: routing, headers, streaming, WebSockets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import ClassVar, cast

import httpx
import pytest
import websockets

from tests._apps import Services, event_lines, start_services
from tests._hubs import RunningHub
from tests._tunnels import connector_for, http_get_raw, hub_address, visitor

pytestmark = pytest.mark.anyio


@pytest.fixture
def services() -> Iterator[Services]:
    """The HTTP app, TCP echo and UDP echo services."""
    running = start_services()
    yield running
    running.stop()


async def test_public_http_tunnel_serves_the_app(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="web app")
        assert tunnel.status.value == "active"
        assert tunnel.url == f"{hub.url}/t/web-app/"
        async with visitor() as http:
            response = await http.get(tunnel.url)
        assert response.status_code == 200
        assert response.text == "hello from the app\n"


async def test_path_routing_strips_prefix_and_sets_forwarded_headers(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="headers")
        async with visitor() as http:
            response = await http.get(
                tunnel.url + "headers/a/b?x=1",
                headers={"Authorization": "Bearer app-token", "X-Forwarded-For": "10.9.8.7"},
            )
    seen = response.json()
    assert seen["path"] == "/headers/a/b"
    assert seen["query"] == "x=1"
    headers = seen["headers"]
    assert headers["X-Forwarded-Prefix"] == "/t/headers"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == f"127.0.0.1:{hub.server.port}"
    assert headers["X-Forwarded-For"] == "10.9.8.7, 127.0.0.1"
    assert headers["Host"] == f"127.0.0.1:{services.http_port}"
    # a public tunnel's Authorization header belongs to the app
    assert headers["Authorization"] == "Bearer app-token"


async def test_redirects_bare_slug_to_trailing_slash(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="slash")
        async with visitor() as http:
            response = await http.get(tunnel.url.rstrip("/") + "?q=1")
    assert response.status_code == 308
    assert response.headers["Location"] == "/t/slash/?q=1"


async def test_subdomain_routing(make_hub: Callable[..., RunningHub], services: Services) -> None:
    hub = make_hub(domain="tun.localhost")
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="sub")
        assert tunnel.url == f"http://sub.tun.localhost:{hub.server.port}/"
        host, port = hub_address(hub)
        async with visitor() as http:
            response = await http.get(
                f"http://{host}:{port}/headers/x",
                headers={"Host": f"sub.tun.localhost:{port}"},
            )
    assert response.status_code == 200
    seen = response.json()
    assert seen["path"] == "/headers/x"
    assert "X-Forwarded-Prefix" not in seen["headers"]
    assert seen["headers"]["X-Forwarded-Host"] == f"sub.tun.localhost:{port}"


async def test_private_tunnel_needs_owner_token_on_every_request(
    hub: RunningHub, services: Services
) -> None:
    other = hub.new_owner("mallory")
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, name="private")
        async with visitor() as http:
            owner = {"Authorization": f"Bearer {hub.token}"}
            allowed = await http.get(tunnel.url + "headers/", headers=owner)
            # the same kept-alive connection, now without the token: judged on its own
            refused = await http.get(tunnel.url + "headers/")
            foreign = await http.get(tunnel.url, headers={"Authorization": f"Bearer {other}"})
    assert allowed.status_code == 200
    # the hub's own credential never reaches the app
    assert "Authorization" not in allowed.json()["headers"]
    assert refused.status_code == 401
    assert refused.json()["code"] == "MISSING_AUTH"
    assert foreign.status_code == 401
    assert foreign.json()["code"] == "INVALID_TOKEN"


async def test_keep_alive_connection_switches_between_tunnels_and_api(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        first = await connector.expose(services.http_port, public=True, name="one")
        second = await connector.expose(
            services.http_port, public=True, name="two", protocol="http"
        )
        async with visitor(limits=httpx.Limits(max_connections=1)) as http:
            answers = [
                await http.get(first.url + "headers/1"),
                await http.get(f"{hub.url}/v1/health"),
                await http.get(second.url + "headers/2"),
                await http.get(first.url + "headers/3"),
            ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200]
    assert answers[0].json()["headers"]["X-Forwarded-Prefix"] == "/t/one"
    assert answers[1].json()["status"] == "ok"
    assert answers[2].json()["headers"]["X-Forwarded-Prefix"] == "/t/two"
    assert answers[3].json()["path"] == "/headers/3"


async def test_pipelined_requests_are_answered_in_order(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="pipe")
        host, port = hub_address(hub)
        request = (
            b"GET /t/pipe/headers/a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /t/pipe/headers/b HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /t/pipe/headers/c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        raw = await http_get_raw(host, port, request)
    assert tunnel.slug == "pipe"
    assert raw.count(b"HTTP/1.1 200 OK") == 3
    paths = re.findall(rb'"path": "([^"]+)"', raw)
    assert paths == [b"/headers/a", b"/headers/b", b"/headers/c"]


async def test_server_sent_events_arrive_one_by_one(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="events")
        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        arrivals: list[float] = []
        async with visitor() as http:
            started = loop.time()
            async with http.stream("GET", tunnel.url + "events?count=4&interval=0.3") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                async for chunk in stream.aiter_raw():
                    chunks.append(chunk)
                    arrivals.append(loop.time() - started)
    assert event_lines(chunks) == ["event 0", "event 1", "event 2", "event 3"]
    # the first event came long before the stream ended: nothing was buffered whole
    assert len(arrivals) >= 4
    assert arrivals[-1] - arrivals[0] >= 0.6


async def test_websocket_echo(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="sockets")
        url = tunnel.url.replace("http://", "ws://") + "ws"
        async with websockets.connect(url) as socket:
            await socket.send("hello")
            assert await socket.recv() == "hello"
            await socket.send(b"\x00\x01binary")
            assert await socket.recv() == b"\x00\x01binary"
            # an idle WebSocket is not cut
            await asyncio.sleep(1.0)
            await socket.send("still there")
            assert await socket.recv() == "still there"


async def test_upload_and_download_stream(hub: RunningHub, services: Services) -> None:
    size = 64 * 1024 * 1024
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="bulk")

        async def body() -> object:
            block = bytes(1024 * 1024)
            for _ in range(size // len(block)):
                yield block

        async with visitor(timeout=60) as http:
            uploaded = await http.post(tunnel.url + "upload", content=body())
            received = 0
            async with http.stream("GET", tunnel.url + f"download?size={size}") as stream:
                async for chunk in stream.aiter_raw():
                    received += len(chunk)
    assert uploaded.json() == {"received": size}
    assert received == size


async def test_local_app_down_gives_clear_502(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        closed_port = services.udp_port  # nothing listens on TCP there
        tunnel = await connector.expose(closed_port, public=True, name="down", protocol="http")
        async with visitor() as http:
            response = await http.get(tunnel.url)
    assert response.status_code == 502
    assert f"port {closed_port} is not answering" in response.json()["message"]


async def test_unknown_tunnel_is_404(hub: RunningHub) -> None:
    async with visitor() as http:
        response = await http.get(f"{hub.url}/t/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "TUNNEL_NOT_FOUND"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (b"Content-Length: 3\r\nTransfer-Encoding: chunked", b"both Content-Length and"),
        (b"Content-Length: 3\r\nContent-Length: 4", b"conflicting Content-Length"),
        (b"Transfer-Encoding: gzip", b"unsupported Transfer-Encoding"),
        (b"X-Folded: a\r\n b", b"folded header lines"),
        # a bare LF (or CR) may end a line for the app, not for the hub: never passed on
        (b"X-Note: a\nContent-Length: 5", b"a bare CR or LF"),
        (b"X-Note: a\rContent-Length: 5", b"a bare CR or LF"),
        (b"Bad Name: x", b"malformed header line"),
        (b"NoColon", b"malformed header line"),
    ],
)
async def test_malformed_request_is_400(hub: RunningHub, fields: bytes, reason: bytes) -> None:
    host, port = hub_address(hub)
    raw = await http_get_raw(
        host, port, b"POST /t/x/ HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert reason in raw


async def test_malformed_chunked_body_is_400(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        await connector.expose(services.http_port, public=True, name="chunks")
        host, port = hub_address(hub)
        raw = await http_get_raw(
            host,
            port,
            b"POST /t/chunks/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nWiki\r\nzz\r\n",
        )
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert b"bad chunk size" in raw


async def test_visitors_share_kept_alive_connections_to_the_app(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="pooled")
        peers = []
        for _ in range(3):  # three visitors, each on a new connection that closes
            async with visitor() as http:
                response = await http.get(tunnel.url + "peer", headers={"Connection": "close"})
            assert response.headers["connection"] == "close"
            peers.append(response.json()["peer"])
    # the app saw one connection: the hub kept it for the next visitor
    assert len(set(peers)) == 1


async def test_rotating_drops_kept_connections_to_the_old_target(
    hub: RunningHub, services: Services
) -> None:
    other = start_services("other")
    try:
        async with connector_for(hub) as connector:
            tunnel = await connector.expose(services.http_port, public=True, name="rotating")
            async with visitor() as http:
                before = await http.get(tunnel.url + "peer", headers={"Connection": "close"})
            await connector.client.rotate(tunnel.id, other.http_port)
            async with visitor() as http:
                after = await http.get(tunnel.url + "peer", headers={"Connection": "close"})
    finally:
        other.stop()
    assert before.json()["app"] == "app"
    assert after.json()["app"] == "other"


class _KeepOpenApp(asyncio.Protocol):
    """Answers every request head with ``ok`` and stays open even after the client's EOF."""

    opened: ClassVar[list[asyncio.BaseTransport]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""
        self.opened.append(transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            cast(asyncio.Transport, self.transport).write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            )

    def eof_received(self) -> bool:
        return True


async def test_a_half_closed_visitor_leaves_no_broken_connection_behind(hub: RunningHub) -> None:
    app = await asyncio.get_running_loop().create_server(_KeepOpenApp, "127.0.0.1", 0)
    app_port = app.sockets[0].getsockname()[1]
    try:
        async with connector_for(hub) as connector:
            tunnel = await connector.expose(app_port, public=True, name="halfclose")
            host, port = hub_address(hub)
            for _ in range(3):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(b"GET /t/halfclose/ HTTP/1.1\r\nHost: x\r\n\r\n")
                writer.write_eof()  # done sending: the answer must still come
                answer = await asyncio.wait_for(reader.readuntil(b"ok"), 15)
                writer.close()
                assert answer.startswith(b"HTTP/1.1 200 ")
                # the half-closed connection to the app must not serve the next visitor
                async with visitor() as http:
                    response = await http.get(tunnel.url, headers={"Connection": "close"})
                assert response.status_code == 200
                assert response.text == "ok"
    finally:
        app.close()
        for transport in _KeepOpenApp.opened:
            transport.close()
        _KeepOpenApp.opened.clear()
        await asyncio.sleep(0)
