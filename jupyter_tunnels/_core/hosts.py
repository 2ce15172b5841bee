"""Host allow-lists, shared by the connector (targets it dials) and the hub (webhook receivers)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["host_allowed"]


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether ``host`` matches an entry: a host name, an IP address or network
    (``10.0.0.0/8``), or ``*`` for everything. Names are compared, never resolved."""
    host = host.strip("[]")
    for entry in allowed:
        if entry == "*" or entry.lower() == host.lower():
            return True
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
