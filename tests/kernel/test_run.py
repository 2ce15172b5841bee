"""``%tunnel run`` and ``jupyter_tunnels.run`` in a kernel of a real Jupyter server: the app is
started by the kernel, exposed through the server, logged, failed on a crash, stopped on close."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_tunnels import ExposedTunnel, TunnelStatus
from jupyter_tunnels.kernel import AppFailed, arun, connection, run
from tests._env_app import CRASH_CODE
from tests._processes import ENV_APP, process_gone
from tests.kernel._servers import JupyterServerProcess

WAIT = 30.0


def _status(server: JupyterServerProcess, tunnel_id: str) -> tuple[TunnelStatus, str | None]:
    with server.client() as client:
        found = client.get(tunnel_id)
    return found.status, found.last_error


def test_run_exposes_the_app_shows_its_logs_and_close_stops_it(
    shell: InteractiveShell,
    server_kernel: JupyterServerProcess,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = shell.run_line_magic("tunnel", f"run --name envapp -- {sys.executable} {ENV_APP}")
    assert isinstance(t, ExposedTunnel)
    assert t.url == f"{server_kernel.url}tunnels/t/envapp/"
    answer = httpx.get(t.url + "x", headers=server_kernel.headers, timeout=10).json()
    assert answer["prefix"] == answer["forwardedPrefix"]
    assert answer["url"] == t.url and answer["path"] == "/x"
    assert answer["prefix"] == httpx.URL(t.url).path.rstrip("/")

    shell.run_line_magic("tunnel", "logs envapp")
    printed = capsys.readouterr().out
    assert f"env app listening on {answer['port']}" in printed and "app.log" in printed

    shell.run_line_magic("tunnel", "close envapp")
    assert process_gone(answer["pid"])
    assert _status(server_kernel, t.id) == (TunnelStatus.STOPPED, None)


def test_a_crash_fails_the_tunnel_with_the_exit_code(server_kernel: JupyterServerProcess) -> None:
    t = run([sys.executable, ENV_APP, "--exit-after", "1"], name="crashy")
    deadline = time.monotonic() + WAIT
    while _status(server_kernel, t.id)[0] is not TunnelStatus.FAILED:
        assert time.monotonic() < deadline, "the tunnel never failed"
        time.sleep(0.2)
    last_error = _status(server_kernel, t.id)[1]
    assert last_error is not None and f"exited with code {CRASH_CODE}" in last_error


def test_a_command_that_never_listens_is_a_one_line_error_and_nothing_is_left(
    shell: InteractiveShell, server_kernel: JupyterServerProcess
) -> None:
    line = f"run --timeout 1 --name silent -- {sys.executable} {ENV_APP} --never-listen"
    with pytest.raises(UsageError) as raised:
        shell.run_line_magic("tunnel", line)
    message = str(raised.value)
    assert "nothing listened on 127.0.0.1:" in message and "env app starting" in message
    assert "\n" not in message
    pid = int(message.split("(pid ")[1].split(")")[0])
    assert process_gone(pid)
    with server_kernel.client() as client:
        assert [x.name for x in client.list()] == []


def test_unknown_commands_and_empty_ones_are_clear_errors(
    shell: InteractiveShell, server_kernel: JupyterServerProcess
) -> None:
    with pytest.raises(AppFailed, match="cannot run 'no-such-app-xyz': no such program"):
        run("no-such-app-xyz --port 1")
    with pytest.raises(UsageError, match="no command to run"):
        shell.run_line_magic("tunnel", "run --name x --")
    with server_kernel.client() as client:
        assert [x.name for x in client.list()] == []
    shell.run_line_magic("tunnel", "expose 9 --no-check --name plain")
    with pytest.raises(UsageError, match="'plain' was not started by %tunnel run"):
        shell.run_line_magic("tunnel", "logs plain")


def test_running_the_same_name_again_replaces_the_app_and_keeps_the_url(
    server_kernel: JupyterServerProcess,
) -> None:
    first = run([sys.executable, ENV_APP], name="again")
    first_pid = httpx.get(first.url, headers=server_kernel.headers, timeout=10).json()["pid"]
    second = run([sys.executable, ENV_APP], name="again")
    assert second.url == first.url and second.id != first.id
    assert process_gone(first_pid)
    assert _status(server_kernel, first.id)[0] is TunnelStatus.STOPPED
    answer = httpx.get(second.url, headers=server_kernel.headers, timeout=10).json()
    assert answer["pid"] != first_pid
    second.close()
    assert process_gone(answer["pid"])


def test_run_without_a_server_uses_the_kernel_s_own_hub() -> None:
    t = run([sys.executable, ENV_APP], name="local", public=True)
    where = connection()
    assert where.mode == "in-process"
    assert t.url == f"{where.hub_url}/t/local/"
    answer = httpx.get(t.url, timeout=10).json()
    assert answer["prefix"] == answer["forwardedPrefix"] == "/t/local"
    t.close()
    assert process_gone(answer["pid"])


@pytest.mark.anyio
async def test_arun_keeps_the_loop_running_and_aclose_stops_the_app(
    server_kernel: JupyterServerProcess,
) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.ensure_future(tick())
    try:
        t = await arun([sys.executable, ENV_APP], name="async")
    finally:
        ticker.cancel()
    assert ticks > 1, "the loop ran while the app started"
    async with httpx.AsyncClient(headers=server_kernel.headers, timeout=10) as http:
        answer = (await http.get(t.url)).json()
    await t.aclose()
    assert process_gone(answer["pid"])
