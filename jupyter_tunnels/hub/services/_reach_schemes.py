"""What a reached tunnel speaks, and the connection string a client would use for it.

Detection, first match wins:

1. the tunnel's metadata ``scheme`` (``{"scheme": "postgres"}``), when it names a known one:
   the owner says what the service is;
2. the tunnel's protocol: ``http`` and ``https`` tunnels are reached as ``http://`` and
   ``https://`` (the local port speaks to the app directly);
3. the tunnel's target port, for raw TCP tunnels: 5432 PostgreSQL, 3306 MySQL, 6379 Redis,
   27017 MongoDB;
4. otherwise ``tcp``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["KNOWN_SCHEMES", "connection_string", "detect_scheme"]

WELL_KNOWN_PORTS: dict[int, str] = {
    5432: "postgres",
    3306: "mysql",
    6379: "redis",
    27017: "mongodb",
}
"""Schemes told from the target port of a raw TCP tunnel (the services' default ports)."""
KNOWN_SCHEMES = frozenset({"postgres", "mysql", "redis", "mongodb", "http", "https", "tcp"})
"""The schemes a tunnel's metadata may name; another value is ignored (the scheme is then told
from the protocol and the port)."""
METADATA_KEY = "scheme"
"""The tunnel metadata key that names the scheme explicitly."""


def detect_scheme(protocol: str, target_port: int, metadata: Mapping[str, Any]) -> str:
    """The scheme of a tunnel, from its metadata, protocol and target port (see above)."""
    declared = metadata.get(METADATA_KEY)
    if isinstance(declared, str) and declared.lower() in KNOWN_SCHEMES:
        return declared.lower()
    if protocol in ("http", "https"):
        return protocol
    return WELL_KNOWN_PORTS.get(target_port, "tcp")


def connection_string(scheme: str, host: str, port: int) -> str:
    """A URL for ``scheme`` at ``host:port`` that the usual clients accept as is."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if scheme in ("http", "https"):
        return f"{scheme}://{address}/"
    if scheme == "mongodb":  # one address, not a replica set: do not follow its members
        return f"mongodb://{address}/?directConnection=true"
    return f"{scheme}://{address}"
