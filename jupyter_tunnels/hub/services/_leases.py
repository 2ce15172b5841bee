"""Agents and leases: create-or-attach, heartbeat, refresh, release, delete and expiry.

An agent is a connector instance, known by the ``clientInstanceId`` it keeps across restarts.
A lease is that agent's claim to serve tunnels; it lives ``ttlSeconds`` after its last
heartbeat. Asking for a lease with a ``clientInstanceId`` that already holds a live one
attaches to it (and rotates its agent token, which evicts a stale connector: the lease's
tunnels are ``connecting`` until the new connector attaches); the same
``idempotencyKey`` always designates the same lease, so a retried request never makes two.
Leases and agents as rows are ``_lease_rows.py`` and ``_agent_rows.py``.
"""

from __future__ import annotations

import builtins
import uuid
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import (
    Agent,
    HeartbeatAction,
    HeartbeatRequest,
    HeartbeatResponse,
    Lease,
    LeaseCreate,
    LeaseGrant,
    LeaseRefresh,
    LeaseStatus,
    RelayLeaseStatus,
    WebhookEvent,
)
from .._config import HEARTBEATS_PER_TTL, HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now, to_datetime
from ..store._engine import Store
from ..store._owners import AGENT_TOKEN_PREFIX, hash_token, new_token
from ._agent_rows import agent_event, list_agents, register_agent
from ._lease_rows import active_lease_row, lease_model, lease_row
from ._readiness_rows import record_tunnel_readiness
from ._tunnel_rows import LIVE_VALUES
from ._tunnel_transitions import follow_connection, stop_tunnels
from ._tunnels import TunnelService
from ._webhooks import WebhookService

__all__ = ["LeaseService"]


class LeaseService:
    """The rules for agents and leases, over the store."""

    def __init__(
        self, store: Store, config: HubConfig, tunnels: TunnelService, webhooks: WebhookService
    ) -> None:
        self.store = store
        self.config = config
        self.tunnels = tunnels
        self.webhooks = webhooks

    # --- reading -------------------------------------------------------------------------

    async def get(self, owner_id: str, lease_id: str) -> Lease:
        """Return one of the owner's leases."""
        async with self.store.read() as conn:
            return await lease_model(conn, await lease_row(conn, owner_id, lease_id))

    async def list(
        self, owner_id: str, *, client_instance_id: str | None = None, include_expired: bool = False
    ) -> builtins.list[Lease]:
        """Return the owner's leases, oldest first: active ones, or all with ``include_expired``."""
        query = (
            select(t.leases, t.agents.c.client_instance_id)
            .select_from(t.leases.join(t.agents, t.leases.c.agent_id == t.agents.c.id))
            .where(t.leases.c.owner_id == owner_id)
        )
        if client_instance_id is not None:
            query = query.where(t.agents.c.client_instance_id == client_instance_id)
        if not include_expired:
            query = query.where(t.leases.c.status == LeaseStatus.ACTIVE.value)
        async with self.store.read() as conn:
            rows = (await conn.execute(query.order_by(t.leases.c.created_at))).all()
            return [await lease_model(conn, row) for row in rows]

    async def list_agents(self, owner_id: str) -> builtins.list[Agent]:
        """Return the owner's agents, oldest first, with whether each holds a live lease."""
        return await list_agents(self.store, owner_id)

    async def lease_for_agent_token(self, token: str) -> tuple[str, str] | None:
        """Return ``(owner_id, lease_id)`` for an agent token, or None if it is unknown."""
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    select(t.leases.c.owner_id, t.leases.c.id).where(
                        t.leases.c.agent_token_hash == hash_token(token)
                    )
                )
            ).first()
        return (str(row.owner_id), str(row.id)) if row else None

    # --- writing -------------------------------------------------------------------------

    async def create_or_attach(self, owner_id: str, body: LeaseCreate) -> LeaseGrant:
        """Create a lease for the agent, or attach to its live one (rotating the agent token)."""
        async with self.store.write() as conn:
            lease_id, token, created = await self.create_or_attach_in(conn, owner_id, body)
            lease = await lease_model(conn, await lease_row(conn, owner_id, lease_id))
        return LeaseGrant(**lease.model_dump(), agent_token=token, created=created)

    async def create_or_attach_in(
        self, conn: AsyncConnection, owner_id: str, body: LeaseCreate
    ) -> tuple[str, str, bool]:
        """Create-or-attach inside a write transaction; return ``(lease_id, token, created)``."""
        current = now()
        await self._expire_due(conn, current)
        agent_id = await register_agent(conn, owner_id, body.client_instance_id, current)
        ttl = float(body.ttl_seconds) if body.ttl_seconds else self.config.lease_ttl
        existing = None
        if body.idempotency_key is not None:
            existing = (
                await conn.execute(
                    select(t.leases).where(
                        t.leases.c.owner_id == owner_id,
                        t.leases.c.idempotency_key == body.idempotency_key,
                    )
                )
            ).first()
            if existing is not None and existing.agent_id != agent_id:
                raise HubError(
                    ErrorCode.IDEMPOTENCY_CONFLICT,
                    "this idempotencyKey was used for another clientInstanceId",
                    {"idempotencyKey": body.idempotency_key},
                )
            if existing is not None and existing.status != LeaseStatus.ACTIVE.value:
                expired = existing.status == LeaseStatus.EXPIRED.value
                raise HubError(
                    ErrorCode.LEASE_EXPIRED if expired else ErrorCode.LEASE_INACTIVE,
                    f"the lease made with this idempotencyKey is {existing.status}: use a new key",
                    {"idempotencyKey": body.idempotency_key, "lease": existing.id},
                )
        if existing is None:
            existing = (
                await conn.execute(
                    select(t.leases).where(
                        t.leases.c.agent_id == agent_id,
                        t.leases.c.status == LeaseStatus.ACTIVE.value,
                    )
                )
            ).first()
        token = new_token(AGENT_TOKEN_PREFIX)
        if existing is not None:
            if not body.ttl_seconds:  # attaching keeps the lease's own TTL
                ttl = float(existing.ttl_seconds)
            values: dict[str, Any] = {
                "agent_token_hash": hash_token(token),
                "ttl_seconds": ttl,
                "expires_at": current + ttl,
            }
            if existing.idempotency_key is None and body.idempotency_key is not None:
                values["idempotency_key"] = body.idempotency_key
            if existing.connected_to_hub:
                # the connector attached until now holds a dead token: its tunnels wait for
                # the new one (``connecting``) instead of looking served by a process that may
                # have gone; they are ``active`` again once the new connector attaches
                values["connected_to_hub"] = False
            await conn.execute(
                update(t.leases).where(t.leases.c.id == existing.id).values(**values)
            )
            if existing.connected_to_hub:
                await follow_connection(conn, self.store, self.tunnels, existing.id, False)
                await agent_event(conn, self.webhooks, existing, False)
            return str(existing.id), token, False
        lease_id = str(uuid.uuid4())
        await conn.execute(
            t.leases.insert().values(
                id=lease_id,
                owner_id=owner_id,
                agent_id=agent_id,
                status=LeaseStatus.ACTIVE.value,
                ttl_seconds=ttl,
                idempotency_key=body.idempotency_key,
                agent_token_hash=hash_token(token),
                created_at=current,
                expires_at=current + ttl,
                connected_to_hub=False,
                local_ready=False,
                metadata=body.metadata,
            )
        )
        return lease_id, token, True

    async def heartbeat(
        self, owner_id: str, lease_id: str, body: HeartbeatRequest
    ) -> HeartbeatResponse:
        """Record readiness (the lease's, and each tunnel's it names) and extend the lease;
        expired leases answer ``410 LEASE_EXPIRED``."""
        async with self.store.write() as conn:
            current = now()
            await self._expire_due(conn, current)
            row = await lease_row(conn, owner_id, lease_id)
            if row.status == LeaseStatus.ACTIVE.value:
                expires_at = current + row.ttl_seconds
                await conn.execute(
                    update(t.leases)
                    .where(t.leases.c.id == lease_id)
                    .values(
                        last_heartbeat_at=current,
                        expires_at=expires_at,
                        connected_to_hub=body.connected_to_hub,
                        local_ready=body.local_ready,
                        last_error=body.last_error,
                    )
                )
                await record_tunnel_readiness(conn, lease_id, body.tunnels)
                await conn.execute(
                    update(t.agents)
                    .where(t.agents.c.id == row.agent_id)
                    .values(last_seen_at=current)
                )
                await follow_connection(
                    conn, self.store, self.tunnels, lease_id, body.connected_to_hub
                )
                action = HeartbeatAction.NONE
            else:
                expires_at = row.expires_at
                action = HeartbeatAction.STOP
        if row.status == LeaseStatus.EXPIRED.value:
            raise HubError(
                ErrorCode.LEASE_EXPIRED,
                f"lease {lease_id} expired: no heartbeat for {row.ttl_seconds:g} s; "
                "create a new lease (its tunnels keep their URLs)",
                {"lease": lease_id},
            )
        return HeartbeatResponse(
            lease_id=lease_id,
            status=row.status,
            expires_at=to_datetime(expires_at),
            next_heartbeat_seconds=row.ttl_seconds / HEARTBEATS_PER_TTL,
            action=action,
        )

    async def reset_connections(self) -> None:
        """At start-up no connector is attached yet, whatever the store says from before."""
        async with self.store.write() as conn:
            attached = (
                await conn.execute(
                    select(t.leases).where(
                        t.leases.c.status == LeaseStatus.ACTIVE.value,
                        t.leases.c.connected_to_hub.is_(True),
                    )
                )
            ).all()
            for lease in attached:
                await conn.execute(
                    update(t.leases).where(t.leases.c.id == lease.id).values(connected_to_hub=False)
                )
                await follow_connection(conn, self.store, self.tunnels, lease.id, False)
                await agent_event(conn, self.webhooks, lease, False)

    async def set_connected(self, lease_id: str, connected: bool) -> None:
        """Record that the lease's connector attached to (or left) the hub's control channel."""
        async with self.store.write() as conn:
            row = (await conn.execute(select(t.leases).where(t.leases.c.id == lease_id))).first()
            if row is None or row.status != LeaseStatus.ACTIVE.value:
                return
            if not connected and not row.connected_to_hub:  # already left (taken over)
                return
            await conn.execute(
                update(t.leases).where(t.leases.c.id == lease_id).values(connected_to_hub=connected)
            )
            await conn.execute(
                update(t.agents).where(t.agents.c.id == row.agent_id).values(last_seen_at=now())
            )
            await follow_connection(conn, self.store, self.tunnels, lease_id, connected)
            await agent_event(conn, self.webhooks, row, connected)

    async def refresh(self, owner_id: str, lease_id: str, body: LeaseRefresh) -> Lease:
        """Extend an active lease by its TTL (or a new ``ttlSeconds``) from now."""
        async with self.store.write() as conn:
            current = now()
            await self._expire_due(conn, current)
            row = await active_lease_row(conn, owner_id, lease_id)
            ttl = float(body.ttl_seconds) if body.ttl_seconds else row.ttl_seconds
            await conn.execute(
                update(t.leases)
                .where(t.leases.c.id == lease_id)
                .values(ttl_seconds=ttl, expires_at=current + ttl)
            )
            return await lease_model(conn, await lease_row(conn, owner_id, lease_id))

    async def release(self, owner_id: str, lease_id: str) -> Lease:
        """End a lease by choice: its tunnels stop, its record stays for history."""
        async with self.store.write() as conn:
            await self._expire_due(conn, now())
            row = await lease_row(conn, owner_id, lease_id)
            if row.status == LeaseStatus.ACTIVE.value:
                await self._end(conn, row, LeaseStatus.RELEASED, last_error=None)
            return await lease_model(conn, await lease_row(conn, owner_id, lease_id))

    async def delete(self, owner_id: str, lease_id: str) -> Lease:
        """Stop the lease's tunnels and remove the lease; return it as it was last."""
        async with self.store.write() as conn:
            row = await lease_row(conn, owner_id, lease_id)
            if row.status == LeaseStatus.ACTIVE.value:
                await self._end(conn, row, LeaseStatus.RELEASED, last_error=None)
            lease = await lease_model(conn, await lease_row(conn, owner_id, lease_id))
            await conn.execute(delete(t.leases).where(t.leases.c.id == lease_id))
            return lease

    async def expire_due(self) -> int:
        """Expire every active lease past its ``expiresAt``; return how many (the reaper)."""
        async with self.store.write() as conn:
            return await self._expire_due(conn, now())

    async def _expire_due(self, conn: AsyncConnection, current: float) -> int:
        rows = (
            await conn.execute(
                select(t.leases, t.agents.c.client_instance_id)
                .select_from(t.leases.join(t.agents, t.leases.c.agent_id == t.agents.c.id))
                .where(
                    t.leases.c.status == LeaseStatus.ACTIVE.value, t.leases.c.expires_at <= current
                )
            )
        ).all()
        for row in rows:
            silent = current - (row.last_heartbeat_at or row.created_at)
            await self._end(
                conn,
                row,
                LeaseStatus.EXPIRED,
                last_error=f"lease expired: no heartbeat from its agent for {silent:.0f} s",
            )
        return len(rows)

    async def _end(
        self, conn: AsyncConnection, row: Row[Any], status: LeaseStatus, *, last_error: str | None
    ) -> None:
        ended = now()
        live = await conn.execute(
            select(t.tunnels.c.id, t.tunnels.c.status).where(
                t.tunnels.c.lease_id == row.id, t.tunnels.c.status.in_(LIVE_VALUES)
            )
        )
        was = {tunnel.id: tunnel.status for tunnel in live}
        await conn.execute(
            update(t.leases)
            .where(t.leases.c.id == row.id)
            .values(
                status=status.value,
                released_at=ended if status is LeaseStatus.RELEASED else None,
                connected_to_hub=False,
            )
        )
        stopped = await stop_tunnels(
            conn,
            self.config,
            t.tunnels.c.lease_id == row.id,
            last_error=last_error,
            client_instance_id=row.client_instance_id,
        )
        self.store.changed(conn, stopped)
        if row.connected_to_hub:  # its control channel closes after this, on a dead lease
            await agent_event(conn, self.webhooks, row, False)
        for tunnel_id in stopped:
            await self.tunnels.emit(
                conn, row.owner_id, WebhookEvent.TUNNEL_STATUS_CHANGED, tunnel_id, was[tunnel_id]
            )
        if status is LeaseStatus.EXPIRED:

            async def data() -> dict[str, Any]:
                lease = await lease_model(conn, await lease_row(conn, row.owner_id, row.id))
                return {"lease": lease.to_json(), "stoppedTunnelIds": stopped}

            await self.webhooks.emit(conn, row.owner_id, WebhookEvent.LEASE_EXPIRED, data)
        relay_status = (
            RelayLeaseStatus.EXPIRED if status is LeaseStatus.EXPIRED else RelayLeaseStatus.CLOSED
        )
        await conn.execute(
            update(t.relay_leases)
            .where(
                t.relay_leases.c.lease_id == row.id,
                t.relay_leases.c.status == RelayLeaseStatus.ACTIVE.value,
            )
            .values(status=relay_status.value, closed_at=ended)
        )
