"""A real Jupyter server with the jupyter_tunnels extension, run as a subprocess.

Its runtime, data and config directories are temporary, so nothing touches the developer's
own; only jupyter_tunnels is enabled, so it starts in a few seconds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from jupyter_tunnels import TunnelsClient
from tests._processes import stop_process
from tests._sockets import closed_port

START_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.1
EXTENSIONS = {
    "jupyter_tunnels": True,
    "jupyterlab": False,
    "jupyter_lsp": False,
    "notebook_shim": False,
    "jupyter_server_terminals": False,
}
"""Only ours: the others installed in the environment would only slow the start."""


@dataclasses.dataclass
class JupyterServerProcess:
    """A running ``jupyter server`` and what a kernel of it would know."""

    process: subprocess.Popen[bytes]
    url: str
    """The base URL, ending with ``/``."""
    token: str
    runtime_dir: Path
    log_file: IO[bytes]
    log_path: Path
    verify: ssl.SSLContext | bool = True
    """How clients check the server's certificate (its own one, when it speaks HTTPS)."""

    @property
    def pid(self) -> int:
        """The server's process id (what its kernels see as ``JPY_PARENT_PID``)."""
        return self.process.pid

    @property
    def headers(self) -> dict[str, str]:
        """Jupyter token authentication."""
        return {"Authorization": f"token {self.token}"}

    def client(self) -> TunnelsClient:
        """An SDK client for the server's tunnels, with the server's token."""
        return TunnelsClient(self.url + "tunnels", self.token)

    def close_all_tunnels(self) -> None:
        """Close every live tunnel (between tests); nothing to do once the server is gone."""
        if self.process.poll() is not None:
            return
        with self.client() as client:
            for tunnel in client.list():
                client.delete(tunnel.id)

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and close its log."""
        stop_process(self.process, STOP_TIMEOUT)
        self.log_file.close()


def start_jupyter_server(
    base: Path,
    base_url: str = "/",
    *,
    tls: tuple[Path, Path] | None = None,
    tunnels: Mapping[str, Any] | None = None,
) -> JupyterServerProcess:
    """Start ``python -m jupyter server`` in ``base`` and wait until ``tunnels/info`` answers;
    ``base_url`` is the server's, as it appears in URLs (``/`` by default). With ``tls``
    (a certificate and its key) the server speaks HTTPS and trusts that certificate;
    ``tunnels`` is more ``c.TunnelsApp`` configuration (``{"head_timeout": 2.0}``)."""
    dirs = {name: base / name for name in ("runtime", "data", "config", "root")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    config = {
        "ServerApp": {"jpserver_extensions": EXTENSIONS},
        "TunnelsApp": {"db_path": str(dirs["data"] / "tunnels" / "hub.db"), **(tunnels or {})},
    }
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config))
    port, token = closed_port(), secrets.token_hex(16)
    env = {name: value for name, value in os.environ.items() if not name.startswith("JUPYTER_")}
    env |= {
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
    }
    log_path = base / "server.log"
    log_file = log_path.open("wb")
    command = [sys.executable, "-m", "jupyter", "server", "--no-browser", f"--port={port}"]
    command += ["--ServerApp.port_retries=0", f"--ServerApp.token={token}"]
    command += [f"--ServerApp.root_dir={dirs['root']}", "--ServerApp.allow_root=True"]
    command += [f"--ServerApp.base_url={base_url}"]
    scheme = "http"
    if tls is not None:
        certificate, key = tls
        command += [f"--ServerApp.certfile={certificate}", f"--ServerApp.keyfile={key}"]
        env["SSL_CERT_FILE"] = str(certificate)  # its own connector dials it over HTTPS
        scheme = "https"
    process = subprocess.Popen(
        command,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
    )
    verify: ssl.SSLContext | bool = True
    if tls is not None:
        verify = ssl.create_default_context(cafile=str(tls[0]))
    server = JupyterServerProcess(
        process,
        f"{scheme}://127.0.0.1:{port}{base_url}",
        token,
        dirs["runtime"],
        log_file,
        log_path,
        verify,
    )
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: JupyterServerProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter server exited:\n{server.log()}")
        try:
            answer = httpx.get(
                server.url + "tunnels/info",
                headers=server.headers,
                timeout=2,
                verify=server.verify,
            )
        except httpx.TransportError:
            answer = None
        runtime_file = server.runtime_dir / f"jpserver-{server.pid}.json"
        if answer is not None and answer.status_code == 200 and runtime_file.exists():
            return
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"jupyter server not ready in {START_TIMEOUT} s:\n{server.log()}")
