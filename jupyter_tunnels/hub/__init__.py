"""The hub: control API, ingress and store. No Jupyter imports here.

Use :class:`Hub` to mount it inside another tornado application (the Jupyter extension does),
or :class:`HubServer` to run it on its own port.
"""

from __future__ import annotations

from ._config import HubConfig, parse_port_range
from ._hub import Hub
from ._server import AdminBootstrap, HubServer, bootstrap_admin, default_db_path
from ._store import Store, sqlite_url

__all__ = [
    "AdminBootstrap",
    "Hub",
    "HubConfig",
    "HubServer",
    "Store",
    "bootstrap_admin",
    "default_db_path",
    "parse_port_range",
    "sqlite_url",
]
