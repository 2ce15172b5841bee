"""The ingress inside Jupyter: visitors reach the tunnel's app through ``{base_url}tunnels/t/``,
streamed both ways, with forwarding headers set and Jupyter's credentials left behind."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets
from jupyter_server.serverapp import ServerApp

from jupyter_tunnels.connector import Connector

from .._apps import Services, event_lines
from ._helpers import body, start, tunnels_app

JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024


async def expose(jp_fetch: Any, **wanted: Any) -> dict[str, Any]:
    """``POST tunnels/expose``; the Tunnel."""
    answer = await jp_fetch(
        "tunnels", "expose", method="POST", body=json.dumps(wanted), headers=dict(JSON)
    )
    result: dict[str, Any] = body(answer)
    return result


def visitor() -> httpx.AsyncClient:
    """A visitor with no Jupyter credentials (fixtures must be synchronous here)."""
    return httpx.AsyncClient(timeout=20)


def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def jupyter_token(serverapp: ServerApp) -> str:
    """The server's login token."""
    token = serverapp.identity_provider.token
    assert token, "the test server has a token"
    return token


async def test_public_app_is_served_with_forwarding_headers(
    jp_fetch: Any, jp_serverapp: ServerApp, jp_base_url: str, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="web", public=True)
        page = await http.get(tunnel["url"])
        assert page.status_code == 200
        assert page.text == "hello from the app\n"

        chained = {"X-Forwarded-For": "10.9.8.7"}
        seen = (await http.get(tunnel["url"] + "headers/deep?x=1", headers=chained)).json()
        assert seen["path"] == "/headers/deep"
        assert seen["query"] == "x=1"
        headers = seen["headers"]
        prefix = f"{jp_base_url}tunnels/t/{tunnel['slug']}"
        assert headers["X-Forwarded-Prefix"] == prefix
        assert headers["X-Forwarded-Host"] == f"127.0.0.1:{jp_serverapp.port}"
        assert headers["X-Forwarded-Proto"] == "http"
        assert headers["X-Forwarded-For"] == "10.9.8.7, 127.0.0.1"
        assert headers["Host"] == f"127.0.0.1:{services.http_port}"


async def test_jupyter_credentials_never_reach_the_app(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="private-app")
        assert tunnel["access"] == "private"
        token = jupyter_token(jp_serverapp)
        url = tunnel["url"] + f"headers?token={token}&_xsrf=abc&keep=1&token=other"

        refused = await http.get(url.replace(f"token={token}&", ""))
        assert refused.status_code == 401
        assert refused.json()["code"] == "MISSING_AUTH"

        answer = await jp_fetch("tunnels", "info")  # token-authenticated: Jupyter sets its cookie
        (login,) = [value.split(";", 1)[0] for value in answer.headers.get_list("Set-Cookie")]
        assert login.startswith("username-")
        cookie = f"{login}; _xsrf=2|abc; app_session=kept; jupyterhub-session-id=x"
        seen = (
            await http.get(
                url,
                headers={"Authorization": f"token {token}", "Cookie": cookie, "X-XSRFToken": "abc"},
            )
        ).json()
        headers = seen["headers"]
        assert "Authorization" not in headers
        assert "X-Xsrftoken" not in headers
        assert headers["Cookie"] == "app_session=kept"
        assert seen["query"] == "keep=1&token=other"


async def test_streams_flow_both_ways_unbuffered(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="streams", public=True)

        async def upload() -> AsyncIterator[bytes]:
            block = bytes(MIB)
            for _ in range(64):
                yield block

        uploaded = await http.post(tunnel["url"] + "upload", content=upload())
        assert uploaded.json() == {"received": 64 * MIB}

        received = 0
        async with http.stream("GET", tunnel["url"] + f"download?size={64 * MIB}") as download:
            async for chunk in download.aiter_raw():
                received += len(chunk)
        assert received == 64 * MIB

        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        arrivals: list[float] = []
        started = loop.time()
        async with http.stream("GET", tunnel["url"] + "events?count=4&interval=0.3") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            async for chunk in events.aiter_raw():
                chunks.append(chunk)
                arrivals.append(loop.time() - started)
        assert event_lines(chunks) == ["event 0", "event 1", "event 2", "event 3"]
        assert len(arrivals) >= 4 and arrivals[-1] - arrivals[0] >= 0.6


async def test_websocket_passes_through_and_counts_as_activity(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    app = await start(jp_serverapp)
    tunnel = await expose(jp_fetch, port=services.http_port, name="sockets", public=True)
    assert not app.current_activity()
    ws_url = tunnel["url"].replace("http://", "ws://") + "ws"
    async with websockets.connect(ws_url) as echo:
        for message in ("hello", b"\x00binary\xff"):
            await echo.send(message)
            assert await echo.recv() == message
        assert app.current_activity()
    for _ in range(100):  # the relay ends once both sides have closed
        if not app.current_activity():
            break
        await asyncio.sleep(0.05)
    assert not app.current_activity()


async def test_each_request_is_judged_on_its_own(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="judged", public=True)
        first = await http.get(tunnel["url"])
        assert first.status_code == 200
        assert first.headers["Connection"] == "close"  # the next request comes on a new connection

        await jp_fetch(
            "tunnels", "v1", "tunnels", tunnel["id"], method="PATCH",
            body=json.dumps({"status": "paused"}), headers=dict(JSON),
        )  # fmt: skip
        paused = await http.get(tunnel["url"])
        assert paused.status_code == 503
        assert "paused" in paused.json()["message"]

        await jp_fetch(
            "tunnels", "v1", "tunnels", tunnel["id"], method="PATCH",
            body=json.dumps({"status": "active"}), headers=dict(JSON),
        )  # fmt: skip
        assert (await http.get(tunnel["url"])).status_code == 200


async def test_clear_errors_for_bad_visits(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="errors", public=True)
        bare = tunnel["url"].rstrip("/")
        redirect = await http.get(bare + "?a=1")
        assert redirect.status_code == 308
        assert redirect.headers["Location"].endswith(f"/t/{tunnel['slug']}/?a=1")

        unknown = await http.get(bare.replace(tunnel["slug"], "no-such-tunnel") + "/")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "TUNNEL_NOT_FOUND"


async def test_target_down_gives_a_clear_502(jp_fetch: Any, jp_serverapp: ServerApp) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        port = unused_port()
        tunnel = await expose(jp_fetch, port=port, name="down", public=True)
        answer = await http.get(tunnel["url"])
        assert answer.status_code == 502
        error = answer.json()
        assert error["code"] == "LOCAL_UNAVAILABLE"
        assert f"127.0.0.1:{port}" in error["message"]


async def test_another_connector_serves_through_data_connections(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        app = await start(jp_serverapp)
        embedded = app.embedded
        assert embedded is not None and embedded.token is not None
        hub_url = app.local_url() + "tunnels"
        connector = Connector(hub_url, embedded.token, client_instance_id="terminal", pool_size=2)
        await connector.start()
        try:
            tunnel = await connector.expose(services.http_port, name="from-a-terminal", public=True)
            assert not embedded.dials(embedded.hub.router.by_id[tunnel.id])
            for _ in range(3):
                page = await http.get(tunnel.url)
                assert page.text == "hello from the app\n"
        finally:
            await connector.close(release=True)
        assert tunnels_app(jp_serverapp) is app
