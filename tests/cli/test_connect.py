"""``jupyter-tunnels connect`` as a user runs it: one process exposes an app, another reaches it
as a local port, like ``ssh -L``, until Ctrl-C releases the port."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import httpx
import pytest

from jupyter_tunnels import TunnelsClient
from tests._apps import Services
from tests._hubs import RunningHub
from tests._processes import CliHub
from tests.cli.test_main import cli_env

URL_LINE = re.compile(r"^(?P<url>http://\S+/t/\S+/)$")
LOCAL_LINE = re.compile(r"^(?P<url>http://127\.0\.0\.1:(?P<port>\d+)/)$")


def test_connect_carries_a_local_port_until_ctrl_c(
    tmp_path: Path, hub: RunningHub, services: Services
) -> None:
    env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=hub.url, JUPYTER_TUNNELS_TOKEN=hub.token)
    expose = CliHub(env, "expose", str(services.http_port), "--name", "web")
    expose.wait_for(URL_LINE)
    connect = CliHub(env, "connect", "web")
    try:
        match = connect.wait_for(LOCAL_LINE)
        port = int(match["port"])
        answer = httpx.get(match["url"], timeout=10, trust_env=False)
        assert (answer.status_code, answer.text) == (200, "hello from the app\n")
        with TunnelsClient(hub.url, hub.token) as client:
            (live,) = client.list_connections()
            assert live.local_port == port
            assert connect.stop(signal.SIGINT) == 0
            assert client.list_connections() == []
            assert client.get_connection(live.id).status.value == "closed"
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        assert f"web is reachable at 127.0.0.1:{port} (http)" in connect.stderr
        assert "releasing the port" in connect.stderr
    finally:
        connect.kill()
        expose.kill()


def test_connect_to_an_unknown_tunnel_is_one_line(tmp_path: Path, hub: RunningHub) -> None:
    env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=hub.url, JUPYTER_TUNNELS_TOKEN=hub.token)
    connect = CliHub(env, "connect", "nope")
    try:
        assert connect.process.wait(30) == 1
    finally:
        connect.kill()
    assert "jupyter-tunnels: error: " in connect.stderr
    assert "no tunnel 'nope'" in connect.stderr
