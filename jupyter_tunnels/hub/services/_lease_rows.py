"""Leases as rows of the store: finding one of an owner's leases, and the API's view of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import Lease, LeaseStatus, Readiness
from .._config import HEARTBEATS_PER_TTL
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import to_datetime
from ._tunnel_rows import LIVE_VALUES

__all__ = ["active_lease_row", "lease_model", "lease_row"]


async def lease_row(conn: AsyncConnection, owner_id: str, lease_id: str) -> Row[Any]:
    """One of the owner's leases, with its agent's ``client_instance_id``; ``LEASE_NOT_FOUND``
    if there is none."""
    row = (
        await conn.execute(
            select(t.leases, t.agents.c.client_instance_id)
            .select_from(t.leases.join(t.agents, t.leases.c.agent_id == t.agents.c.id))
            .where(t.leases.c.id == lease_id, t.leases.c.owner_id == owner_id)
        )
    ).first()
    if row is None:
        raise HubError(ErrorCode.LEASE_NOT_FOUND, f"no lease {lease_id!r}", {"lease": lease_id})
    return row


async def lease_model(conn: AsyncConnection, row: Row[Any]) -> Lease:
    """The API's view of a row of :func:`lease_row`, with the ids of the lease's live tunnels."""
    tunnel_ids = (
        await conn.execute(
            select(t.tunnels.c.id)
            .where(t.tunnels.c.lease_id == row.id, t.tunnels.c.status.in_(LIVE_VALUES))
            .order_by(t.tunnels.c.created_at)
        )
    ).scalars()
    return Lease(
        id=row.id,
        agent_id=row.agent_id,
        client_instance_id=row.client_instance_id,
        status=row.status,
        ttl_seconds=row.ttl_seconds,
        next_heartbeat_seconds=row.ttl_seconds / HEARTBEATS_PER_TTL,
        created_at=to_datetime(row.created_at),
        last_heartbeat_at=to_datetime(row.last_heartbeat_at),
        expires_at=to_datetime(row.expires_at),
        released_at=to_datetime(row.released_at),
        readiness=Readiness(
            connected_to_hub=row.connected_to_hub,
            local_ready=row.local_ready,
            last_error=row.last_error,
        ),
        tunnel_ids=list(tunnel_ids),
        metadata=row.metadata,
    )


async def active_lease_row(conn: AsyncConnection, owner_id: str, lease_id: str) -> Row[Any]:
    """:func:`lease_row`, refused with ``LEASE_EXPIRED`` or ``LEASE_INACTIVE`` unless the lease
    is active."""
    row = await lease_row(conn, owner_id, lease_id)
    if row.status == LeaseStatus.EXPIRED.value:
        raise HubError(
            ErrorCode.LEASE_EXPIRED, f"lease {lease_id} has expired", {"lease": lease_id}
        )
    if row.status != LeaseStatus.ACTIVE.value:
        raise HubError(
            ErrorCode.LEASE_INACTIVE,
            f"lease {lease_id} is {row.status}",
            {"lease": lease_id, "status": row.status},
        )
    return row
