"""The ``jupyter-tunnels`` command, run as a user runs it: real processes against real hubs.

Each command runs as ``python -m jupyter_tunnels.cli`` in a child process. Hubs started with
``jupyter-tunnels hub`` run as child processes too (on port 0; the tests read the URL the hub
prints), and every one of them is stopped when its test ends, pass or fail.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jupyter_tunnels import __version__
from jupyter_tunnels.cli import main
from jupyter_tunnels.hub import (
    ADMIN_TOKEN_FILE,
    DEFAULT_HEAD_TIMEOUT,
    DEFAULT_HUB_PORT,
    DEFAULT_LEASE_TTL,
    DEFAULT_MAX_UNFINISHED_HEADS,
    DEFAULT_SLUG_GRACE,
    DEFAULT_TCP_PORTS,
)
from tests._hubs import RunningHub
from tests._processes import CLI, CliHub
from tests._sockets import closed_port

RUN_TIMEOUT = 30.0
ERROR_PREFIX = "jupyter-tunnels: error: "


def cli_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a CLI process: none of the developer's settings, a private data home."""
    env = {name: value for name, value in os.environ.items() if "JUPYTER_TUNNELS_" not in name}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env.update(settings)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one command to completion and return what it printed and its exit code."""
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    """The command failed with exit code 1 and one ``jupyter-tunnels: error:`` line."""
    assert result.returncode == 1, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(ERROR_PREFIX)
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture
def start_cli_hub() -> Iterator[Callable[..., CliHub]]:
    """Start ``jupyter-tunnels`` server processes; all are killed when the test ends."""
    started: list[CliHub] = []

    def start(env: dict[str, str], *args: str) -> CliHub:
        hub = CliHub(env, *args)
        started.append(hub)
        return hub

    yield start
    for hub in started:
        hub.kill()


def create_tunnel(url: str, token: str, name: str) -> dict[str, object]:
    """Create a tunnel over plain HTTP, as any API user would."""
    response = httpx.post(
        f"{url}/v1/tunnels",
        json={"name": name, "target": {"port": 8050}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    tunnel: dict[str, object] = response.json()
    return tunnel


# --- help and usage --------------------------------------------------------------------------


def test_help_lists_the_commands_with_examples(tmp_path: Path) -> None:
    result = run_cli(cli_env(tmp_path), "--help")
    assert result.returncode == 0
    for command in ("hub", "demo", "token", "list", "info", "close", "health"):
        assert f"\n    {command} " in result.stdout
    assert "examples:" in result.stdout
    assert "JUPYTER_TUNNELS_" in result.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"jupyter-tunnels {__version__}\n"


def test_hub_help_states_the_hubs_real_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["hub", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    first, last = DEFAULT_TCP_PORTS
    for default in (DEFAULT_HUB_PORT, DEFAULT_LEASE_TTL, DEFAULT_SLUG_GRACE):
        assert f"(default {default:g})" in text
    assert f"(default {first}-{last})" in text
    assert f"(default {DEFAULT_HEAD_TIMEOUT:g})" in text
    assert f"(default {DEFAULT_MAX_UNFINISHED_HEADS})" in text
    assert "JUPYTER_TUNNELS_LEASE_TTL" in text
    assert "JUPYTER_TUNNELS_HEAD_TIMEOUT" in text


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("frobnicate",),
        ("hub", "--port", "http"),
        ("hub", "--lease-ttl", "0.5"),
        ("hub", "--tcp-ports", "9-1"),
        ("hub", "--head-timeout", "0"),
        ("hub", "--head-timeout", "nan"),
        ("hub", "--head-timeout", "inf"),
        ("hub", "--head-timeout", "soon"),
        ("hub", "--max-unfinished-heads", "0"),
        ("hub", "--max-unfinished-heads", "2.5"),
        ("info",),
        ("token",),
        ("token", "create"),
        ("token", "create", " padded "),
        ("list", "--hub", "ftp://example.org"),
    ],
)
def test_bad_usage_exits_with_2(capsys: pytest.CaptureFixture[str], args: tuple[str, ...]) -> None:
    # argparse's own checks, run in-process for speed; the next test goes through a process.
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err.splitlines()[-1]


def test_a_bad_environment_setting_names_its_variable(tmp_path: Path) -> None:
    result = run_cli(cli_env(tmp_path, JUPYTER_TUNNELS_PORT="http"), "hub")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"{ERROR_PREFIX}JUPYTER_TUNNELS_PORT='http': 'http' is not a port number"
    )


# --- token create ----------------------------------------------------------------------------


def test_token_create_prints_only_a_token_that_works(tmp_path: Path, hub: RunningHub) -> None:
    env = cli_env(tmp_path)
    created = run_cli(env, "token", "create", "alice", "--db", str(hub.db_path))
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert created.stdout == token + "\n"
    assert token not in created.stderr

    response = httpx.get(f"{hub.url}/v1/tunnels", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == []
    health = run_cli(env, "health", "--hub", hub.url, "--token", token)
    assert "0 live tunnels" in health.stdout

    # The store can come from the environment too.
    env = cli_env(tmp_path, JUPYTER_TUNNELS_DB=str(hub.db_path))
    assert_one_line_error(run_cli(env, "token", "create", "alice"), "'alice' already exists")


def test_token_create_needs_an_existing_store(tmp_path: Path) -> None:
    result = run_cli(cli_env(tmp_path), "token", "create", "alice", "--db", str(tmp_path / "x"))
    assert_one_line_error(result, "no hub store at")
    assert not (tmp_path / "x").exists()


# --- the hub as a process --------------------------------------------------------------------


def test_hub_first_start_and_the_client_commands(
    tmp_path: Path, start_cli_hub: Callable[..., CliHub]
) -> None:
    db_path = tmp_path / "store" / "hub.db"
    # Settings come from the environment, and flags win: JUPYTER_TUNNELS_PORT=1 loses to --port.
    env = cli_env(tmp_path, JUPYTER_TUNNELS_DB=str(db_path), JUPYTER_TUNNELS_PORT="1")
    hub = start_cli_hub(env, "hub", "--port", "0", "--tcp-ports", "none")
    url = hub.wait_until_ready()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)

    token_file = db_path.parent / ADMIN_TOKEN_FILE
    assert f"store:        {db_path}" in hub.stdout
    assert str(token_file) in hub.stdout
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()

    client_env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=url, JUPYTER_TUNNELS_TOKEN=token)
    health = run_cli(client_env, "health")
    assert health.returncode == 0, health.stderr
    assert f"{url} is ok" in health.stdout

    tunnel = create_tunnel(url, token, "dashboard")
    table = run_cli(client_env, "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "SLUG", "STATUS", "PROTOCOL", "TARGET", "URL"]
    assert table[1].split() == [
        "dashboard",
        "dashboard",
        "creating",
        "http",
        "127.0.0.1:8050",
        f"{url}/t/dashboard/",
    ]
    assert table[0].index("URL") == table[1].index("http://")  # aligned columns
    listed = json.loads(run_cli(client_env, "list", "--json").stdout)
    assert [item["id"] for item in listed] == [tunnel["id"]]

    info = run_cli(client_env, "info", "dashboard")
    assert info.returncode == 0, info.stderr
    assert f"id:                 {tunnel['id']}" in info.stdout.splitlines()

    closed = run_cli(client_env, "close", str(tunnel["id"]))
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.startswith("closed 'dashboard'")
    assert run_cli(client_env, "list").stdout.startswith("no live tunnels")
    assert " stopped " in run_cli(client_env, "list", "--all").stdout

    assert hub.stop(signal.SIGTERM) == 0
    assert token not in hub.stdout + hub.stderr


def test_restart_keeps_tunnels_and_tokens(
    tmp_path: Path, start_cli_hub: Callable[..., CliHub]
) -> None:
    db_path = tmp_path / "hub.db"
    env = cli_env(tmp_path)
    args = ("hub", "--port", "0", "--db", str(db_path), "--tcp-ports", "none")
    first = start_cli_hub(env, *args)
    url = first.wait_until_ready()
    token = (tmp_path / ADMIN_TOKEN_FILE).read_text().strip()
    tunnel = create_tunnel(url, token, "kept")
    assert first.stop(signal.SIGINT) == 0
    assert "stopped" in first.stderr

    second = start_cli_hub(env, *args)
    url = second.wait_until_ready()
    assert "already has owners" in second.stdout
    assert (tmp_path / ADMIN_TOKEN_FILE).read_text().strip() == token
    info = run_cli(env, "info", "kept", "--hub", url, "--token", token, "--json")
    assert info.returncode == 0, info.stderr
    assert f'"id": "{tunnel["id"]}"' in info.stdout


def test_admin_token_from_the_environment(
    tmp_path: Path, start_cli_hub: Callable[..., CliHub]
) -> None:
    secret = "my-own-admin-token-0123456789"
    env = cli_env(tmp_path, JUPYTER_TUNNELS_TOKEN=secret)
    hub = start_cli_hub(env, "hub", "--port", "0", "--db", str(tmp_path / "hub.db"))
    url = hub.wait_until_ready()
    assert "taken from JUPYTER_TUNNELS_TOKEN" in hub.stdout
    assert not (tmp_path / ADMIN_TOKEN_FILE).exists()
    health = run_cli(cli_env(tmp_path), "health", "--hub", url, "--token", secret)
    assert "0 live tunnels" in health.stdout
    assert hub.stop() == 0
    assert secret not in hub.stdout + hub.stderr


def test_a_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run_cli(
            cli_env(tmp_path), "hub", "--port", str(port), "--db", str(tmp_path / "hub.db")
        )
    message = assert_one_line_error(result)
    assert message == f"{ERROR_PREFIX}port {port} on 127.0.0.1 is in use: pick another with --port"


def test_demo_prints_a_working_url_and_token(
    tmp_path: Path, start_cli_hub: Callable[..., CliHub]
) -> None:
    demo = start_cli_hub(cli_env(tmp_path), "demo", "--port", "0", "--db", str(tmp_path / "d.db"))
    url = demo.wait_until_ready()
    token_line = re.search(r"token:\s+(\S+)", demo.stdout)
    assert token_line is not None
    token = token_line[1]
    assert "printed because this is a demo" in demo.stdout
    assert f"curl {url}/v1/health" in demo.stdout
    assert f'-H "Authorization: Bearer {token}"' in demo.stdout
    assert f'TunnelsClient("{url}", token="{token}")' in demo.stdout

    tunnel = create_tunnel(url, token, "dashboard")
    assert tunnel["status"] == "creating"
    assert demo.stop() == 0


def test_the_demo_never_prints_the_token_of_the_environment(
    tmp_path: Path, start_cli_hub: Callable[..., CliHub]
) -> None:
    real = "a-real-hub-admin-token-" + "x" * 24  # a shell set up for a real hub
    env = cli_env(tmp_path, JUPYTER_TUNNELS_TOKEN=real)
    demo = start_cli_hub(env, "demo", "--port", "0", "--db", str(tmp_path / "d.db"))
    url = demo.wait_until_ready()
    token_line = re.search(r"token:\s+(\S+)", demo.stdout)
    assert token_line is not None and token_line[1] != real
    assert real not in demo.stdout
    assert create_tunnel(url, token_line[1], "works")["status"] == "creating"
    assert demo.stop() == 0


# --- errors from a hub -----------------------------------------------------------------------


def test_an_unknown_tunnel_is_one_clear_line(tmp_path: Path, hub: RunningHub) -> None:
    env = cli_env(tmp_path, JUPYTER_TUNNELS_HUB=hub.url, JUPYTER_TUNNELS_TOKEN=hub.token)
    assert_one_line_error(run_cli(env, "info", "no-such-tunnel"), "404", "no-such-tunnel")
    assert_one_line_error(run_cli(env, "close", "no-such-tunnel"), "404", "no-such-tunnel")


def test_a_wrong_or_missing_token_is_one_clear_line(
    hub: RunningHub, capsys: pytest.CaptureFixture[str]
) -> None:
    # In-process, for speed: the same main() as the command, against a real hub.
    assert main(["--hub", hub.url, "list"]) == 1
    message = capsys.readouterr().err
    assert message.startswith(f"{ERROR_PREFIX}no API token: pass --token")
    assert message.count("\n") == 1
    assert main(["--hub", hub.url, "--token", "jtu_not-a-real-token-at-all", "list"]) == 1
    message = capsys.readouterr().err
    assert message.startswith(f"{ERROR_PREFIX}401 INVALID_TOKEN")
    assert message.count("\n") == 1


def test_an_unreachable_hub_is_one_clear_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = run_cli(cli_env(tmp_path), "--hub", url, "health")
    assert_one_line_error(result, f"cannot reach the hub at {url}")
