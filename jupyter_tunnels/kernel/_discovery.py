"""How a kernel finds the Jupyter server that started it, and that server's tunnels extension.

In this order:

1. ``JUPYTER_TUNNELS_SERVER_URL`` (with ``JUPYTER_TUNNELS_SERVER_TOKEN``): that server's base
   URL, for kernels whose parent is not the server (a kernel gateway, a test). Because it was
   asked for explicitly, a server there that does not answer is an error, not a fallback.
2. ``JPY_PARENT_PID``: jupyter_client sets it to the pid of the process that launched the
   kernel, and a Jupyter server writes ``jpserver-<pid>.json`` (its port, base URL and token)
   into :func:`jupyter_core.paths.jupyter_runtime_dir`. Matching the two finds the kernel's
   own server even when several run on the machine. A JupyterHub single-user server writes no
   token there; its kernels authenticate with ``JUPYTERHUB_API_TOKEN`` instead.
3. Neither: no server; :attr:`Discovery.reason` says why, for the fallback's notice.

A candidate is confirmed with ``GET {url}tunnels/info`` under the server's token, which also
tells whether the tunnels live on the server's embedded hub or on a remote one.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import httpx

from ..client import ConfigurationError

__all__ = [
    "INFO_PATH",
    "JUPYTERHUB_TOKEN_ENV",
    "PARENT_PID_ENV",
    "SERVER_TOKEN_ENV",
    "SERVER_URL_ENV",
    "Discovery",
    "JupyterServer",
    "afind_server",
    "find_server",
]

SERVER_URL_ENV = "JUPYTER_TUNNELS_SERVER_URL"
"""An explicit Jupyter server base URL (``http://127.0.0.1:8888/``) that wins over discovery."""
SERVER_TOKEN_ENV = "JUPYTER_TUNNELS_SERVER_TOKEN"
"""The token of the server named by :data:`SERVER_URL_ENV`."""
JUPYTERHUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
"""Set by JupyterHub in a single-user server (and so in its kernels): a token it accepts."""
PARENT_PID_ENV = "JPY_PARENT_PID"
"""Set by jupyter_client in every kernel it launches: the launcher's pid."""
MOUNT = "tunnels"
"""Where the extension lives under the server's base URL."""
INFO_PATH = f"{MOUNT}/info"
VERIFY_TIMEOUT = 5.0
"""Seconds to wait for the server's ``tunnels/info``: it is on this machine, so it is quick."""
_LOOPBACK_FOR = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "localhost": "127.0.0.1", "::": "::1"}
"""Wildcard binds and ``localhost`` are reached on loopback, whatever the host name resolves to."""


@dataclasses.dataclass(frozen=True)
class JupyterServer:
    """A Jupyter server with the tunnels extension, as this kernel reaches it."""

    url: str
    """The server's base URL, ending with ``/``."""
    token: str = dataclasses.field(repr=False)
    mode: str
    """``embedded`` (the server's own hub) or ``remote`` (a standalone hub it forwards to)."""
    hub_url: str
    """The hub the server reports (the embedded one under ``tunnels/``, or the remote one)."""
    found_by: str
    """What pointed to it: the runtime file's path, or :data:`SERVER_URL_ENV`."""
    origin_url: str | None = None
    """``http://{slug}.localhost:{port}/`` (``{slug}`` as written) when the server serves each
    tunnel also at its own origin (``originUrl`` of ``tunnels/info``), else None."""

    @property
    def api_url(self) -> str:
        """The SDK's hub URL for this server: ``{url}tunnels`` (its ``v1`` is the API)."""
        return self.url + MOUNT


@dataclasses.dataclass(frozen=True)
class Discovery:
    """The outcome of discovery: a server, or the reason there is none."""

    server: JupyterServer | None
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class _Candidate:
    url: str
    token: str = dataclasses.field(repr=False)
    found_by: str
    explicit: bool


def find_server() -> Discovery:
    """Find this kernel's Jupyter server and check its extension answers (blocking)."""
    candidate = _candidate()
    if isinstance(candidate, str):
        return Discovery(None, candidate)
    try:
        with httpx.Client(timeout=VERIFY_TIMEOUT) as http:
            response = http.get(candidate.url + INFO_PATH, headers=auth_headers(candidate.token))
    except httpx.HTTPError as exc:
        return _judge(candidate, exc)
    return _judge(candidate, response)


async def afind_server() -> Discovery:
    """:func:`find_server` on the running event loop, without blocking it."""
    candidate = _candidate()
    if isinstance(candidate, str):
        return Discovery(None, candidate)
    try:
        async with httpx.AsyncClient(timeout=VERIFY_TIMEOUT) as http:
            headers = auth_headers(candidate.token)
            response = await http.get(candidate.url + INFO_PATH, headers=headers)
    except httpx.HTTPError as exc:
        return _judge(candidate, exc)
    return _judge(candidate, response)


def auth_headers(token: str) -> dict[str, str]:
    """Jupyter's own form of token authentication."""
    return {"Authorization": f"token {token}"} if token else {}


def _candidate() -> _Candidate | str:
    """The server to try, or why there is none."""
    explicit = os.environ.get(SERVER_URL_ENV, "").strip()
    if explicit:
        token = os.environ.get(SERVER_TOKEN_ENV, "").strip()
        return _Candidate(explicit.rstrip("/") + "/", token, SERVER_URL_ENV, explicit=True)
    pid = os.environ.get(PARENT_PID_ENV, "").strip()
    if not pid:
        return f"{PARENT_PID_ENV} is not set, so no Jupyter server started this kernel"
    try:
        from jupyter_core.paths import jupyter_runtime_dir
    except ImportError:
        return "jupyter_core is not installed, so no Jupyter server's runtime file can be found"
    path = Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        return f"no Jupyter server wrote {path}: this kernel's parent (pid {pid}) is no server"
    except (OSError, ValueError) as exc:
        return f"cannot read the Jupyter server's runtime file {path}: {exc}"
    if not isinstance(info, dict):
        return f"the Jupyter server's runtime file {path} holds no server information"
    if info.get("sock"):
        return f"the Jupyter server of {path} listens on a Unix socket, which is not supported"
    try:
        url = _local_url(info)
    except (KeyError, TypeError, ValueError) as exc:
        return f"the Jupyter server's runtime file {path} is incomplete ({exc!r})"
    # JupyterHub's single-user servers write no token: the hub's API token of this server,
    # which its kernels inherit, authenticates to it instead
    token = str(info.get("token") or "") or os.environ.get(JUPYTERHUB_TOKEN_ENV, "").strip()
    return _Candidate(url, token, str(path), explicit=False)


def _local_url(info: dict[str, Any]) -> str:
    """The server's base URL on this machine, from its runtime file's fields."""
    host = str(info.get("hostname") or "").strip("[]")
    host = _LOOPBACK_FOR.get(host, host)
    try:
        if ipaddress.ip_address(host).is_unspecified:
            host = "127.0.0.1"
    except ValueError:  # a host name: used as it is
        pass
    port = int(info["port"])
    url_host = f"[{host}]" if ":" in host else host
    scheme = "https" if info.get("secure") else "http"
    base_url = "/" + str(info.get("base_url") or "/").strip("/")
    return f"{scheme}://{url_host}:{port}{base_url.rstrip('/')}/"


def _judge(candidate: _Candidate, answer: httpx.Response | httpx.HTTPError) -> Discovery:
    """A server when ``tunnels/info`` answered as the extension does, else the reason."""
    where = f"the Jupyter server at {candidate.url} (from {candidate.found_by})"
    if isinstance(answer, httpx.HTTPError):
        reason = f"{where} does not answer: {answer or type(answer).__name__}"
    elif answer.status_code == 404:
        reason = (
            f"{where} has no jupyter_tunnels extension: enable it with "
            "`jupyter server extension enable jupyter_tunnels` and restart the server"
        )
    elif answer.status_code in (401, 403):
        reason = f"{where} refused the token (answered {answer.status_code})"
    else:
        info = _json(answer) if answer.is_success else None
        if isinstance(info, dict) and isinstance(info.get("mode"), str):
            return Discovery(
                JupyterServer(
                    url=candidate.url,
                    token=candidate.token,
                    mode=info["mode"],
                    hub_url=str(info.get("hubUrl") or candidate.url + MOUNT),
                    found_by=candidate.found_by,
                    origin_url=_text(info.get("originUrl")),
                )
            )
        reason = f"{where} answered {answer.status_code} to GET {INFO_PATH}, not the extension"
    if candidate.explicit:
        raise ConfigurationError(f"{SERVER_URL_ENV}: {reason}")
    return Discovery(None, reason)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
