"""The hub: control API, ingress and store. No Jupyter imports here.

Use :class:`Hub` to mount it inside another tornado application (the Jupyter extension does),
or :class:`HubServer` to run it on its own port. The layers below (``store``, ``services``,
``api``, ``ingress``) are the hub's inside; ``hub.ingress`` exports what a hosting needs to
serve visitors.
"""

from __future__ import annotations

from ._app import Hub
from ._config import (
    DEFAULT_HEAD_TIMEOUT,
    DEFAULT_HUB_PORT,
    DEFAULT_LEASE_TTL,
    DEFAULT_MAX_UNFINISHED_HEADS,
    DEFAULT_SLUG_GRACE,
    DEFAULT_TCP_PORTS,
    HubConfig,
    parse_port_range,
)
from ._server import (
    ADMIN_TOKEN_FILE,
    AdminBootstrap,
    HubServer,
    bootstrap_admin,
    default_db_path,
)
from .api._base import ApiHandler
from .store._engine import Store, sqlite_url
from .store._owners import create_owner

__all__ = [
    "ADMIN_TOKEN_FILE",
    "DEFAULT_HEAD_TIMEOUT",
    "DEFAULT_HUB_PORT",
    "DEFAULT_LEASE_TTL",
    "DEFAULT_MAX_UNFINISHED_HEADS",
    "DEFAULT_SLUG_GRACE",
    "DEFAULT_TCP_PORTS",
    "AdminBootstrap",
    "ApiHandler",
    "Hub",
    "HubConfig",
    "HubServer",
    "Store",
    "bootstrap_admin",
    "create_owner",
    "default_db_path",
    "parse_port_range",
    "sqlite_url",
]
