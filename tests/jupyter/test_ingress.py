"""The ingress inside Jupyter, from inside the server process (pytest-jupyter): what only the
server itself can see. Everything a visitor sees is tested on both hostings, against a real
Jupyter server process, in tests/hub/ingress/ (the same suite as the standalone hub's).

Here: a visitor connection (a WebSocket) keeps an idle-culled server busy, each tunnel request
is activity of the server, and another connector attached to the embedded hub serves its
tunnels through data connections (handed over to the front like visitors)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import httpx
import websockets
from jupyter_server.serverapp import ServerApp

from jupyter_tunnels.connector import Connector
from tests._apps import Services
from tests.jupyter._helpers import body, start, tunnels_app

JSON = {"Content-Type": "application/json"}


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


async def test_each_tunnel_request_is_activity_of_the_server(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    await start(jp_serverapp)
    tunnel = await expose(jp_fetch, port=services.http_port, name="busy", public=True)
    settings = jp_serverapp.web_app.settings
    settings["api_last_activity"] = before = datetime(2000, 1, 1).astimezone()
    async with visitor() as http:
        assert (await http.get(tunnel["url"])).status_code == 200
    assert settings["api_last_activity"] > before


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
