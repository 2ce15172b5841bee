"""How a kernel finds its Jupyter server: ``JPY_PARENT_PID`` and the runtime file, or an
explicit URL; and the reasons it gives when there is none."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jupyter_tunnels import ConfigurationError
from jupyter_tunnels.kernel import SERVER_TOKEN_ENV, SERVER_URL_ENV
from jupyter_tunnels.kernel._discovery import afind_server, find_server
from tests._hubs import RunningHub
from tests._sockets import closed_port
from tests.kernel._servers import JupyterServerProcess


def write_runtime_file(directory: Path, pid: int, **fields: object) -> Path:
    """A server runtime file as jupyter-server writes it."""
    info = {"base_url": "/", "hostname": "localhost", "port": closed_port(), "secure": False}
    info |= {"sock": "", "token": "t0ken", "pid": pid, **fields}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"jpserver-{pid}.json"
    path.write_text(json.dumps(info))
    return path


def test_the_parent_pid_leads_to_the_server(server_kernel: JupyterServerProcess) -> None:
    found = find_server()
    assert found.server is not None, found.reason
    assert found.server.url == server_kernel.url
    assert found.server.mode == "embedded"
    assert found.server.api_url == f"{server_kernel.url}tunnels"
    assert found.server.found_by == str(
        server_kernel.runtime_dir / f"jpserver-{server_kernel.pid}.json"
    )
    assert server_kernel.token not in repr(found.server)


@pytest.mark.anyio
async def test_the_async_discovery_agrees(server_kernel: JupyterServerProcess) -> None:
    assert await afind_server() == find_server()


def test_a_server_without_a_token_is_reached_with_jupyterhubs(
    jupyter_server: JupyterServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # as a JupyterHub single-user server: no token in the runtime file, the hub's in the env
    runtime = json.loads(
        (jupyter_server.runtime_dir / f"jpserver-{jupyter_server.pid}.json").read_text()
    )
    fields = {name: value for name, value in runtime.items() if name != "pid"}
    write_runtime_file(tmp_path / "runtime", os.getpid(), **{**fields, "token": ""})
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    assert find_server().server is None  # no token at all: refused, so no server
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", jupyter_server.token)
    found = find_server()
    assert found.server is not None, found.reason
    assert found.server.url == jupyter_server.url


def test_an_explicit_url_wins(
    jupyter_server: JupyterServerProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_runtime_file(tmp_path / "runtime", os.getpid())
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    monkeypatch.setenv(SERVER_URL_ENV, jupyter_server.url.rstrip("/"))
    monkeypatch.setenv(SERVER_TOKEN_ENV, jupyter_server.token)
    found = find_server()
    assert found.server is not None
    assert (found.server.url, found.server.found_by) == (jupyter_server.url, SERVER_URL_ENV)


def test_an_explicit_url_that_fails_is_an_error(
    jupyter_server: JupyterServerProcess, hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SERVER_URL_ENV, jupyter_server.url)
    monkeypatch.setenv(SERVER_TOKEN_ENV, "not-the-token")
    with pytest.raises(ConfigurationError, match="refused the token"):
        find_server()
    monkeypatch.setenv(SERVER_URL_ENV, hub.url)  # answers, but is no Jupyter server
    with pytest.raises(ConfigurationError, match="has no jupyter_tunnels extension: enable it"):
        find_server()
    monkeypatch.setenv(SERVER_URL_ENV, f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(ConfigurationError, match=f"^{SERVER_URL_ENV}: .* does not answer"):
        find_server()


def test_no_parent_pid_means_no_server() -> None:
    found = find_server()
    assert found.server is None
    assert found.reason == "JPY_PARENT_PID is not set, so no Jupyter server started this kernel"


def test_a_parent_that_is_no_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    found = find_server()
    assert found.server is None
    expected = tmp_path / "runtime" / f"jpserver-{os.getpid()}.json"
    assert found.reason.startswith(f"no Jupyter server wrote {expected}")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"hostname": "0.0.0.0"}, "the Jupyter server at http://127.0.0.1:{port}/ (from"),
        ({"hostname": "::", "base_url": "/user/a/"}, "at http://[::1]:{port}/user/a/ (from"),
        ({"sock": "/tmp/jupyter.sock"}, "listens on a Unix socket, which is not supported"),
    ],
)
def test_runtime_files_of_servers_that_cannot_be_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fields: dict[str, object], reason: str
) -> None:
    path = write_runtime_file(tmp_path / "runtime", 4242, **fields)
    monkeypatch.setenv("JPY_PARENT_PID", "4242")
    found = find_server()
    assert found.server is None
    port = json.loads(path.read_text())["port"]
    assert reason.format(port=port) in found.reason
