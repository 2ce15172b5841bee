"""Tunnel status changes in the store: the check every change obeys, stopping in bulk, and
following a lease's connector (``connecting`` while it is away, ``active`` once attached).

Stopping a tunnel reserves its slug (and hub port) for its owner for ``slug_grace`` seconds,
so the same owner creating the same tunnel again gets the same URL (``_tunnel_addresses.py``).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import WebhookEvent
from ..._core.status import TunnelStatus, can_transition
from .._config import HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now
from ._tunnel_rows import LIVE_VALUES

if TYPE_CHECKING:
    from ..store._engine import Store

__all__ = ["TunnelEvents", "check_transition", "follow_connection", "stop_tunnels"]


class TunnelEvents(Protocol):
    """What following a connector needs of the tunnel service: its webhook events (a protocol,
    as ``_tunnels.py`` imports this module)."""

    async def emit(
        self,
        conn: AsyncConnection,
        owner_id: str,
        event: WebhookEvent,
        tunnel_id: str,
        previous_status: str | None = None,
    ) -> None:
        """Queue a tunnel event for the owner's webhooks."""


def check_transition(current: TunnelStatus, new: TunnelStatus) -> None:
    """Raise ``409 ILLEGAL_TRANSITION`` unless a tunnel in ``current`` may move to ``new``."""
    if not can_transition(current, new):
        raise HubError(
            ErrorCode.ILLEGAL_TRANSITION,
            f"a tunnel cannot go from {current} to {new}",
            {"from": current.value, "to": new.value},
        )


async def stop_tunnels(
    conn: AsyncConnection,
    config: HubConfig,
    condition: Any,
    *,
    last_error: str | None,
    client_instance_id: str | None = None,
    final: TunnelStatus = TunnelStatus.STOPPED,
) -> builtins.list[str]:
    """Stop every live tunnel matching ``condition`` and reserve their slugs; return their ids.

    The tunnels pass through ``stopping`` on their way to ``stopped``; with no streams open in
    the hub yet, nothing has to be waited for in between. With ``final`` ``failed`` they end
    ``failed`` instead (straight from their live status), with ``last_error`` saying why.
    """
    rows = (
        await conn.execute(select(t.tunnels).where(condition, t.tunnels.c.status.in_(LIVE_VALUES)))
    ).all()
    stopped_at = now()
    for row in rows:
        next_status = TunnelStatus.STOPPING if final is TunnelStatus.STOPPED else final
        check_transition(TunnelStatus(row.status), next_status)
        await conn.execute(
            delete(t.slug_reservations).where(t.slug_reservations.c.slug == row.slug)
        )
        await conn.execute(
            t.slug_reservations.insert().values(
                slug=row.slug,
                owner_id=row.owner_id,
                client_instance_id=client_instance_id,
                target_port=row.target_port,
                protocol=row.protocol,
                hub_port=row.hub_port,
                reserved_until=stopped_at + config.slug_grace,
            )
        )
    if rows:
        await conn.execute(
            update(t.tunnels)
            .where(t.tunnels.c.id.in_([row.id for row in rows]))
            .values(
                status=final.value,
                stopped_at=stopped_at,
                updated_at=stopped_at,
                last_error=last_error,
            )
        )
    return [str(row.id) for row in rows]


async def follow_connection(
    conn: AsyncConnection, store: Store, tunnels: TunnelEvents, lease_id: str, connected: bool
) -> None:
    """Move the lease's tunnels between ``connecting`` and ``active`` with the connector."""
    old, new = (
        (TunnelStatus.CONNECTING, TunnelStatus.ACTIVE)
        if connected
        else (TunnelStatus.ACTIVE, TunnelStatus.CONNECTING)
    )
    check_transition(old, new)
    rows = (
        await conn.execute(
            select(t.tunnels.c.id, t.tunnels.c.owner_id).where(
                t.tunnels.c.lease_id == lease_id, t.tunnels.c.status == old.value
            )
        )
    ).all()
    moved = [row.id for row in rows]
    if moved:
        await conn.execute(
            update(t.tunnels)
            .where(t.tunnels.c.id.in_(moved))
            .values(status=new.value, updated_at=now())
        )
        store.changed(conn, moved)
    for row in rows:
        await tunnels.emit(
            conn, row.owner_id, WebhookEvent.TUNNEL_STATUS_CHANGED, row.id, old.value
        )
