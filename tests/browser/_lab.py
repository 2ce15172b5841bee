"""A real ``jupyter lab`` process for the browser tests, isolated from the developer's setup.

It listens on 127.0.0.1 on a free port with a random token, runs as root when the machine
does (containers, CI), and keeps its config, data, runtime and workspace files (the embedded
hub's SQLite store included) in a temporary folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.25
USER_SETTINGS = {
    # no "would you like news?" toast over the panel, no update check leaving the machine
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
_CLEAN_ENV = (
    "JUPYTER_TUNNELS_HUB",
    "JUPYTER_TUNNELS_TOKEN",
    "JUPYTER_TUNNELS_DB",
    "JUPYTER_TOKEN",
    "JUPYTERLAB_SETTINGS_DIR",
    "JUPYTERLAB_WORKSPACES_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class JupyterLab:
    """``jupyter lab`` in a subprocess; ``url`` is its base URL, ``token`` its token.
    ``behind_a_proxy``: with a ``public_base_url`` (the default), else a plain local server,
    which also serves each tunnel at ``{slug}.localhost``."""

    def __init__(self, home: Path, *, behind_a_proxy: bool = True) -> None:
        self.home = home
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = home / "jupyter.log"
        root = home / "root"
        root.mkdir(parents=True)
        env = {key: value for key, value in os.environ.items() if key not in _CLEAN_ENV}
        env.update(
            JUPYTER_CONFIG_DIR=str(home / "config"),
            JUPYTER_DATA_DIR=str(home / "data"),
            JUPYTER_RUNTIME_DIR=str(home / "runtime"),
            IPYTHONDIR=str(home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            NO_PROXY="127.0.0.1,localhost",
        )
        for name, values in USER_SETTINGS.items():
            path = home / "config" / "lab" / "user-settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        args = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.reraise_server_extension_failures=True",
        ]
        if behind_a_proxy:
            # the server names itself differently from the address the browser uses (as behind
            # a proxy): the panel must show links the browser can open (127.0.0.1 here); and
            # it serves no tunnel at its own origin ({slug}.localhost)
            args.append(f"--TunnelsApp.public_base_url=http://localhost:{self.port}/")
        if os.getuid() == 0:
            args.append("--allow-root")
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            args, env=env, cwd=root, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self) -> None:
        """Wait until JupyterLab and the tunnels extension answer; fail with the log if not."""
        deadline = time.monotonic() + START_TIMEOUT
        headers = {"Authorization": f"token {self.token}"}
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited early:\n{self.log()}")
                with contextlib.suppress(httpx.HTTPError):
                    lab = client.get(f"{self.url}lab", headers=headers)
                    info = client.get(f"{self.url}tunnels/info", headers=headers)
                    if lab.status_code == 200 and info.status_code == 200:
                        return
                time.sleep(POLL_INTERVAL)
        raise RuntimeError(f"jupyter lab did not answer in {START_TIMEOUT} s:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server cleanly (the extension releases its lease), then wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)
        self._log.close()
