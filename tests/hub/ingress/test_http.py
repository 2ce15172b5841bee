"""HTTP through the one ingress, on both hostings (``hosting``: a standalone hub with a connector,
and a hub embedded in a real Jupyter server): routing, forwarding headers, access on every
request, pause, errors, streaming, WebSockets, pipelining and kept-alive connections."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import ClassVar, cast

import httpx
import pytest
import websockets

from tests._apps import Services, event_lines, start_services
from tests._hubs import RunningHub
from tests._sockets import closed_port
from tests._tunnels import connector_for, hub_address, visitor
from tests.hub.ingress._hostings import Hosting
from tests.hub.ingress._raw import one_connection, raw_request

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024


async def test_the_app_is_served_with_forwarding_headers(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "web app", public=True)
    assert tunnel.url.endswith(hosting.tunnel_path(tunnel.slug))
    async with visitor() as http:
        page = await http.get(tunnel.url)
        seen = (
            await http.get(tunnel.url + "headers/a/b?x=1", headers={"X-Forwarded-For": "10.9.8.7"})
        ).json()
    assert (page.status_code, page.text) == (200, "hello from the app\n")
    assert (seen["path"], seen["query"]) == ("/headers/a/b", "x=1")
    headers = seen["headers"]
    assert headers["X-Forwarded-Prefix"] == f"{hosting.mount}/t/{tunnel.slug}"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == f"127.0.0.1:{hosting.port}"
    assert headers["X-Forwarded-For"] == "10.9.8.7, 127.0.0.1"
    assert headers["Host"] == f"127.0.0.1:{services.http_port}"


async def test_a_private_tunnel_wants_its_owner_on_every_request(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "private")
    async with visitor(limits=httpx.Limits(max_connections=1)) as http:
        allowed = await http.get(tunnel.url + "headers/", headers=hosting.owner)
        refused = await http.get(tunnel.url + "headers/")  # the same connection, no credential
        wrong = await http.get(tunnel.url, headers={"Authorization": "Bearer jtu_not-a-token"})
        again = await http.get(tunnel.url + "headers/", headers=hosting.owner)
    assert allowed.status_code == 200
    assert "Authorization" not in allowed.json()["headers"], "the owner's credential stays"
    assert (refused.status_code, refused.json()["code"]) == (401, "MISSING_AUTH")
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="jupyter-tunnels"'
    assert (wrong.status_code, wrong.json()["code"]) == (401, "INVALID_TOKEN")
    assert again.status_code == 200
    streams = {answer.extensions["network_stream"] for answer in (allowed, refused, wrong, again)}
    assert len(streams) == 1, "one kept-alive connection, every request judged"


async def test_a_hundred_requests_on_one_connection_are_each_judged(
    hosting: Hosting, services: Services
) -> None:
    """A share link's cookie revoked in the middle of a kept-alive connection stops working
    at the next request; the requests before it and the owner's after it are served."""
    tunnel = await hosting.expose(services.http_port, "judged")
    grant = await hosting.share(tunnel)
    cookie = {"Cookie": f"tunnels_share={grant['token']}; app=1"}
    statuses = []
    streams = set()
    async with visitor(limits=httpx.Limits(max_connections=1)) as http:
        for number in range(100):
            if number == 50:
                await hosting.revoke(grant)
            headers = hosting.owner if number >= 75 else cookie
            answer = await http.get(tunnel.url + f"headers/{number}", headers=headers)
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                assert answer.json()["headers"].get("Cookie") in (None, "app=1")
            streams.add(id(answer.extensions["network_stream"]))
    assert statuses == [200] * 50 + [403] * 25 + [200] * 25
    assert len(streams) == 1, "all on one connection"


async def test_pause_is_checked_on_every_request(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "pausable", public=True)
    async with visitor(limits=httpx.Limits(max_connections=1)) as http:
        first = await http.get(tunnel.url)
        await hosting.set_status(tunnel, "paused")
        paused = await http.get(tunnel.url)
        page = await http.get(tunnel.url, headers={"Accept": "text/html"})
        await hosting.set_status(tunnel, "active")
        resumed = await http.get(tunnel.url)
    assert first.status_code == 200 and first.headers.get("Connection") != "close"
    assert (paused.status_code, paused.json()["code"]) == (503, "AGENT_UNAVAILABLE")
    assert "paused" in paused.json()["message"]
    assert page.status_code == 503 and "<h1>This tunnel is not serving right now</h1>" in page.text
    assert resumed.status_code == 200
    streams = {a.extensions["network_stream"] for a in (first, paused, page, resumed)}
    assert len(streams) == 1


async def test_clear_answers_for_bad_visits(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "errors", public=True)
    down_port = closed_port()
    down = await hosting.expose(down_port, "down", public=True)
    async with visitor() as http:
        bare = await http.get(tunnel.url.rstrip("/") + "?q=1")
        unknown = await http.get(tunnel.url.replace(tunnel.slug, "no-such-tunnel"))
        unknown_page = await http.get(
            tunnel.url.replace(tunnel.slug, "no-such-tunnel"), headers={"Accept": "text/html"}
        )
        not_answering = await http.get(down.url)
    assert bare.status_code == 308
    assert bare.headers["Location"] == f"{hosting.mount}/t/{tunnel.slug}/?q=1"
    assert (unknown.status_code, unknown.json()["code"]) == (404, "TUNNEL_NOT_FOUND")
    assert unknown_page.headers["Content-Type"].startswith("text/html")
    assert "<h1>No tunnel here</h1>" in unknown_page.text
    assert (not_answering.status_code, not_answering.json()["code"]) == (502, "LOCAL_UNAVAILABLE")
    assert f"port {down_port} is not answering" in not_answering.json()["message"]


async def test_uploads_and_downloads_stream(hosting: Hosting, services: Services) -> None:
    size = 64 * MIB
    tunnel = await hosting.expose(services.http_port, "bulk", public=True)

    async def body() -> AsyncIterator[bytes]:
        block = bytes(MIB)
        for _ in range(size // MIB):
            yield block

    received = 0
    async with visitor(timeout=60) as http:
        uploaded = await http.post(tunnel.url + "upload", content=body())
        async with http.stream("GET", tunnel.url + f"download?size={size}") as stream:
            async for chunk in stream.aiter_raw():
                received += len(chunk)
    assert uploaded.json() == {"received": size}
    assert received == size


async def test_server_sent_events_arrive_one_by_one(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "events", public=True)
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


async def test_websockets_pass_both_ways(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "sockets")
    url = tunnel.url.replace("http://", "ws://") + "ws"
    async with websockets.connect(url, additional_headers=hosting.owner) as socket:
        for message in ("hello", b"\x00\x01binary\xff"):
            await socket.send(message)
            assert await socket.recv() == message
        await asyncio.sleep(1.0)  # an idle WebSocket is not cut
        await socket.send("still there")
        assert await socket.recv() == "still there"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 401


async def test_pipelined_requests_are_answered_in_order(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "pipe", public=True)
    requests = [raw_request("GET", tunnel.url + f"headers/{name}") for name in "abc"]
    requests[-1] = raw_request("GET", tunnel.url + "headers/c", close=True)
    answers = await one_connection(hosting.host, hosting.port, requests, pipelined=True)
    paths = [re.findall(rb'"path": "([^"]+)"', content)[0] for _, _, content in answers]
    assert [status for status, _, _ in answers] == [200, 200, 200]
    assert paths == [b"/headers/a", b"/headers/b", b"/headers/c"]


async def test_visitors_share_kept_alive_connections_to_the_app(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "pooled", public=True)
    peers = []
    for _ in range(3):  # three visitors, each on a new connection that closes
        async with visitor() as http:
            response = await http.get(tunnel.url + "peer", headers={"Connection": "close"})
        assert response.headers["connection"] == "close"
        peers.append(response.json()["peer"])
    # the app saw one connection: the hub kept it for the next visitor
    assert len(set(peers)) == 1


# --- the standalone hub only ---------------------------------------------------------------


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


async def test_a_public_tunnel_passes_the_apps_own_authorization(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="headers")
        async with visitor() as http:
            seen = await http.get(
                tunnel.url + "headers/", headers={"Authorization": "Bearer app-token"}
            )
    assert seen.json()["headers"]["Authorization"] == "Bearer app-token"


async def test_rotating_moves_a_kept_alive_connection_to_the_new_target(
    hosting: Hosting, services: Services
) -> None:
    other = start_services("other")
    try:
        tunnel = await hosting.expose(services.http_port, "rotating", public=True)
        async with visitor(limits=httpx.Limits(max_connections=1)) as http:
            before = await http.get(tunnel.url + "peer")
            await hosting.call(
                "POST", f"/tunnels/{tunnel.id}/rotate", {"target": f"127.0.0.1:{other.http_port}"}
            )
            after = await http.get(tunnel.url + "peer")
            again = await http.get(tunnel.url + "peer")
    finally:
        other.stop()
    assert [a.json()["app"] for a in (before, after, again)] == ["app", "other", "other"]
    streams = {a.extensions["network_stream"] for a in (before, after, again)}
    assert len(streams) == 1, "the visitor's connection stays; its upstream changes"


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
