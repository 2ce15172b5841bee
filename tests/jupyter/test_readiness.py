"""Inside Jupyter too each tunnel's readiness is its own target's: the server's connector
reports it per tunnel to the embedded hub, which the Lab panel and the kernels read through
``tunnels/v1/tunnels``."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from jupyter_server.serverapp import ServerApp

from tests._apps import Services
from tests._sockets import closed_port
from tests.jupyter._helpers import Fetch, body, start

JSON = {"Content-Type": "application/json"}
WAIT = 15.0
"""Seconds to wait for a heartbeat to report (the suite's leases beat every 2 s)."""
READY = {"connectedToHub": True, "localReady": True, "lastError": None}


def not_listening(port: int) -> dict[str, Any]:
    error = f"port {port} is not listening on 127.0.0.1: start your app first"
    return {"connectedToHub": True, "localReady": False, "lastError": error}


async def expose(jp_fetch: Fetch, port: int, name: str) -> str:
    """``POST tunnels/expose``; the tunnel's id."""
    answer = await jp_fetch(
        "tunnels", "expose", method="POST", headers=dict(JSON),
        body=json.dumps({"port": port, "name": name}),
    )  # fmt: skip
    tunnel_id: str = body(answer)["id"]
    return tunnel_id


async def readiness(jp_fetch: Fetch, *tunnel_ids: str) -> list[dict[str, Any]]:
    """The tunnels' ``readiness`` as the listing the Lab panel polls shows them."""
    listed = {t["id"]: t["readiness"] for t in body(await jp_fetch("tunnels", "v1", "tunnels"))}
    return [listed[tunnel_id] for tunnel_id in tunnel_ids]


async def test_only_the_tunnel_whose_port_is_silent_is_not_answering(
    jp_fetch: Fetch, jp_serverapp: ServerApp, services: Services
) -> None:
    await start(jp_serverapp)
    port = closed_port()
    answering = await expose(jp_fetch, services.http_port, "answering")
    silent = await expose(jp_fetch, port, "silent")

    async def until_silent_shows(wanted: dict[str, Any], *, answering_stays: bool) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            first, second = await readiness(jp_fetch, answering, silent)
            if answering_stays:
                assert first == READY  # whatever the other port does
            if first == READY and second == wanted:
                return
            assert asyncio.get_running_loop().time() < deadline, (first, second)
            await asyncio.sleep(0.05)

    await until_silent_shows(not_listening(port), answering_stays=False)
    with socket.create_server(("127.0.0.1", port)):  # the app starts: the kernel accepts
        await until_silent_shows(READY, answering_stays=True)
