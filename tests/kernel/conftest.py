"""Fixtures for the kernel side: a real IPython shell, a real Jupyter server with the extension
(a subprocess, as a user runs it), and the environment a kernel of that server has.

The Jupyter server is started once per session (it takes a few seconds); each test that uses
it closes the tunnels it left. Every test starts without a chosen backend and without any
discovery hint from the developer's own environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from jupyter_tunnels import kernel
from jupyter_tunnels.kernel import SERVER_TOKEN_ENV, SERVER_URL_ENV
from tests._apps import Services, start_services
from tests.kernel._servers import JupyterServerProcess, start_jupyter_server


@pytest.fixture(autouse=True)
def _no_backend(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No backend chosen, and no server to find unless the test says so.

    (pytest may itself run in a Jupyter terminal, whose JPY_PARENT_PID names a real server.)
    """
    for name in ("JPY_PARENT_PID", SERVER_URL_ENV, SERVER_TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    kernel.shutdown()
    yield
    kernel.shutdown()


@pytest.fixture(scope="session")
def ipython() -> InteractiveShell:
    """The session's IPython shell (IPython keeps one per process), without a history file."""
    config = Config()
    config.HistoryAccessor.enabled = False
    shell: InteractiveShell = InteractiveShell.instance(config=config)
    return shell


@pytest.fixture
def shell(ipython: InteractiveShell) -> Iterator[InteractiveShell]:
    """The shell after ``%load_ext jupyter_tunnels``; unloaded again afterwards."""
    ipython.run_line_magic("load_ext", "jupyter_tunnels")
    yield ipython
    ipython.run_line_magic("unload_ext", "jupyter_tunnels")


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A Jupyter server with jupyter_tunnels, in its own temporary directories."""
    server = start_jupyter_server(tmp_path_factory.mktemp("jupyter"))
    yield server
    server.stop()


@pytest.fixture
def server_kernel(
    jupyter_server: JupyterServerProcess, monkeypatch: pytest.MonkeyPatch
) -> Iterator[JupyterServerProcess]:
    """This process as a kernel of :func:`jupyter_server`: its pid and runtime directory."""
    monkeypatch.setenv("JPY_PARENT_PID", str(jupyter_server.pid))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(jupyter_server.runtime_dir))
    yield jupyter_server
    jupyter_server.close_all_tunnels()


@pytest.fixture
def services() -> Iterator[Services]:
    """A small HTTP app (and echo servers) on 127.0.0.1:0 to expose."""
    running = start_services("kernel-app")
    yield running
    running.stop()


@pytest.fixture
def other_services() -> Iterator[Services]:
    """A second app, to rotate a tunnel to."""
    running = start_services("other-app")
    yield running
    running.stop()
