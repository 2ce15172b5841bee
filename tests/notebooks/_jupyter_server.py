"""A real ``jupyter server`` with the jupyter_tunnels extension, as a child process on 127.0.0.1.

The notebooks' kernels reach it the way a kernel started by some other front end would: by
``JUPYTER_TUNNELS_SERVER_URL`` and ``JUPYTER_TUNNELS_SERVER_TOKEN`` (docs/kernel.md). The server
gets a directory of its own for its configuration, data (the embedded hub's store) and runtime
files, so neither the developer's Jupyter setup nor an earlier run changes what it does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests._processes import stop_process

START_TIMEOUT = 60.0
"""Seconds a server has to write its runtime file and answer ``tunnels/info``."""
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.2
KERNEL_ENV = ("JUPYTER_TUNNELS_SERVER_URL", "JUPYTER_TUNNELS_SERVER_TOKEN", "JUPYTER_RUNTIME_DIR")
"""What a kernel started outside the server needs to find it (and its kernels' connection
files, which ``reach-a-database.ipynb`` opens)."""
_FOREIGN = (
    "JUPYTER_TUNNELS_HUB",
    "JUPYTER_TUNNELS_TOKEN",
    "JUPYTER_TUNNELS_DB",
    "JUPYTER_TUNNELS_SERVER_URL",
    "JUPYTER_TUNNELS_SERVER_TOKEN",
    "JPY_PARENT_PID",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)
"""The developer's hub settings and proxies: kept away, so all traffic stays on 127.0.0.1."""


def isolated_environment(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (the current environment) with Jupyter's and IPython's folders under ``home``."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _FOREIGN}
    for name, folder in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (home / folder).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / folder)
    env["JUPYTER_PLATFORM_DIRS"] = "1"  # no deprecation warning about the folders' old places
    return env


@dataclasses.dataclass
class RunningServer:
    """A ``jupyter server`` child process and how to reach it."""

    process: subprocess.Popen[bytes]
    url: str
    """Its base URL, ending with ``/``."""
    token: str
    runtime_dir: Path
    log: Path
    """Its stdout and stderr."""

    def kernel_environment(self) -> dict[str, str]:
        """The variables that point a kernel at this server (see :data:`KERNEL_ENV`)."""
        return dict(zip(KERNEL_ENV, (self.url, self.token, str(self.runtime_dir)), strict=True))

    def stop(self) -> None:
        """Stop the server (SIGTERM: it shuts its kernels and the extension down) and wait."""
        stop_process(self.process, STOP_TIMEOUT)


def start_server(
    home: Path,
    root_dir: Path,
    *,
    command: Sequence[str] = (sys.executable, "-m", "jupyter"),
    env: dict[str, str] | None = None,
    port: int = 0,
    extra_args: Sequence[str] = (),
) -> RunningServer:
    """Start ``{command} server`` on 127.0.0.1:``port`` (0: a free one) with a random token.

    ``command`` runs Jupyter (``binder/start jupyter`` for the Binder test); ``env`` is its
    environment (by default :func:`isolated_environment` of ``home``). Returns once the server's
    ``tunnels/info`` answers, so its extension is ready for kernels.
    """
    env = isolated_environment(home) if env is None else env
    runtime_dir = Path(env["JUPYTER_RUNTIME_DIR"])
    token = secrets.token_hex(24)
    args = [
        *command,
        "server",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",  # the runtime file says which, when 0
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        f"--TunnelsApp.db_path={home / 'tunnels' / 'hub.db'}",
        *extra_args,
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI machines run as root
    log = home / "jupyter-server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = RunningServer(process, "", token, runtime_dir, log)
    try:
        server.url = _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: RunningServer) -> str:
    runtime_file = server.runtime_dir / f"jpserver-{server.process.pid}.json"
    deadline = time.monotonic() + START_TIMEOUT
    url: str | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"jupyter server exited with {server.process.returncode}:\n"
                + server.log.read_text(errors="replace")
            )
        if url is None and runtime_file.exists():
            with contextlib.suppress(ValueError, KeyError):  # caught while being written
                url = json.loads(runtime_file.read_text())["url"]
        if url is not None and _extension_answers(url, server.token):
            return url
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(
        f"jupyter server not ready within {START_TIMEOUT} s:\n"
        + server.log.read_text(errors="replace")
    )


def _extension_answers(url: str, token: str) -> bool:
    try:
        answer = httpx.get(
            f"{url}tunnels/info", headers={"Authorization": f"token {token}"}, timeout=5
        )
    except httpx.TransportError:
        return False
    return answer.status_code == httpx.codes.OK
