"""Each tunnel's readiness as rows of the store: what a heartbeat says about every tunnel's own
target (``_tunnel_rows.py`` reads it into the API's view of the tunnel).

A heartbeat carries the lease's readiness (``localReady``, ``lastError``) and, from connectors
that know the field, ``tunnels``: the same per tunnel id. Each heartbeat replaces the lease's
rows: a tunnel it names gets its own, one it does not name (every one, for an older connector)
has none and shows the lease's, as before per-tunnel readiness existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.models import TunnelReadiness
from ..store import _tables as t
from ._tunnel_rows import LIVE_VALUES

__all__ = ["record_tunnel_readiness"]

_own = t.tunnel_readiness


async def record_tunnel_readiness(
    conn: AsyncConnection, lease_id: str, reported: Mapping[str, TunnelReadiness] | None
) -> None:
    """Replace the lease's per-tunnel readiness with ``reported`` (None: the lease's for all);
    ids of tunnels that are not live on this lease are ignored."""
    await conn.execute(delete(_own).where(_own.c.lease_id == lease_id))
    if not reported:
        return
    served = (
        await conn.execute(
            select(t.tunnels.c.id).where(
                t.tunnels.c.lease_id == lease_id,
                t.tunnels.c.id.in_(list(reported)),
                t.tunnels.c.status.in_(LIVE_VALUES),
            )
        )
    ).scalars()
    rows: list[dict[str, Any]] = [
        {
            "tunnel_id": tunnel_id,
            "lease_id": lease_id,
            "local_ready": reported[tunnel_id].local_ready,
            "last_error": reported[tunnel_id].last_error,
        }
        for tunnel_id in served
    ]
    if rows:
        await conn.execute(_own.insert(), rows)
