"""Two Jupyter servers of one user, side by side: each has its own embedded store (issue 14,
item 5).

Both are real ``jupyter server`` processes sharing one Jupyter data directory, as two
JupyterLabs (or a JupyterLab and a VS Code kernel server) of one user do. Neither lists the
other's tunnels; each runs its hub on a store of its own; a server started again on the same
port finds its store again, and the same tunnel exposed again gets the same URL.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jupyter_tunnels.jupyter._config import server_store
from tests.notebooks._jupyter_server import RunningServer, isolated_environment, start_server

TIMEOUT = 30.0
PER_SERVER_STORE = "--TunnelsApp.db_path="
"""Unsets the test helper's ``db_path``: the server's own store, the default a user gets."""


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[RunningServer]]:
    """Servers started by the test (all stopped at the end)."""
    started: list[RunningServer] = []
    yield started
    for server in started:
        server.stop()


def _start(tmp_path: Path, name: str, env: dict[str, str], port: int = 0) -> RunningServer:
    home = tmp_path / name
    root = home / "root"
    root.mkdir(parents=True, exist_ok=True)
    return start_server(home, root, env=env, port=port, extra_args=[PER_SERVER_STORE])


def _call(server: RunningServer, method: str, path: str, **options: Any) -> Any:
    answer = httpx.request(
        method,
        server.url + path,
        headers={"Authorization": f"token {server.token}"},
        timeout=TIMEOUT,
        trust_env=False,
        **options,
    )
    assert answer.is_success, answer.text
    return answer.json()


def _port(server: RunningServer) -> int:
    port = httpx.URL(server.url).port
    assert port is not None
    return port


def test_two_servers_keep_their_own_tunnels_and_one_restarted_finds_its_own(
    tmp_path: Path, servers: list[RunningServer]
) -> None:
    env = isolated_environment(tmp_path / "user")  # one user: one Jupyter data directory
    first = _start(tmp_path, "first", env)
    servers.append(first)
    second = _start(tmp_path, "second", env)
    servers.append(second)

    mine = _call(first, "POST", "tunnels/expose", json={"port": 8050, "name": "first-app"})
    theirs = _call(second, "POST", "tunnels/expose", json={"port": 8050, "name": "second-app"})
    assert mine["url"].startswith(first.url)
    assert theirs["url"].startswith(second.url)
    for server, tunnel in ((first, mine), (second, theirs)):
        listed = _call(server, "GET", "tunnels/v1/tunnels", params={"includeInactive": "true"})
        assert [(t["id"], t["status"]) for t in listed] == [(tunnel["id"], "active")]

    data_dir = Path(env["JUPYTER_DATA_DIR"])
    host = socket.gethostname()
    assert server_store(data_dir, host, _port(first)).exists()
    assert server_store(data_dir, host, _port(second)).exists()

    # the same server again, on the same port: its store, and the tunnel's URL, come back
    port = _port(first)
    first.stop()
    servers.remove(first)
    again = _start(tmp_path, "first", env, port=port)
    servers.append(again)
    history = _call(again, "GET", "tunnels/v1/tunnels", params={"includeInactive": "true"})
    assert [(t["id"], t["status"]) for t in history] == [(mine["id"], "stopped")]
    back = _call(again, "POST", "tunnels/expose", json={"port": 8050, "name": "first-app"})
    assert back["url"] == mine["url"]
    assert back["status"] == "active"
    listed = _call(second, "GET", "tunnels/v1/tunnels", params={"includeInactive": "true"})
    assert [(t["id"], t["status"]) for t in listed] == [(theirs["id"], "active")]
