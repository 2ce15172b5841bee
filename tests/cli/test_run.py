"""``jupyter-tunnels run`` as a user runs it: a hub process, the run process, its app."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._env_app import CRASH_CODE
from tests._processes import ENV_APP, CliHub, process_gone
from tests.cli.test_main import cli_env

URL_LINE = re.compile(r"^(?P<url>http://\S+/t/\S+/)$")
PID_LINE = re.compile(r"env app starting \(pid (?P<pid>\d+)\)")
WAIT = 30.0


@pytest.fixture
def processes() -> Iterator[Callable[..., CliHub]]:
    """Start ``jupyter-tunnels`` processes; all are killed when the test ends."""
    started: list[CliHub] = []

    def start(env: dict[str, str], *args: str) -> CliHub:
        process = CliHub(env, *args)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def hub(tmp_path: Path, processes: Callable[..., CliHub]) -> tuple[dict[str, str], str, str]:
    """A standalone hub process: the environment to run commands in, its URL, a token."""
    db = tmp_path / "hub" / "hub.db"
    env = cli_env(tmp_path)
    url = processes(env, "hub", "--port", "0", "--db", str(db)).wait_until_ready()
    token = (db.parent / "admin-token").read_text().strip()
    return {**env, "JUPYTER_TUNNELS_HUB": url, "JUPYTER_TUNNELS_TOKEN": token}, url, token


def _api(hub_url: str, token: str, path: str) -> Any:
    response = httpx.get(
        f"{hub_url}/v1{path}", headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )
    assert response.is_success, response.text
    return response.json()


def _pid_in_log(stderr: str) -> int:
    log_path = re.search(r"its output goes to (\S+)", stderr)
    assert log_path is not None, stderr
    found = PID_LINE.search(Path(log_path[1]).read_text())
    assert found is not None
    return int(found["pid"])


def test_run_starts_the_app_with_its_port_and_prefix_and_ctrl_c_stops_both(
    hub: tuple[dict[str, str], str, str], processes: Callable[..., CliHub]
) -> None:
    env, hub_url, token = hub
    run = processes(env, "run", "--name", "env app", "--", sys.executable, ENV_APP)
    url = run.wait_for(URL_LINE)["url"]
    assert url == f"{hub_url}/t/env-app/"
    seen = httpx.get(url + "here", headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    answer = seen.json()
    assert answer["prefix"] == answer["forwardedPrefix"] == "/t/env-app"
    assert "JUPYTER_TUNNELS_TOKEN" not in answer["secrets"], "the hub token stays with run"
    assert answer["url"] == url
    assert answer["path"] == "/here"  # the hub stripped the prefix
    assert "(generic)" in run.stderr
    assert _api(hub_url, token, "/tunnels/env-app")["status"] == "active"
    assert run.stop(signal.SIGINT) == 0
    assert process_gone(answer["pid"])
    assert _api(hub_url, token, "/tunnels/env-app")["status"] == "stopped"


def test_an_app_that_crashes_fails_its_tunnel_with_the_exit_code(
    hub: tuple[dict[str, str], str, str], processes: Callable[..., CliHub]
) -> None:
    env, hub_url, token = hub
    run = processes(
        env, "run", "--name", "crashy", "--", sys.executable, ENV_APP, "--exit-after", "1"
    )
    run.wait_for(URL_LINE)
    assert run.process.wait(WAIT) == 1
    run.kill()
    assert f"exited with code {CRASH_CODE}" in run.stderr
    assert "env app listening" in run.stderr  # the log's tail is quoted
    tunnel = _api(hub_url, token, "/tunnels/crashy")
    assert tunnel["status"] == "failed"
    assert f"exited with code {CRASH_CODE}" in tunnel["lastError"]


def test_an_app_that_never_listens_times_out_and_nothing_is_left(
    hub: tuple[dict[str, str], str, str], processes: Callable[..., CliHub]
) -> None:
    env, hub_url, token = hub
    run = processes(env, "run", "--timeout", "2", "--", sys.executable, ENV_APP, "--never-listen")
    assert run.process.wait(WAIT) == 1
    run.kill()
    assert "nothing listened on 127.0.0.1:" in run.stderr and "within 2 s" in run.stderr
    assert "env app starting" in run.stderr.split("error:")[1]  # the log's tail
    assert process_gone(_pid_in_log(run.stderr))
    assert _api(hub_url, token, "/tunnels") == []


def test_an_unknown_program_is_a_clear_error_and_nothing_is_exposed(
    hub: tuple[dict[str, str], str, str], processes: Callable[..., CliHub]
) -> None:
    env, hub_url, token = hub
    run = processes(env, "run", "--", "no-such-app-xyz", "--port", "1")
    assert run.process.wait(WAIT) == 1
    run.kill()
    assert "cannot run 'no-such-app-xyz': no such program" in run.stderr
    assert "Traceback" not in run.stderr
    assert _api(hub_url, token, "/tunnels") == []


def test_on_a_subdomain_hub_the_app_has_no_prefix(
    tmp_path: Path, processes: Callable[..., CliHub]
) -> None:
    db = tmp_path / "sub" / "hub.db"
    env = cli_env(tmp_path)
    hub_url = processes(
        env, "hub", "--port", "0", "--db", str(db), "--domain", "tun.localhost"
    ).wait_until_ready()
    token = (db.parent / "admin-token").read_text().strip()
    env = {**env, "JUPYTER_TUNNELS_HUB": hub_url, "JUPYTER_TUNNELS_TOKEN": token}
    run = processes(env, "run", "--public", "--name", "sub", "--", sys.executable, ENV_APP)
    port = httpx.URL(hub_url).port
    url = run.wait_for(re.compile(r"^(?P<url>http://\S+)$"))["url"]
    assert url == f"http://sub.tun.localhost:{port}/"
    answer = httpx.get(
        f"{hub_url}/here", headers={"Host": f"sub.tun.localhost:{port}"}, trust_env=False
    ).json()
    assert (answer["prefix"], answer["url"], answer["path"]) == ("", url, "/here")
    assert run.stop(signal.SIGINT) == 0
    assert process_gone(answer["pid"])
