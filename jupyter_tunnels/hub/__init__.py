"""The hub: control API, ingress and store. No Jupyter imports here.

Use :class:`Hub` to mount it inside another tornado application (the Jupyter extension does),
or :class:`HubServer` to run it on its own port.
"""

from __future__ import annotations

from ._auth import create_owner
from ._config import (
    DEFAULT_HUB_PORT,
    DEFAULT_LEASE_TTL,
    DEFAULT_SLUG_GRACE,
    DEFAULT_TCP_PORTS,
    HubConfig,
    parse_port_range,
)
from ._http import ApiHandler
from ._hub import Hub
from ._ingress import IngressHandler
from ._server import (
    ADMIN_TOKEN_FILE,
    AdminBootstrap,
    HubServer,
    bootstrap_admin,
    default_db_path,
)
from ._store import Store, sqlite_url

__all__ = [
    "ADMIN_TOKEN_FILE",
    "DEFAULT_HUB_PORT",
    "DEFAULT_LEASE_TTL",
    "DEFAULT_SLUG_GRACE",
    "DEFAULT_TCP_PORTS",
    "AdminBootstrap",
    "ApiHandler",
    "Hub",
    "HubConfig",
    "HubServer",
    "IngressHandler",
    "Store",
    "bootstrap_admin",
    "create_owner",
    "default_db_path",
    "parse_port_range",
    "sqlite_url",
]
