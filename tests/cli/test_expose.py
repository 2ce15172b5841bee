"""``jupyter-tunnels expose`` as a user runs it: a hub process, a connector process, an app.

These tests also cover what only real processes can show: a hub killed with SIGKILL and
started again, and a connector frozen with SIGSTOP (a laptop lid closed).
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jupyter_tunnels._core.loop import LOOP_ENV
from jupyter_tunnels._core.models.base import CLIENT_ID_PATTERN
from jupyter_tunnels.cli._expose import client_instance_id
from tests._apps import Services
from tests._processes import CliHub
from tests.cli.test_main import cli_env

URL_LINE = re.compile(r"^(?P<url>http://\S+/t/\S+/)$")
WAIT = 20.0


@pytest.fixture(params=["asyncio", "uvloop"])
def processes(request: pytest.FixtureRequest) -> Iterator[Callable[..., CliHub]]:
    """Start ``jupyter-tunnels`` processes on the standard loop or on uvloop (each test runs
    with both); all are killed when the test ends."""
    started: list[CliHub] = []
    loop: str = request.param

    def start(env: dict[str, str], *args: str) -> CliHub:
        process = CliHub({**env, LOOP_ENV: loop}, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            os.kill(process.process.pid, signal.SIGCONT)
        process.kill()


def _start_hub(
    start: Callable[..., CliHub], env: dict[str, str], db: Path, port: int = 0, *extra: str
) -> tuple[CliHub, str, str]:
    hub = start(env, "hub", "--port", str(port), "--db", str(db), *extra)
    url = hub.wait_until_ready()
    token = (db.parent / "admin-token").read_text().strip()
    return hub, url, token


def _get_until(url: str, status: int) -> httpx.Response:
    deadline = time.monotonic() + WAIT
    while True:
        try:
            response = httpx.get(url, timeout=5, trust_env=False)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == status:
            return response
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} never answered {status}; last: {response}")
        time.sleep(0.1)


def _status(hub_url: str, token: str, slug: str) -> str:
    response = httpx.get(
        f"{hub_url}/v1/tunnels/{slug}",
        headers={"Authorization": f"Bearer {token}"},
        trust_env=False,
    )
    status: str = response.json()["status"]
    return status


def test_expose_prints_the_url_and_closes_cleanly(
    tmp_path: Path, services: Services, processes: Callable[..., CliHub]
) -> None:
    env = cli_env(tmp_path)
    _, hub_url, token = _start_hub(processes, env, tmp_path / "hub" / "hub.db")
    expose = processes(
        env,
        "expose",
        str(services.http_port),
        "--public",
        "--name",
        "my app",
        "--hub",
        hub_url,
        "--token",
        token,
    )
    url = expose.wait_for(URL_LINE)["url"]
    assert url == f"{hub_url}/t/my-app/"
    assert _get_until(url, 200).text == "hello from the app\n"
    assert expose.stop(signal.SIGINT) == 0
    assert _status(hub_url, token, "my-app") == "stopped"
    assert "closing the tunnel" in expose.stderr


def test_a_second_expose_of_the_same_port_takes_over_and_the_first_ends_clearly(
    tmp_path: Path, services: Services, processes: Callable[..., CliHub]
) -> None:
    env = cli_env(tmp_path)
    _, hub_url, token = _start_hub(processes, env, tmp_path / "hub" / "hub.db")
    args = ("expose", str(services.http_port), "--public", "--hub", hub_url, "--token", token)
    first = processes(env, *args)
    url = first.wait_for(URL_LINE)["url"]
    second = processes(env, *args)  # the same client instance id: it attaches to the lease
    assert second.wait_for(URL_LINE)["url"] == url
    # the first stops by itself, with the reason, instead of retrying a dead token forever
    assert first.process.wait(WAIT) == 1
    first.kill()
    reason = "another connector with client instance id"
    assert reason in first.stderr and "Traceback" not in first.stderr, first.stderr
    assert first.stderr.count("reconnecting to the hub") <= 1
    # and its exit did not release the lease the second one serves
    assert _get_until(url, 200).text == "hello from the app\n"
    assert second.process.poll() is None
    assert second.stop(signal.SIGINT) == 0


def test_a_killed_hub_comes_back_and_the_url_works_again(
    tmp_path: Path, services: Services, processes: Callable[..., CliHub]
) -> None:
    env = cli_env(tmp_path)
    db = tmp_path / "hub" / "hub.db"
    hub, hub_url, token = _start_hub(processes, env, db)
    expose = processes(
        env, "expose", str(services.http_port), "--public", "--hub", hub_url, "--token", token
    )
    url = expose.wait_for(URL_LINE)["url"]
    _get_until(url, 200)
    hub.stop(signal.SIGKILL)
    port = int(hub_url.rsplit(":", 1)[1])
    _start_hub(processes, env, db, port)
    assert _get_until(url, 200).text == "hello from the app\n"
    assert "reconnecting to the hub" in expose.stderr


def test_a_frozen_connector_is_noticed_and_recovers(
    tmp_path: Path, services: Services, processes: Callable[..., CliHub]
) -> None:
    env = cli_env(tmp_path)
    # a 3 s lease: heartbeats and pings every second, a silent peer dropped after two;
    # once the lease has expired too, visitors still get a 503 saying why
    _, hub_url, token = _start_hub(
        processes, env, tmp_path / "hub" / "hub.db", 0, "--lease-ttl", "3"
    )
    expose = processes(
        env,
        "expose",
        str(services.http_port),
        "--public",
        "--name",
        "lid",
        "--hub",
        hub_url,
        "--token",
        token,
    )
    url = expose.wait_for(URL_LINE)["url"]
    _get_until(url, 200)
    os.kill(expose.process.pid, signal.SIGSTOP)  # the laptop lid closes
    try:
        refused = _get_until(url, 503)
        assert refused.json()["code"] == "AGENT_UNAVAILABLE"
    finally:
        os.kill(expose.process.pid, signal.SIGCONT)  # and opens again
    assert _get_until(url, 200).text == "hello from the app\n"
    assert _status(hub_url, token, "lid") == "active"


def _wait_status(hub_url: str, token: str, slug: str, status: str) -> None:
    deadline = time.monotonic() + WAIT
    while (current := _status(hub_url, token, slug)) != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"{slug} stayed {current}, never {status}")
        time.sleep(0.1)


def test_exposes_of_one_port_under_other_names_coexist_through_a_hub_restart(
    tmp_path: Path, services: Services, processes: Callable[..., CliHub]
) -> None:
    env = cli_env(tmp_path)
    db = tmp_path / "hub" / "hub.db"
    hub, hub_url, token = _start_hub(processes, env, db)
    port, hub_options = str(services.http_port), ("--hub", hub_url, "--token", token)
    web = processes(env, "expose", port, "--public", "--name", "web", *hub_options)
    web_url = web.wait_for(URL_LINE)["url"]
    private = processes(env, "expose", port, "--name", "priv", *hub_options)
    private.wait_for(URL_LINE)
    hub.stop(signal.SIGKILL)
    _start_hub(processes, env, db, int(hub_url.rsplit(":", 1)[1]))
    assert _get_until(web_url, 200).text == "hello from the app\n"
    _wait_status(hub_url, token, "priv", "active")
    for expose in (web, private):  # each kept its own lease: neither took the other's over
        assert expose.process.poll() is None, expose.stderr
        assert "took the lease over" not in expose.stderr
    # Ctrl-C closes that expose's tunnel, and only that one
    assert web.stop(signal.SIGINT) == 0
    assert _status(hub_url, token, "web") == "stopped"
    assert _status(hub_url, token, "priv") == "active"
    assert private.stop(signal.SIGINT) == 0
    assert _status(hub_url, token, "priv") == "stopped"


def test_an_expose_taken_over_under_another_name_leaves_no_active_row(
    tmp_path: Path, services: Services, processes: Callable[..., CliHub]
) -> None:
    env = cli_env(tmp_path)
    _, hub_url, token = _start_hub(processes, env, tmp_path / "hub" / "hub.db")
    # one --client-id for two tunnels: the second expose takes the lease over
    shared = ("--public", "--client-id", "shared", "--hub", hub_url, "--token", token)
    first = processes(env, "expose", str(services.http_port), "--name", "first", *shared)
    first.wait_for(URL_LINE)
    second = processes(env, "expose", str(services.http_port), "--name", "second", *shared)
    second_url = second.wait_for(URL_LINE)["url"]
    assert first.process.wait(WAIT) == 1
    # the first's tunnel is not left listed as served by a process that has gone
    assert _status(hub_url, token, "first") == "stopped"
    assert "closing first" in second.stderr
    assert _get_until(second_url, 200).text == "hello from the app\n"
    assert second.stop(signal.SIGINT) == 0
    assert _status(hub_url, token, "second") == "stopped"


def test_the_client_instance_id_names_the_tunnel_not_the_port() -> None:
    web = client_instance_id("127.0.0.1", 8050, "auto", public=True, name="web")
    assert web == client_instance_id("127.0.0.1", 8050, "auto", public=True, name="web")
    others = {
        client_instance_id("127.0.0.1", 8050, "auto", public=False, name="web"),
        client_instance_id("127.0.0.1", 8050, "tcp", public=True, name="web"),
        client_instance_id("127.0.0.1", 8050, "auto", public=True, name="priv"),
        client_instance_id("127.0.0.1", 8050, "auto", public=True, name=None),
        client_instance_id("127.0.0.1", 8051, "auto", public=True, name="web"),
    }
    assert web not in others and len(others) == 5
    for name in ("my app ✓", "x" * 100):
        made = client_instance_id("::1", 8050, "http", public=False, name=name)
        assert re.fullmatch(CLIENT_ID_PATTERN, made), made
    long_host = client_instance_id("h" * 120, 8050, "http", public=False, name=None)
    assert re.fullmatch(CLIENT_ID_PATTERN, long_host), long_host
