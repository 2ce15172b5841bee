"""The process of ``run``: started in its own group, logged, waited for, stopped."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from jupyter_tunnels._core.app_process import AppFailed, AppProcess, free_port
from tests._env_app import CRASH_CODE

ENV_APP = str(Path(__file__).parents[1] / "_env_app.py")


def _env(port: int) -> dict[str, str]:
    return {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_an_app_is_waited_for_then_stopped_with_its_group(tmp_path: Path) -> None:
    port = free_port()
    app = AppProcess.start([sys.executable, ENV_APP], _env(port), tmp_path / "app.log")
    try:
        app.wait_listening("127.0.0.1", port, timeout=20)
        assert app.returncode is None
    finally:
        app.stop()
    assert app.returncode is not None
    assert _gone(app.pid)
    assert f"env app listening on {port}" in app.tail()


def test_an_app_that_exits_first_is_an_error_quoting_its_log(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "print('no config found'); raise SystemExit(3)"]
    app = AppProcess.start(command, os.environ, tmp_path / "app.log")
    with pytest.raises(AppFailed, match="exited with code 3 before listening") as failed:
        app.wait_listening("127.0.0.1", free_port(), timeout=20)
    assert "no config found" in str(failed.value)
    assert str(tmp_path / "app.log") in str(failed.value)


def test_an_app_that_never_listens_times_out_and_is_stopped(tmp_path: Path) -> None:
    port = free_port()
    app = AppProcess.start(
        [sys.executable, ENV_APP, "--never-listen"], _env(port), tmp_path / "app.log"
    )
    started = time.monotonic()
    with pytest.raises(AppFailed, match=rf"nothing listened on 127.0.0.1:{port} within 1 s"):
        app.wait_listening("127.0.0.1", port, timeout=1)
    assert time.monotonic() - started < 10
    app.stop(grace=1)
    assert _gone(app.pid)


def test_a_crash_is_named_by_its_exit_code(tmp_path: Path) -> None:
    port = free_port()
    app = AppProcess.start(
        [sys.executable, ENV_APP, "--exit-after", "0.2"], _env(port), tmp_path / "app.log"
    )
    app.wait_listening("127.0.0.1", port, timeout=20)
    assert app.popen.wait(20) == CRASH_CODE
    assert app.exit_reason() == f"the app ({sys.executable}) exited with code {CRASH_CODE}"


def test_an_app_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    app = AppProcess.start([sys.executable, "-c", stubborn], os.environ, tmp_path / "app.log")
    time.sleep(0.5)  # let it ignore SIGTERM first
    assert app.stop(grace=0.5) == -9
    assert "killed by SIGKILL" in app.exit_reason()


def test_an_unknown_program_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AppFailed, match="cannot run 'no-such-app-xyz': no such program"):
        AppProcess.start(["no-such-app-xyz"], os.environ, tmp_path / "app.log")
