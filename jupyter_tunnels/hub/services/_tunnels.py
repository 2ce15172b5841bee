"""Tunnels: create, list, get, update, close and rotate, with slugs and hub ports.

A slug is unique among live tunnels. When a tunnel stops, its slug (and hub port) stays
reserved for its owner for ``slug_grace`` seconds, so the same owner creating the same tunnel
again (a connector back from a laptop sleep) gets the same URL, and nobody else can take it
over in between. Choosing them is ``_tunnel_addresses.py``; stopping tunnels (and reserving
their slugs) is ``_tunnel_transitions.py``; rows and their API view are ``_tunnel_rows.py``.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import (
    Access,
    LeaseStatus,
    Target,
    Tunnel,
    TunnelCreate,
    TunnelRotate,
    TunnelUpdate,
    WebhookEvent,
)
from ..._core.names import default_name, resolve_protocol
from ..._core.status import LIVE_STATUSES, TunnelStatus
from .._config import HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now
from ..store._engine import Store
from ._tunnel_addresses import choose_hub_port, choose_slug, own_reservation, slug_of_name
from ._tunnel_rows import LIVE_VALUES, tunnel_model, tunnel_query, tunnel_row
from ._tunnel_transitions import check_transition, stop_tunnels
from ._webhooks import WebhookService

__all__ = ["NOT_SERVED", "DefaultLease", "TunnelService"]

NOT_SERVED = (
    "no connector serves this tunnel: bind it to a lease (PATCH its leaseId) or expose the "
    "port with a connector (jupyter-tunnels expose PORT)"
)
"""The ``lastError`` of a tunnel created without a lease, until it is bound to one: it does
not look as if it were starting."""

DefaultLease = Callable[[str, Target], str | None]
"""The lease that serves a tunnel its owner created without one, given the owner's id and the
target (it may refuse the target with a :class:`HubError`); None leaves it unserved."""


class TunnelService:
    """The rules for tunnels, over the store."""

    def __init__(self, store: Store, config: HubConfig, webhooks: WebhookService) -> None:
        self.store = store
        self.config = config
        self.webhooks = webhooks
        self.default_lease: DefaultLease | None = None
        """Set by a hosting whose own connector serves tunnels created without a lease (the
        hub embedded in Jupyter); a standalone hub leaves them ``creating``, saying why."""

    # --- reading -------------------------------------------------------------------------

    def to_model(self, row: Row[Any]) -> Tunnel:
        """Build the API's view of a tunnel from a row of :func:`tunnel_query`."""
        return tunnel_model(row, self.config)

    async def find_row(self, conn: AsyncConnection, owner_id: str, ref: str) -> Row[Any]:
        """One of the owner's tunnels by id or slug, as a row (for the other services)."""
        return await tunnel_row(conn, owner_id, ref)

    async def load(self, conn: AsyncConnection, tunnel_id: str) -> Tunnel:
        """A tunnel by id inside the caller's transaction."""
        return await self._reload(conn, tunnel_id)

    async def _reload(self, conn: AsyncConnection, tunnel_id: str) -> Tunnel:
        row = (await conn.execute(tunnel_query().where(t.tunnels.c.id == tunnel_id))).one()
        return self.to_model(row)

    async def get(self, owner_id: str, ref: str) -> Tunnel:
        """Return one of the owner's tunnels by id or slug."""
        async with self.store.read() as conn:
            return self.to_model(await tunnel_row(conn, owner_id, ref))

    async def list(
        self,
        owner_id: str,
        *,
        include_inactive: bool = False,
        status: TunnelStatus | None = None,
        lease_id: str | None = None,
    ) -> builtins.list[Tunnel]:
        """Return the owner's tunnels, oldest first: live ones, or all with ``include_inactive``."""
        query = tunnel_query().where(t.tunnels.c.owner_id == owner_id)
        if status is not None:
            query = query.where(t.tunnels.c.status == status.value)
        elif not include_inactive:
            query = query.where(t.tunnels.c.status.in_(LIVE_VALUES))
        if lease_id is not None:
            query = query.where(t.tunnels.c.lease_id == lease_id)
        async with self.store.read() as conn:
            rows = (await conn.execute(query.order_by(t.tunnels.c.created_at))).all()
        return [self.to_model(row) for row in rows]

    # --- writing -------------------------------------------------------------------------

    async def create(self, owner_id: str, body: TunnelCreate) -> Tunnel:
        """Create a tunnel; bound to ``leaseId`` (or to the hosting's default lease) it starts
        ``connecting`` or ``active``, else ``creating`` with ``lastError`` saying so."""
        if body.lease_id is None and self.default_lease is not None:
            lease_id = self.default_lease(owner_id, body.target)
            if lease_id is not None:
                body = body.model_copy(update={"lease_id": lease_id})
        async with self.store.write() as conn:
            tunnel_id = await self.insert(conn, owner_id, body, access=Access(body.access))
            return await self._reload(conn, tunnel_id)

    async def insert(
        self, conn: AsyncConnection, owner_id: str, body: TunnelCreate, *, access: Access
    ) -> str:
        """Create a tunnel inside a write transaction and return its id."""
        protocol = resolve_protocol(body.protocol.value, body.target.port, hub_port=body.hub_port)
        if body.hub_port is not None and protocol not in ("tcp", "udp"):
            raise HubError(
                ErrorCode.INVALID_INPUT,
                f"hubPort is only for tcp and udp tunnels, not {protocol}",
                {"field": "hubPort"},
            )
        name = body.name or default_name(body.target.port)
        created = now()
        client_instance_id = None
        connected = False
        if body.lease_id is not None:
            client_instance_id, connected = await self._usable_lease(conn, owner_id, body.lease_id)
        reservation = await own_reservation(
            conn, owner_id, client_instance_id, body.target.port, protocol, body.slug
        )
        renamed = (
            reservation is not None
            and body.slug is None
            and body.name is not None
            and not slug_of_name(reservation.slug, body.name)
        )
        if renamed:  # the same target asked for under another name: another tunnel, its own slug
            reservation = None
        slug = await choose_slug(conn, owner_id, body.slug, name, reservation)
        hub_port = None
        reach_only = (
            protocol == "tcp"
            and access is Access.PRIVATE
            and body.hub_port is None
            and self.config.tcp_ports is None
        )  # a hub without raw ports (the one inside Jupyter): reached with connect only
        if protocol in ("tcp", "udp") and not reach_only:
            wanted = body.hub_port
            if wanted is None and reservation is not None and reservation.slug == slug:
                wanted = reservation.hub_port
            hub_port = await choose_hub_port(conn, self.config, owner_id, wanted, body.hub_port)
        tunnel_id = str(uuid.uuid4())
        if body.lease_id is None:
            status = TunnelStatus.CREATING
        else:  # served by a lease whose connector may already be attached
            status = TunnelStatus.ACTIVE if connected else TunnelStatus.CONNECTING
        await conn.execute(delete(t.slug_reservations).where(t.slug_reservations.c.slug == slug))
        await conn.execute(
            t.tunnels.insert().values(
                id=tunnel_id,
                owner_id=owner_id,
                lease_id=body.lease_id,
                name=name,
                slug=slug,
                protocol=protocol,
                target_host=body.target.host,
                target_port=body.target.port,
                hub_port=hub_port,
                access=access.value,
                status=status.value,
                metadata=body.metadata,
                created_at=created,
                updated_at=created,
                last_error=NOT_SERVED if body.lease_id is None else None,
            )
        )
        self.store.changed(conn, [tunnel_id])
        await self.emit(conn, owner_id, WebhookEvent.TUNNEL_CREATED, tunnel_id)
        return tunnel_id

    async def update(self, owner_id: str, ref: str, body: TunnelUpdate) -> Tunnel:
        """Rename, pause/resume, fail (with ``lastError``), replace metadata, or bind a
        ``creating`` tunnel to a lease."""
        async with self.store.write() as conn:
            row = await tunnel_row(conn, owner_id, ref)
            current = TunnelStatus(row.status)
            values: dict[str, Any] = {}
            if "name" in body.model_fields_set and body.name is not None:
                values["name"] = body.name
            if "metadata" in body.model_fields_set and body.metadata is not None:
                values["metadata"] = body.metadata
            lease_id, connected = row.lease_id, bool(row.connected_to_hub)
            if body.lease_id is not None and body.lease_id != row.lease_id:
                if current not in LIVE_STATUSES or current is TunnelStatus.STOPPING:
                    check_transition(current, TunnelStatus.CONNECTING)
                _, connected = await self._usable_lease(conn, owner_id, body.lease_id)
                lease_id = values["lease_id"] = body.lease_id
                values["last_error"] = None  # served now (NOT_SERVED no longer holds)
                if current is not TunnelStatus.PAUSED:  # a pause survives moving agents
                    moved = TunnelStatus.ACTIVE if connected else TunnelStatus.CONNECTING
                    if current is TunnelStatus.CREATING:
                        check_transition(current, TunnelStatus.CONNECTING)
                    current = moved
                    values["status"] = current.value
            failed = body.status == TunnelStatus.FAILED.value
            if failed:
                check_transition(current, TunnelStatus.FAILED)
            elif body.status is not None:
                new = TunnelStatus(body.status)
                if new is TunnelStatus.ACTIVE and lease_id is not None and not connected:
                    new = TunnelStatus.CONNECTING  # resumed, but its connector is away
                if new is not current:
                    check_transition(current, new)
                    values["status"] = new.value
            if values:
                values["updated_at"] = now()
                await conn.execute(
                    update(t.tunnels).where(t.tunnels.c.id == row.id).values(**values)
                )
                self.store.changed(conn, [row.id])
                if values.get("status", row.status) != row.status:
                    await self.emit(
                        conn, owner_id, WebhookEvent.TUNNEL_STATUS_CHANGED, row.id, row.status
                    )
            if failed:  # ended like a close (its slug reserved), but failed, saying why
                ended = await stop_tunnels(
                    conn,
                    self.config,
                    t.tunnels.c.id == row.id,
                    last_error=body.last_error,
                    final=TunnelStatus.FAILED,
                )
                self.store.changed(conn, ended)
                await self.emit(
                    conn, owner_id, WebhookEvent.TUNNEL_STATUS_CHANGED, row.id, current.value
                )
            return await self._reload(conn, row.id)

    async def close(self, owner_id: str, ref: str) -> Tunnel:
        """Stop a tunnel and keep it for history; closing a stopped tunnel changes nothing."""
        async with self.store.write() as conn:
            row = await tunnel_row(conn, owner_id, ref)
            stopped = await stop_tunnels(
                conn, self.config, t.tunnels.c.id == row.id, last_error=None
            )
            self.store.changed(conn, stopped)
            if stopped:  # closing a stopped tunnel changes nothing, and says nothing
                await self.emit(conn, owner_id, WebhookEvent.TUNNEL_DELETED, row.id)
            return await self._reload(conn, row.id)

    async def rotate(self, owner_id: str, ref: str, body: TunnelRotate) -> Tunnel:
        """Point a live tunnel at a new local target; its slug and URL stay the same."""
        async with self.store.write() as conn:
            row = await tunnel_row(conn, owner_id, ref)
            status = TunnelStatus(row.status)
            if status not in LIVE_STATUSES or status is TunnelStatus.STOPPING:
                raise HubError(
                    ErrorCode.ILLEGAL_TRANSITION,
                    f"cannot rotate a tunnel that is {status}",
                    {"status": status.value},
                )
            await conn.execute(
                update(t.tunnels)
                .where(t.tunnels.c.id == row.id)
                .values(
                    target_host=body.target.host, target_port=body.target.port, updated_at=now()
                )
            )
            self.store.changed(conn, [row.id])
            return await self._reload(conn, row.id)

    async def emit(
        self,
        conn: AsyncConnection,
        owner_id: str,
        event: WebhookEvent,
        tunnel_id: str,
        previous_status: str | None = None,
    ) -> None:
        """Queue a tunnel event for the owner's webhooks: ``data`` is ``{tunnel}``, plus
        ``previousStatus`` for a status change."""

        async def data() -> dict[str, Any]:
            tunnel = await self._reload(conn, tunnel_id)
            built: dict[str, Any] = {"tunnel": tunnel.to_json()}
            if previous_status is not None:
                built["previousStatus"] = previous_status
            return built

        await self.webhooks.emit(conn, owner_id, event, data)

    # --- helpers -------------------------------------------------------------------------

    async def _usable_lease(
        self, conn: AsyncConnection, owner_id: str, lease_id: str
    ) -> tuple[str, bool]:
        """Check that a lease exists, is the owner's and is active.

        A lease past its ``expiresAt`` counts as expired even before the reaper has marked it,
        so no tunnel is bound to a lease that is already dead.

        Returns its agent's client instance id and whether its connector is attached.
        """
        row = (
            await conn.execute(
                select(
                    t.leases.c.status,
                    t.leases.c.expires_at,
                    t.leases.c.connected_to_hub,
                    t.agents.c.client_instance_id,
                )
                .select_from(t.leases.join(t.agents, t.leases.c.agent_id == t.agents.c.id))
                .where(t.leases.c.id == lease_id, t.leases.c.owner_id == owner_id)
            )
        ).first()
        if row is None:
            raise HubError(ErrorCode.LEASE_NOT_FOUND, f"no lease {lease_id!r}", {"lease": lease_id})
        if row.status == LeaseStatus.EXPIRED.value or (
            row.status == LeaseStatus.ACTIVE.value and row.expires_at <= now()
        ):
            raise HubError(
                ErrorCode.LEASE_EXPIRED,
                f"lease {lease_id} has expired: create a new lease first",
                {"lease": lease_id},
            )
        if row.status != LeaseStatus.ACTIVE.value:
            raise HubError(
                ErrorCode.LEASE_INACTIVE,
                f"lease {lease_id} is {row.status}",
                {"lease": lease_id, "status": row.status},
            )
        return str(row.client_instance_id), bool(row.connected_to_hub)

    async def live_by_slug(self, slug: str) -> Tunnel | None:
        """The live tunnel with this slug, whoever owns it (for the ingress)."""
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    tunnel_query().where(
                        t.tunnels.c.slug == slug, t.tunnels.c.status.in_(LIVE_VALUES)
                    )
                )
            ).first()
        return self.to_model(row) if row is not None else None

    async def owner_of(self, tunnel_id: str) -> str:
        """The owner id of a tunnel."""
        async with self.store.read() as conn:
            owner = (
                await conn.execute(select(t.tunnels.c.owner_id).where(t.tunnels.c.id == tunnel_id))
            ).scalar_one()
        return str(owner)
