"""Relay leases: a lease plus a tunnel whose visitors must show the worker token.

Made for machine clients (a hosted job calling back into a notebook's model server): the
public URL demands ``Authorization: Bearer <workerToken>``. The worker token can be rotated at
any time without touching the agent; the old one stops working at once. Credentials are
returned once and stored hashed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import (
    Access,
    AgentConnect,
    LeaseCreate,
    LeaseStatus,
    Protocol,
    RelayLease,
    RelayLeaseCreate,
    RelayLeaseGrant,
    RelayLeaseStatus,
    TunnelCreate,
    WorkerToken,
)
from .._config import HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now, to_datetime
from ..store._engine import Store
from ..store._owners import WORKER_TOKEN_PREFIX, hash_token, new_token
from ._leases import LeaseService
from ._tunnels import TunnelService

__all__ = ["RelayService"]


class RelayService:
    """The rules for relay leases, over the store and the lease and tunnel services."""

    def __init__(
        self, store: Store, config: HubConfig, leases: LeaseService, tunnels: TunnelService
    ) -> None:
        self.store = store
        self.config = config
        self.leases = leases
        self.tunnels = tunnels

    async def _row(self, conn: AsyncConnection, owner_id: str, relay_id: str) -> Row[Any]:
        row = (
            await conn.execute(
                select(
                    t.relay_leases,
                    t.leases.c.expires_at,
                    t.leases.c.connected_to_hub,
                    t.leases.c.status.label("lease_status"),
                    t.tunnels.c.slug,
                    t.tunnels.c.hub_port,
                )
                .select_from(
                    t.relay_leases.join(t.leases, t.relay_leases.c.lease_id == t.leases.c.id).join(
                        t.tunnels, t.relay_leases.c.tunnel_id == t.tunnels.c.id
                    )
                )
                .where(t.relay_leases.c.id == relay_id, t.relay_leases.c.owner_id == owner_id)
            )
        ).first()
        if row is None:
            raise HubError(
                ErrorCode.RELAY_LEASE_NOT_FOUND,
                f"no relay lease {relay_id!r}",
                {"relayLease": relay_id},
            )
        return row

    def _to_model(self, row: Row[Any]) -> RelayLease:
        active = row.status == RelayLeaseStatus.ACTIVE.value
        return RelayLease(
            id=row.id,
            lease_id=row.lease_id,
            tunnel_id=row.tunnel_id,
            status=row.status,
            public_url=self.config.tunnel_url(row.slug, "http", row.hub_port),
            connected=bool(active and row.connected_to_hub),
            created_at=to_datetime(row.created_at),
            expires_at=to_datetime(row.expires_at),
            closed_at=to_datetime(row.closed_at),
        )

    async def create(self, owner_id: str, body: RelayLeaseCreate) -> RelayLeaseGrant:
        """Create a lease and its token-protected tunnel; return both tokens, this once."""
        worker_token = new_token(WORKER_TOKEN_PREFIX)
        relay_id = str(uuid.uuid4())
        async with self.store.write() as conn:
            lease_id, agent_token, _ = await self.leases.create_or_attach_in(
                conn,
                owner_id,
                LeaseCreate(
                    client_instance_id=body.client_instance_id,
                    ttl_seconds=body.ttl_seconds,
                    metadata=body.metadata,
                ),
            )
            tunnel_id = await self.tunnels.insert(
                conn,
                owner_id,
                TunnelCreate(
                    target=body.target,
                    name=body.name,
                    protocol=Protocol.HTTP,
                    lease_id=lease_id,
                    metadata=body.metadata,
                ),
                access=Access.TOKEN,
            )
            await conn.execute(
                t.relay_leases.insert().values(
                    id=relay_id,
                    owner_id=owner_id,
                    lease_id=lease_id,
                    tunnel_id=tunnel_id,
                    worker_token_hash=hash_token(worker_token),
                    status=RelayLeaseStatus.ACTIVE.value,
                    created_at=now(),
                )
            )
            relay = self._to_model(await self._row(conn, owner_id, relay_id))
        return RelayLeaseGrant(
            **relay.model_dump(),
            agent_token=agent_token,
            worker_token=worker_token,
            agent_connect=AgentConnect(url=self.config.agent_connect_url()),
        )

    async def get(self, owner_id: str, relay_id: str) -> RelayLease:
        """Return one of the owner's relay leases (without its tokens)."""
        await self.leases.expire_due()
        async with self.store.read() as conn:
            return self._to_model(await self._row(conn, owner_id, relay_id))

    async def close(self, owner_id: str, relay_id: str) -> RelayLease:
        """Close a relay lease: release its lease and stop its tunnel. Closing twice is a no-op."""
        async with self.store.read() as conn:
            row = await self._row(conn, owner_id, relay_id)
        if row.lease_status == LeaseStatus.ACTIVE.value:
            await self.leases.release(owner_id, row.lease_id)
        async with self.store.write() as conn:
            await conn.execute(
                update(t.relay_leases)
                .where(
                    t.relay_leases.c.id == relay_id,
                    t.relay_leases.c.status == RelayLeaseStatus.ACTIVE.value,
                )
                .values(status=RelayLeaseStatus.CLOSED.value, closed_at=now())
            )
            return self._to_model(await self._row(conn, owner_id, relay_id))

    async def refresh_worker_token(self, owner_id: str, relay_id: str) -> WorkerToken:
        """Issue a new worker token; the previous one stops working at once."""
        await self.leases.expire_due()
        token = new_token(WORKER_TOKEN_PREFIX)
        async with self.store.write() as conn:
            row = await self._row(conn, owner_id, relay_id)
            if row.status != RelayLeaseStatus.ACTIVE.value:
                raise HubError(
                    ErrorCode.LEASE_INACTIVE,
                    f"relay lease {relay_id} is {row.status}: create a new one",
                    {"relayLease": relay_id, "status": row.status},
                )
            await conn.execute(
                update(t.relay_leases)
                .where(t.relay_leases.c.id == relay_id)
                .values(worker_token_hash=hash_token(token))
            )
            self.store.changed(conn, [row.tunnel_id])
        return WorkerToken(relay_lease_id=relay_id, worker_token=token)

    async def tunnel_accepts_worker_token(self, tunnel_id: str, token: str) -> bool:
        """Tell whether ``token`` is the current worker token of the tunnel's active relay lease."""
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    select(t.relay_leases.c.id).where(
                        t.relay_leases.c.tunnel_id == tunnel_id,
                        t.relay_leases.c.status == RelayLeaseStatus.ACTIVE.value,
                        t.relay_leases.c.worker_token_hash == hash_token(token),
                    )
                )
            ).first()
        return row is not None
