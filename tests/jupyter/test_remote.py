"""The extension against a standalone hub: no embedded hub, the API forwarded with the
configured token, and the connector's tunnels on that hub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.serverapp import ServerApp

from tests._apps import Services
from tests._hubs import RunningHub, start_hub
from tests.jupyter._helpers import Fetch, body, start, tunnels_app
from tests.jupyter._kernels import Kernel


@pytest.fixture
def remote_hub(tmp_path: Path) -> Iterator[RunningHub]:
    """A standalone hub on 127.0.0.1:0."""
    hub = start_hub(tmp_path / "remote" / "hub.db")
    yield hub
    hub.stop()


@pytest.fixture
def tunnels_config(remote_hub: RunningHub) -> dict[str, Any]:
    """``c.TunnelsApp`` pointing at the remote hub."""
    return {"hub_url": remote_hub.url, "token": remote_hub.token}


async def test_remote_mode_forwards_the_api_with_the_token(
    jp_fetch: Fetch, jp_serverapp: ServerApp, remote_hub: RunningHub, services: Services
) -> None:
    app = await start(jp_serverapp)
    assert app.embedded is None
    info = body(await jp_fetch("tunnels", "info"))
    assert info["mode"] == "remote"
    assert info["hubUrl"] == remote_hub.url

    wanted = {"port": services.http_port, "name": "remote-app"}
    exposed = body(await jp_fetch("tunnels", "expose", method="POST", body=json.dumps(wanted)))
    assert exposed["status"] == "active"
    assert exposed["url"].startswith(remote_hub.url)

    listed = body(await jp_fetch("tunnels", "v1", "tunnels"))
    assert [tunnel["id"] for tunnel in listed] == [exposed["id"]]
    missing = await jp_fetch("tunnels", "v1", "tunnels", "nope", raise_error=False)
    assert missing.code == 404
    assert body(missing)["code"] == "TUNNEL_NOT_FOUND"

    refused = await jp_fetch("tunnels", "v1", "tunnels", headers={"Authorization": ""},
                             raise_error=False)  # fmt: skip
    assert refused.code == 403

    await app.stop_extension()
    tunnel = remote_hub.call(_status(remote_hub, exposed["id"]))
    assert tunnel == "stopped"


async def _status(hub: RunningHub, tunnel_id: str) -> str:
    owner = await hub.server.hub.owners.owner_for_token(hub.token)
    assert owner is not None
    tunnel = await hub.server.hub.tunnels.get(owner, tunnel_id)
    return tunnel.status.value


async def test_remote_stop_is_safe_when_never_started(jp_serverapp: ServerApp) -> None:
    app = tunnels_app(jp_serverapp)
    await app.stop_extension()
    assert app.connector is None


async def test_a_kernel_exposes_on_the_remote_hub(
    jp_fetch: Fetch, jp_serverapp: ServerApp, remote_hub: RunningHub, services: Services
) -> None:
    await start(jp_serverapp)
    kernel = await Kernel.start(jp_serverapp)
    try:
        await kernel.run("%load_ext jupyter_tunnels")
        made = await kernel.run(
            f"t = %tunnel expose {services.http_port} --name remote-k --public\nprint(t.url)"
        )
        url = made.stdout.strip()
        assert url.startswith(remote_hub.url + "/t/")
        page = await kernel.run(f"import httpx\nprint(httpx.get({url!r}).text, end='')")
        assert page.stdout == "hello from the app\n"
        listed = await kernel.run("%tunnel list")
        assert "remote-k" in listed.text
        closed = await kernel.run("%tunnel close remote-k")
        assert "stopped" in closed.text
    finally:
        await kernel.shutdown()
    assert remote_hub.call(_status_by_name(remote_hub, "remote-k")) == "stopped"


async def _status_by_name(hub: RunningHub, name: str) -> str:
    owner = await hub.server.hub.owners.owner_for_token(hub.token)
    assert owner is not None
    every = await hub.server.hub.tunnels.list(owner, include_inactive=True)
    (tunnel,) = [tunnel for tunnel in every if tunnel.name == name]
    return tunnel.status.value
