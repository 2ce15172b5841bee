"""The hub's health: status, version, uptime, the store's state and an owner's counts."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select

from ..._core.models import Health, HealthCounts, LeaseStatus, TunnelStatus
from ..._core.status import LIVE_STATUSES
from ..._version import __version__
from ..store import _tables as t
from ..store._clock import now
from ..store._engine import Store

__all__ = ["HealthService"]


class HealthService:
    """Answers ``GET /v1/health``; :meth:`started` marks the moment uptime counts from."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.started_at = time.monotonic()

    def started(self) -> None:
        """The hub has started serving: uptime counts from now."""
        self.started_at = time.monotonic()

    async def health(self, owner_id: str | None) -> Health:
        """Status, version, uptime, store state and (for an owner) their counts."""
        store = await self.store.health()
        counts = None
        if owner_id is not None and store.status == "ok":
            counts = await self._counts(owner_id)
        return Health(
            status="ok" if store.status == "ok" else "degraded",
            version=__version__,
            uptime_seconds=round(time.monotonic() - self.started_at, 3),
            store=store,
            counts=counts,
        )

    async def _counts(self, owner_id: str) -> HealthCounts:
        live = [s.value for s in LIVE_STATUSES]
        mine = t.tunnels.c.owner_id == owner_id
        current = now()
        active_lease = (
            (t.leases.c.owner_id == owner_id)
            & (t.leases.c.status == LeaseStatus.ACTIVE.value)
            & (t.leases.c.expires_at > current)
        )
        async with self.store.read() as conn:

            async def count(table: Any, condition: Any, column: Any = None) -> int:
                what = func.count(func.distinct(column)) if column is not None else func.count()
                result = await conn.execute(select(what).select_from(table).where(condition))
                return int(result.scalar_one())

            return HealthCounts(
                tunnels=await count(t.tunnels, mine),
                live_tunnels=await count(t.tunnels, mine & t.tunnels.c.status.in_(live)),
                active_tunnels=await count(
                    t.tunnels, mine & (t.tunnels.c.status == TunnelStatus.ACTIVE.value)
                ),
                agents=await count(t.agents, t.agents.c.owner_id == owner_id),
                online_agents=await count(t.leases, active_lease, t.leases.c.agent_id),
                active_leases=await count(t.leases, active_lease),
            )
