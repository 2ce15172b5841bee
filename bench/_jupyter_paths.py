"""The paths that run inside ``jupyter server``, reached as a notebook user's client reaches
one: on the server's port, with ``Authorization: token <the server's token>``.

* ``embedded``: jupyter-tunnels' own extension in ``jupyter server`` (the Python that has
  jupyter-tunnels installed), its hub embedded on a SQLite file in the bench's folder. The
  server's connector exposes each origin as a private tunnel (``POST tunnels/expose``), and
  visitors reach it at the tunnel's ``url`` (``/tunnels/t/<slug>/``).
* ``jsp``: jupyter-server-proxy (from PyPI, in a venv of its own), at ``/proxy/<port>/``.

Each server gets a folder of its own, with its own Jupyter config, data and runtime
directories, a token chosen here, no browser and log level WARN. The embedded path uses only
the extension's documented HTTP API (``GET tunnels/info``, ``POST tunnels/expose``,
``GET tunnels/v1/tunnels/{id}``) and the tunnel's ``url``: it imports nothing from
jupyter_tunnels, so it measures whatever ingress the installed version has.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _origin import PAGE_PATH, Origins
from _paths import Endpoint, PathUnderTest
from _tools import Child, Children, StartupError, free_port, wait_until

__all__ = [
    "JSP_PACKAGE",
    "JupyterServer",
    "embedded_path",
    "ensure_jsp_venv",
    "jsp_path",
    "package_versions",
    "start_jupyter_server",
]

STARTUP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 10.0
JSP_PACKAGE = "jupyter-server-proxy"
EXTENSION = "jupyter_tunnels"
REMOTE_HUB_ENV = ("JUPYTER_TUNNELS_HUB", "JUPYTER_TUNNELS_TOKEN")
"""Left out of the embedded server's environment: they would point the extension at a
standalone hub instead of its embedded one."""
ORIGIN_NAMES = ("web", "upload", "ws")
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
"""Tunnel URL hosts the load generator may connect to (it always dials 127.0.0.1)."""

Json = Any
"""A decoded JSON document."""


def _success(status: int) -> bool:
    """Whether an HTTP status is 2xx."""
    return 200 <= status < 300


@dataclasses.dataclass(frozen=True)
class JupyterServer:
    """A ``jupyter server`` the benchmark started, and how to call it."""

    child: Child
    port: int
    token: str

    @property
    def auth(self) -> tuple[tuple[str, str], ...]:
        """The header a notebook user's client sends."""
        return (("Authorization", f"token {self.token}"),)

    def call(self, method: str, path: str, body: Json = None) -> tuple[int, Json]:
        """``method path`` (relative to the base URL) with the token and a JSON ``body``.

        Returns the status and the decoded JSON answer (None if it was not JSON); raises
        :class:`OSError` when the server does not answer.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={**dict(self.auth), "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        try:
            return int(status), json.loads(text)
        except ValueError:
            return int(status), None


def _isolated_env(folder: Path, drop: Sequence[str] = ()) -> dict[str, str]:
    """This environment, with Jupyter's folders under ``folder`` and ``drop`` left out."""
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTER_DATA_DIR=str(folder / "data"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
        IPYTHONDIR=str(folder / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_jupyter_server(
    children: Children,
    name: str,
    folder: Path,
    command: Sequence[str],
    options: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> JupyterServer:
    """Start ``command`` (a ``jupyter server``) on 127.0.0.1 with a fresh token in ``folder``.

    ``options`` are added to the command line (``--TunnelsApp.db_path=...``); ``env``
    replaces the isolated environment made here. The caller waits for what it needs.
    """
    folder.mkdir()
    token = secrets.token_hex(16)
    port = free_port()
    # fmt: off
    argv = [
        *command, "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
        "--ServerApp.log_level=WARN", *(["--allow-root"] if os.geteuid() == 0 else []),
        *options,
    ]
    # fmt: on
    child = children.start(name, argv, env=env or _isolated_env(folder), cwd=folder)
    return JupyterServer(child, port, token)


def package_versions(python: str, packages: Sequence[str]) -> dict[str, str]:
    """``{package: version}`` as installed for ``python`` (``missing`` when it is not)."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "def version(name):\n"
        "    try:\n"
        "        return m.version(name)\n"
        "    except m.PackageNotFoundError:\n"
        "        return 'missing'\n"
        "print(json.dumps({name: version(name) for name in sys.argv[1:]}))\n"
    )
    result = subprocess.run(
        [python, "-c", script, *packages], capture_output=True, text=True, check=True
    )
    found: dict[str, str] = json.loads(result.stdout)
    return found


def _describe(versions: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {version}" for name, version in versions.items())


# --- jupyter-tunnels embedded in jupyter server --------------------------------------------


def _embedded_ready(server: JupyterServer) -> bool:
    """Whether ``GET tunnels/info`` says the embedded hub serves; raises if it never will."""
    try:
        status, info = server.call("GET", "tunnels/info")
    except OSError:
        return False  # not listening yet
    if status == 404:
        raise StartupError(
            f"jupyter server answers but has no tunnels/ endpoints: is the {EXTENSION} "
            f"extension installed for this Python?\n{server.child.log_tail()}"
        )
    if not _success(status) or not isinstance(info, dict):
        return False
    if info.get("mode") != "embedded":
        raise StartupError(f"the {EXTENSION} extension is not embedded: tunnels/info says {info}")
    return True


def _expose(server: JupyterServer, port: int, name: str) -> Json:
    """``POST tunnels/expose``; the tunnel once it is active."""
    status, tunnel = server.call("POST", "tunnels/expose", {"port": port, "name": name})
    if not _success(status) or not isinstance(tunnel, dict):
        raise StartupError(f"POST tunnels/expose for port {port} answered {status}: {tunnel}")

    def active() -> bool:
        nonlocal tunnel
        if tunnel.get("status") == "active":
            return True
        answered, tunnel = server.call("GET", f"tunnels/v1/tunnels/{tunnel['id']}")
        if not _success(answered):
            raise StartupError(f"GET tunnels/v1/tunnels/{{id}} answered {answered}: {tunnel}")
        return False

    wait_until(active, timeout=STARTUP_TIMEOUT, what=f"tunnel {name}", child=server.child)
    return tunnel


def _tunnel_endpoint(url: str, auth: tuple[tuple[str, str], ...]) -> Endpoint:
    """Where the load generator sends a tunnel's visitors: the tunnel's own ``url``."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_NAMES:
        raise StartupError(f"the tunnel's url {url} is not http on 127.0.0.1")
    return Endpoint(parts.port or 80, parts.netloc, parts.path.rstrip("/"), auth)


def _answers(endpoint: Endpoint, path: str) -> bool:
    request = urllib.request.Request(endpoint.url(path), headers=dict(endpoint.all_headers()))
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def embedded_path(children: Children, work: Path, origins: Origins, python: str) -> PathUnderTest:
    """Start ``jupyter server`` with the extension's embedded hub; expose the origins.

    The hub's store is ``hub.db`` in the path's folder; the tunnels are private (the
    default), so every request carries the Jupyter token, as a notebook user's would.
    """
    folder = work / "embedded"
    # fmt: off
    server = start_jupyter_server(
        children, "embedded-server", folder, [python, "-m", "jupyter_server"],
        [f"--ServerApp.jpserver_extensions={EXTENSION}=True",
         f"--TunnelsApp.db_path={folder / 'hub.db'}"],
        env=_isolated_env(folder, drop=REMOTE_HUB_ENV),
    )
    # fmt: on
    wait_until(
        lambda: _embedded_ready(server),
        timeout=STARTUP_TIMEOUT,
        what="jupyter server with jupyter-tunnels",
        child=server.child,
    )
    ports = dict(
        zip(ORIGIN_NAMES, (origins.web_port, origins.upload_port, origins.ws_port), strict=True)
    )
    tunnels = {name: _expose(server, port, f"bench-{name}") for name, port in ports.items()}
    endpoints = {name: _tunnel_endpoint(t["url"], server.auth) for name, t in tunnels.items()}
    wait_until(
        lambda: _answers(endpoints["web"], PAGE_PATH),
        timeout=STARTUP_TIMEOUT,
        what="the page through the embedded tunnel",
        child=server.child,
    )
    versions = package_versions(python, ["jupyter-tunnels", "jupyter_server", "tornado"])
    access = ", ".join(sorted({str(t.get("access")) for t in tunnels.values()}))

    def processes() -> dict[str, list[int]]:
        return {"jupyter-server": [server.child.pid]}

    return PathUnderTest(
        "embedded",
        "jupyter-tunnels embedded",
        endpoints["web"],
        endpoints["upload"],
        endpoints["ws"],
        processes,
        f"{_describe(versions)}; tunnels {access}, at {endpoints['web'].prefix}/",
    )


# --- jupyter-server-proxy ------------------------------------------------------------------


def ensure_jsp_venv(cache: Path) -> Path:
    """A venv with jupyter-server-proxy (and jupyter_server) under ``cache``; made if missing."""
    venv = cache / "jsp-venv"
    server = venv / "bin" / "jupyter-server"
    if server.is_file():
        return venv
    print(f"bench: installing {JSP_PACKAGE} into {venv} (once)...", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, JSP_PACKAGE, "jupyter_server"], check=True)
    return venv


def jsp_path(children: Children, work: Path, origins: Origins, venv: Path) -> PathUnderTest:
    """Start ``jupyter server`` with jupyter-server-proxy on loopback, with a token."""
    folder = work / "jsp"
    server = start_jupyter_server(
        children, "jupyter-server", folder, [str(venv / "bin" / "jupyter-server")]
    )

    def endpoint(origin_port: int) -> Endpoint:
        return Endpoint(
            server.port, f"127.0.0.1:{server.port}", f"/proxy/{origin_port}", server.auth
        )

    wait_until(
        lambda: _answers(endpoint(origins.web_port), PAGE_PATH),
        timeout=STARTUP_TIMEOUT,
        what="jupyter-server-proxy",
        child=server.child,
    )
    packages = [JSP_PACKAGE, "jupyter_server", "tornado"]
    versions = package_versions(str(venv / "bin" / "python"), packages)

    def processes() -> dict[str, list[int]]:
        return {"jupyter-server": [server.child.pid]}

    return PathUnderTest(
        "jsp",
        "jupyter-server-proxy",
        endpoint(origins.web_port),
        endpoint(origins.upload_port),
        endpoint(origins.ws_port),
        processes,
        _describe(versions),
    )
