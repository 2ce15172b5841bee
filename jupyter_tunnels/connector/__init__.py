"""The connector (agent): serves tunnels from this process. No Jupyter imports here."""

from __future__ import annotations

from ._connector import Backoff, Connector, ConnectorState
from ._dial import DEFAULT_ALLOWED_HOSTS, TargetNotAllowed, check_target
from ._readiness import accepts_connections

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "Backoff",
    "Connector",
    "ConnectorState",
    "TargetNotAllowed",
    "accepts_connections",
    "check_target",
]
