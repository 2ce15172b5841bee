"""Names, defaults and URL arithmetic of the server extension (no Jupyter imports here)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from .._core.env import HUB_URL_ENV, TOKEN_ENV

__all__ = [
    "EXTENSION_NAME",
    "HUB_ENV",
    "LOCAL_OWNER",
    "LOCAL_TOKEN_FILE",
    "MOUNT",
    "SERVER_STORES",
    "TOKEN_ENV",
    "jupyterhub_public_base_url",
    "local_server_url",
    "loopback_name",
    "new_owner_suffix",
    "on_loopback",
    "read_secret",
    "server_store",
    "write_secret",
]

EXTENSION_NAME = "jupyter_tunnels"
MOUNT = "tunnels"
"""Everything of the extension lives under ``{base_url}tunnels/``."""
HUB_ENV = HUB_URL_ENV
LOCAL_OWNER = "jupyter"
"""Name of the hub owner that Jupyter-authenticated users act as in embedded mode."""
LOCAL_TOKEN_FILE = "local-token"
"""The local owner's API token, beside the store (mode 0600); only the extension uses it."""
SERVER_STORES = "servers"
"""Folder, in the extension's data directory, of the servers' own stores (one per server)."""
STORE_FILE = "hub.db"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ANY_OR_LOCAL = frozenset({"", "0.0.0.0", "::", "localhost"})
"""Binds reached on loopback."""


def local_server_url(ip: str, port: int, base_url: str, *, tls: bool) -> str:
    """The URL at which this process reaches its own Jupyter server (``.../`` = base_url).

    Wildcard and loopback binds are reached on loopback; a specific address on itself.
    """
    host = ip.strip("[]")
    if host in _ANY_OR_LOCAL:
        host = "::1" if host == "::" else "127.0.0.1"
    else:
        with contextlib.suppress(ValueError):  # a host name is used as it is
            if ipaddress.ip_address(host).is_unspecified:
                host = "127.0.0.1"
    url_host = f"[{host}]" if ":" in host else host
    scheme = "https" if tls else "http"
    path = base_url.strip("/")
    return f"{scheme}://{url_host}:{port}/" + (f"{path}/" if path else "")


def server_store(data_dir: Path, hostname: str, port: int) -> Path:
    """The store of the server listening on ``port`` of ``hostname``:
    ``{data_dir}/jupyter_tunnels/servers/{hostname}-{port}/hub.db``.

    One store per server, so a server lists only tunnels whose URLs it serves, and only its
    own hub expires their leases; the same server started again on the same port finds its
    store (its local token, its slugs) again. The host name is part of the key because a
    data directory may be shared between machines (a home directory on NFS).
    """
    key = _UNSAFE.sub("_", hostname) or "localhost"
    return data_dir / EXTENSION_NAME / SERVER_STORES / f"{key}-{port}" / STORE_FILE


def read_secret(path: Path) -> str | None:
    """The secret stored in ``path``, or None when the file is missing or empty."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def write_secret(path: Path, secret: str) -> None:
    """Write a secret to a file only its owner can read (0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)


def new_owner_suffix() -> str:
    """A short random suffix for a second local owner (when the first one's token is lost)."""
    return secrets.token_hex(4)


def on_loopback(ip: str) -> bool:
    """Whether a server listening on ``ip`` is reachable from this machine only (``localhost``
    or a loopback address; not all interfaces, ``""`` or ``0.0.0.0``)."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def loopback_name(ip: str) -> str:
    """How a browser names a server listening on loopback ``ip``: ``localhost``, or the address
    itself, as Jupyter prints its URL (so where its login cookie is)."""
    if ip in ("", "localhost"):
        return "localhost"
    return f"[{ip}]" if ":" in ip else ip


def jupyterhub_public_base_url(env: Mapping[str, str]) -> str | None:
    """The public URL of a JupyterHub single-user server, from the environment JupyterHub
    gives it, or None when it cannot be told (then the server's own address is used)."""
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "").strip()
    origin_of = env.get("JUPYTERHUB_PUBLIC_URL", "").strip() or env.get("JUPYTERHUB_HOST", "")
    parts = urlsplit(origin_of.strip())
    if not prefix.startswith("/") or parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}{prefix.rstrip('/')}/"
