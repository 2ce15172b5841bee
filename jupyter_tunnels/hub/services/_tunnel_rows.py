"""Tunnels as rows of the store: the query that joins each with its lease and its own
readiness, finding one by id or slug, and the API's view of such a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from ..._core.errors import ErrorCode
from ..._core.models import LeaseStatus, LeaseSummary, Readiness, Target, Tunnel
from ..._core.status import INACTIVE_STATUSES, LIVE_STATUSES
from .._config import HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import to_datetime

__all__ = ["LIVE_VALUES", "tunnel_model", "tunnel_query", "tunnel_row"]

LIVE_VALUES = [s.value for s in LIVE_STATUSES]
"""The stored ``status`` of the live tunnels, for ``status.in_(LIVE_VALUES)``."""
_INACTIVE_VALUES = [s.value for s in INACTIVE_STATUSES]
_own = t.tunnel_readiness
_has_own = _own.c.tunnel_id.is_not(None)
_OWN_READINESS = and_(_own.c.tunnel_id == t.tunnels.c.id, _own.c.lease_id == t.tunnels.c.lease_id)
"""A tunnel's own readiness, as reported on its current lease (never on an older one)."""


def tunnel_query() -> Select[Any]:
    """Every tunnel with the state of its lease: the rows :func:`tunnel_model` reads.

    Its ``local_ready`` and ``readiness_error`` are the tunnel's own when its connector
    reported them (``_readiness_rows.py``), else its lease's (an older connector's); its own
    null error stays null.
    """
    return select(
        t.tunnels,
        t.leases.c.agent_id,
        t.leases.c.status.label("lease_status"),
        t.leases.c.last_heartbeat_at,
        t.leases.c.expires_at,
        t.leases.c.connected_to_hub,
        case((_has_own, _own.c.local_ready), else_=t.leases.c.local_ready).label("local_ready"),
        case((_has_own, _own.c.last_error), else_=t.leases.c.last_error).label("readiness_error"),
    ).select_from(
        t.tunnels.outerjoin(t.leases, t.tunnels.c.lease_id == t.leases.c.id).outerjoin(
            _own, _OWN_READINESS
        )
    )


async def tunnel_row(conn: AsyncConnection, owner_id: str, ref: str) -> Row[Any]:
    """Find a tunnel by id or slug (the live one first, else the newest)."""
    query = (
        tunnel_query()
        .where(t.tunnels.c.owner_id == owner_id)
        .where(or_(t.tunnels.c.id == ref, t.tunnels.c.slug == ref))
        .order_by(t.tunnels.c.status.in_(_INACTIVE_VALUES), t.tunnels.c.created_at.desc())
        .limit(1)
    )
    row: Row[Any] | None = (await conn.execute(query)).first()
    if row is None:
        raise HubError(ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel {ref!r}", {"tunnel": ref})
    return row


def tunnel_model(row: Row[Any], config: HubConfig) -> Tunnel:
    """Build the API's view of a tunnel from a row of :func:`tunnel_query`."""
    lease_live = row.lease_status == LeaseStatus.ACTIVE.value
    lease = (
        LeaseSummary(
            last_heartbeat_at=to_datetime(row.last_heartbeat_at),
            expires_at=to_datetime(row.expires_at),
        )
        if lease_live
        else None
    )
    readiness = (
        Readiness(
            connected_to_hub=row.connected_to_hub,
            local_ready=row.local_ready,
            last_error=row.readiness_error,
        )
        if lease_live
        else Readiness()
    )
    return Tunnel(
        id=row.id,
        name=row.name,
        slug=row.slug,
        hostname=config.tunnel_hostname(row.slug),
        url=config.tunnel_url(row.slug, row.protocol, row.hub_port),
        protocol=row.protocol,
        target=Target(host=row.target_host, port=row.target_port),
        requested_port=row.target_port,
        hub_port=row.hub_port,
        access=row.access,
        status=row.status,
        agent_id=row.agent_id,
        lease_id=row.lease_id,
        lease=lease,
        readiness=readiness,
        metadata=row.metadata,
        created_at=to_datetime(row.created_at),
        updated_at=to_datetime(row.updated_at),
        stopped_at=to_datetime(row.stopped_at),
        last_error=row.last_error,
    )
