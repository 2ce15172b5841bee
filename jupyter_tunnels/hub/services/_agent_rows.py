"""Agents as rows of the store: a connector instance known by its ``clientInstanceId``.

Registering one (the first lease it asks for makes it), listing an owner's agents with whether
each holds a live lease, and the webhook events of one connecting or leaving. The agents
attached right now are ``_agents.py``'s.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.models import Agent, LeaseStatus, WebhookEvent
from ..store import _tables as t
from ..store._clock import now, to_datetime
from ..store._engine import Store
from ._webhooks import WebhookService

__all__ = ["agent_event", "list_agents", "register_agent"]


async def register_agent(
    conn: AsyncConnection, owner_id: str, client_instance_id: str, seen: float
) -> str:
    """The id of the owner's agent with this ``client_instance_id``, made if there is none;
    either way it was last seen at ``seen``."""
    row = (
        await conn.execute(
            select(t.agents.c.id).where(
                t.agents.c.owner_id == owner_id,
                t.agents.c.client_instance_id == client_instance_id,
            )
        )
    ).first()
    if row is not None:
        await conn.execute(
            update(t.agents).where(t.agents.c.id == row.id).values(last_seen_at=seen)
        )
        return str(row.id)
    agent_id = str(uuid.uuid4())
    await conn.execute(
        t.agents.insert().values(
            id=agent_id,
            owner_id=owner_id,
            client_instance_id=client_instance_id,
            created_at=seen,
            last_seen_at=seen,
        )
    )
    return agent_id


async def list_agents(store: Store, owner_id: str) -> list[Agent]:
    """Return the owner's agents, oldest first, with whether each holds a live lease."""
    live = (
        select(t.leases.c.agent_id, func.max(t.leases.c.id).label("lease_id"))
        .where(t.leases.c.status == LeaseStatus.ACTIVE.value, t.leases.c.expires_at > now())
        .group_by(t.leases.c.agent_id)
        .subquery()
    )
    query = (
        select(t.agents, live.c.lease_id)
        .select_from(t.agents.outerjoin(live, live.c.agent_id == t.agents.c.id))
        .where(t.agents.c.owner_id == owner_id)
        .order_by(t.agents.c.created_at)
    )
    async with store.read() as conn:
        rows = (await conn.execute(query)).all()
    return [
        Agent(
            id=row.id,
            client_instance_id=row.client_instance_id,
            online=row.lease_id is not None,
            active_lease_id=row.lease_id,
            created_at=to_datetime(row.created_at),
            last_seen_at=to_datetime(row.last_seen_at),
        )
        for row in rows
    ]


async def agent_event(
    conn: AsyncConnection, webhooks: WebhookService, lease: Row[Any], connected: bool
) -> None:
    """Queue ``agent.connected`` or ``agent.disconnected`` for the lease's agent."""

    async def data() -> dict[str, Any]:
        agent = (await conn.execute(select(t.agents).where(t.agents.c.id == lease.agent_id))).one()
        return {
            "agent": {"id": agent.id, "clientInstanceId": agent.client_instance_id},
            "leaseId": lease.id,
        }

    event = WebhookEvent.AGENT_CONNECTED if connected else WebhookEvent.AGENT_DISCONNECTED
    await webhooks.emit(conn, lease.owner_id, event, data)
