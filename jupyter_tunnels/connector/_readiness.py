"""Local readiness: whether each local target of a connector accepts connections.

What the connector reports in its heartbeats: per tunnel (``tunnels``: tunnel id ->
``{localReady, lastError}``), so one port that does not answer marks only its own tunnel "not
answering", and for the whole lease (``localReady``: every target answers; ``lastError``: a
problem found), which is all a hub older than per-tunnel readiness reads. "Port 8050 is not
listening" is a fact about the data path, not a tunnel status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from .._core.models import TunnelReadiness
from .._core.probe import aaccepts
from .._wire.protocol import TunnelSpec
from ..client import BadRequest
from ._dial import TargetNotAllowed, check_target

__all__ = ["LOCAL_PROBE_TIMEOUT", "LocalReadiness", "accepts_connections", "probe_targets"]

LOCAL_PROBE_TIMEOUT = 1.0
"""Seconds a target has to accept the readiness probe's connection; one that takes longer is
reported as not listening."""
PER_TUNNEL_FIELD = "tunnels"
"""The heartbeat's field of per-tunnel readiness, which a hub older than it refuses."""


async def probe_targets(
    specs: Iterable[TunnelSpec], allowed_hosts: tuple[str, ...]
) -> dict[str, str | None]:
    """Probe every tunnel's target at once; per tunnel id, None when it accepts connections
    (or is UDP, which cannot be probed), else why not, naming its own host and port."""
    probed = list(specs)
    found = await asyncio.gather(*(_probe(spec, allowed_hosts) for spec in probed))
    return {spec.id: error for spec, error in zip(probed, found, strict=True)}


async def _probe(spec: TunnelSpec, allowed_hosts: tuple[str, ...]) -> str | None:
    if spec.protocol == "udp":
        return None
    try:  # never probe a host the allow-list refuses
        check_target(spec.host, allowed_hosts)
    except TargetNotAllowed as exc:
        return str(exc)
    if not await accepts_connections(spec.host, spec.port):
        return f"port {spec.port} is not listening on {spec.host}: start your app first"
    return None


async def accepts_connections(host: str, port: int) -> bool:
    """Whether ``host:port`` accepts a TCP connection within :data:`LOCAL_PROBE_TIMEOUT`."""
    return await aaccepts(host, port, LOCAL_PROBE_TIMEOUT)


class LocalReadiness:
    """What the connector's last probe found, per tunnel and for the whole lease, as its
    heartbeats report it."""

    def __init__(self, allowed_hosts: tuple[str, ...]) -> None:
        self.allowed_hosts = allowed_hosts
        self.errors: dict[str, str | None] = {}
        """Per tunnel id, why its target does not accept connections (None: it does)."""
        self.probed = False
        """Whether a probe has run (until then nothing is known to be ready)."""
        self.per_tunnel = True
        """Whether heartbeats carry per-tunnel readiness: until the hub refuses the field, tried
        again with each new session (the connector sets it)."""

    @property
    def ready(self) -> bool:
        """Every target accepted the last probe's connection."""
        return self.probed and not any(self.errors.values())

    @property
    def error(self) -> str | None:
        """A problem the last probe found (the last one), for the whole lease."""
        return next((error for error in reversed(self.errors.values()) if error), None)

    async def probe(self, specs: Iterable[TunnelSpec]) -> None:
        """Probe the targets of the tunnels served now."""
        self.errors = await probe_targets(specs, self.allowed_hosts)
        self.probed = True

    def report(self, shared_error: str | None) -> dict[str, TunnelReadiness] | None:
        """Each tunnel's readiness for a heartbeat: its own target's error, else
        ``shared_error`` (a problem of the whole connector, such as its data connections); None
        for a hub that does not take per-tunnel readiness."""
        if not self.per_tunnel:
            return None
        return {
            tunnel_id: TunnelReadiness(local_ready=error is None, last_error=error or shared_error)
            for tunnel_id, error in self.errors.items()
        }

    def refused_by_older_hub(self, exc: BadRequest) -> bool:
        """Whether the hub refused the heartbeat for its per-tunnel field (a hub from before
        it); if so, stop sending it: the hub shows every tunnel the lease's readiness."""
        details = exc.details if isinstance(exc.details, list) else []
        named = [item.get("field") for item in details if isinstance(item, dict)]
        if not self.per_tunnel or PER_TUNNEL_FIELD not in named:
            return False
        self.per_tunnel = False
        return True
