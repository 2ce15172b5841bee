"""Local readiness: whether each local target of a connector accepts connections.

What the connector reports in its heartbeats as ``localReady`` and ``lastError``: "port 8050
is not listening" is a fact about the data path, not a tunnel status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from .._wire.protocol import TunnelSpec
from ._dial import TargetNotAllowed, check_target

__all__ = ["LOCAL_PROBE_TIMEOUT", "accepts_connections", "probe_targets"]

LOCAL_PROBE_TIMEOUT = 1.0
"""Seconds a target has to accept the readiness probe's connection; one that takes longer is
reported as not listening."""


async def probe_targets(specs: Iterable[TunnelSpec], allowed_hosts: tuple[str, ...]) -> str | None:
    """Check that every local target accepts connections; say which one does not (the last
    one found), or None when they all do."""
    local_error: str | None = None
    for spec in specs:
        if spec.protocol == "udp":
            continue
        try:  # never probe a host the allow-list refuses
            check_target(spec.host, allowed_hosts)
        except TargetNotAllowed as exc:
            local_error = str(exc)
            continue
        if not await accepts_connections(spec.host, spec.port):
            local_error = f"port {spec.port} is not listening on {spec.host}: start your app first"
    return local_error


async def accepts_connections(host: str, port: int) -> bool:
    """Whether ``host:port`` accepts a TCP connection within :data:`LOCAL_PROBE_TIMEOUT`."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), LOCAL_PROBE_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True
