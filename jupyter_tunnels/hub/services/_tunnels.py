"""Tunnels: create, list, get, update, close and rotate, with slugs and hub ports.

A slug is unique among live tunnels. When a tunnel stops, its slug (and hub port) stays
reserved for its owner for ``slug_grace`` seconds, so the same owner creating the same tunnel
again (a connector back from a laptop sleep) gets the same URL, and nobody else can take it
over in between.
"""

from __future__ import annotations

import builtins
import secrets
import uuid
from typing import Any

from sqlalchemy import Row, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from ..._core.errors import ErrorCode
from ..._core.models import (
    Access,
    LeaseStatus,
    LeaseSummary,
    Readiness,
    Target,
    Tunnel,
    TunnelCreate,
    TunnelRotate,
    TunnelUpdate,
    WebhookEvent,
)
from ..._core.names import default_name, random_slug, resolve_protocol, slugify
from ..._core.status import INACTIVE_STATUSES, LIVE_STATUSES, TunnelStatus, can_transition
from .._config import HubConfig
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now, to_datetime
from ..store._engine import Store
from ._webhooks import WebhookService

__all__ = ["TunnelService", "check_transition", "stop_tunnels"]

SLUG_ATTEMPTS = 20
SUFFIX_LENGTH = 4
_LIVE_VALUES = [s.value for s in LIVE_STATUSES]
_INACTIVE_VALUES = [s.value for s in INACTIVE_STATUSES]


def check_transition(current: TunnelStatus, new: TunnelStatus) -> None:
    """Raise ``409 ILLEGAL_TRANSITION`` unless a tunnel in ``current`` may move to ``new``."""
    if not can_transition(current, new):
        raise HubError(
            ErrorCode.ILLEGAL_TRANSITION,
            f"a tunnel cannot go from {current} to {new}",
            {"from": current.value, "to": new.value},
        )


def _tunnel_query() -> Select[Any]:
    return select(
        t.tunnels,
        t.leases.c.agent_id,
        t.leases.c.status.label("lease_status"),
        t.leases.c.last_heartbeat_at,
        t.leases.c.expires_at,
        t.leases.c.connected_to_hub,
        t.leases.c.local_ready,
        t.leases.c.last_error.label("lease_error"),
    ).select_from(t.tunnels.outerjoin(t.leases, t.tunnels.c.lease_id == t.leases.c.id))


async def stop_tunnels(
    conn: AsyncConnection,
    config: HubConfig,
    condition: Any,
    *,
    last_error: str | None,
    client_instance_id: str | None = None,
) -> builtins.list[str]:
    """Stop every live tunnel matching ``condition`` and reserve their slugs; return their ids.

    The tunnels pass through ``stopping`` on their way to ``stopped``; with no streams open in
    the hub yet, nothing has to be waited for in between.
    """
    rows = (
        await conn.execute(select(t.tunnels).where(condition, t.tunnels.c.status.in_(_LIVE_VALUES)))
    ).all()
    stopped_at = now()
    for row in rows:
        check_transition(TunnelStatus(row.status), TunnelStatus.STOPPING)
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
                status=TunnelStatus.STOPPED.value,
                stopped_at=stopped_at,
                updated_at=stopped_at,
                last_error=last_error,
            )
        )
    return [str(row.id) for row in rows]


class TunnelService:
    """The rules for tunnels, over the store."""

    def __init__(self, store: Store, config: HubConfig, webhooks: WebhookService) -> None:
        self.store = store
        self.config = config
        self.webhooks = webhooks

    # --- reading -------------------------------------------------------------------------

    def to_model(self, row: Row[Any]) -> Tunnel:
        """Build the API's view of a tunnel from a row of :func:`_tunnel_query`."""
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
                last_error=row.lease_error,
            )
            if lease_live
            else Readiness()
        )
        return Tunnel(
            id=row.id,
            name=row.name,
            slug=row.slug,
            hostname=self.config.tunnel_hostname(row.slug),
            url=self.config.tunnel_url(row.slug, row.protocol, row.hub_port),
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

    async def _row(self, conn: AsyncConnection, owner_id: str, ref: str) -> Row[Any]:
        """Find a tunnel by id or slug (the live one first, else the newest)."""
        query = (
            _tunnel_query()
            .where(t.tunnels.c.owner_id == owner_id)
            .where(or_(t.tunnels.c.id == ref, t.tunnels.c.slug == ref))
            .order_by(t.tunnels.c.status.in_(_INACTIVE_VALUES), t.tunnels.c.created_at.desc())
            .limit(1)
        )
        row: Row[Any] | None = (await conn.execute(query)).first()
        if row is None:
            raise HubError(ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel {ref!r}", {"tunnel": ref})
        return row

    async def find_row(self, conn: AsyncConnection, owner_id: str, ref: str) -> Row[Any]:
        """One of the owner's tunnels by id or slug, as a row (for the other services)."""
        return await self._row(conn, owner_id, ref)

    async def load(self, conn: AsyncConnection, tunnel_id: str) -> Tunnel:
        """A tunnel by id inside the caller's transaction."""
        return await self._reload(conn, tunnel_id)

    async def _reload(self, conn: AsyncConnection, tunnel_id: str) -> Tunnel:
        row = (await conn.execute(_tunnel_query().where(t.tunnels.c.id == tunnel_id))).one()
        return self.to_model(row)

    async def get(self, owner_id: str, ref: str) -> Tunnel:
        """Return one of the owner's tunnels by id or slug."""
        async with self.store.read() as conn:
            return self.to_model(await self._row(conn, owner_id, ref))

    async def list(
        self,
        owner_id: str,
        *,
        include_inactive: bool = False,
        status: TunnelStatus | None = None,
        lease_id: str | None = None,
    ) -> builtins.list[Tunnel]:
        """Return the owner's tunnels, oldest first: live ones, or all with ``include_inactive``."""
        query = _tunnel_query().where(t.tunnels.c.owner_id == owner_id)
        if status is not None:
            query = query.where(t.tunnels.c.status == status.value)
        elif not include_inactive:
            query = query.where(t.tunnels.c.status.in_(_LIVE_VALUES))
        if lease_id is not None:
            query = query.where(t.tunnels.c.lease_id == lease_id)
        async with self.store.read() as conn:
            rows = (await conn.execute(query.order_by(t.tunnels.c.created_at))).all()
        return [self.to_model(row) for row in rows]

    # --- writing -------------------------------------------------------------------------

    async def create(self, owner_id: str, body: TunnelCreate) -> Tunnel:
        """Create a tunnel; bound to ``leaseId`` it starts ``connecting``, else ``creating``."""
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
        reservation = await self._own_reservation(
            conn, owner_id, client_instance_id, body.target.port, protocol, body.slug
        )
        renamed = (
            reservation is not None
            and body.slug is None
            and body.name is not None
            and not _slug_of_name(reservation.slug, body.name)
        )
        if renamed:  # the same target asked for under another name: another tunnel, its own slug
            reservation = None
        slug = await self._choose_slug(conn, owner_id, body.slug, name, reservation)
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
            hub_port = await self._choose_hub_port(conn, owner_id, wanted, body.hub_port)
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
            )
        )
        self.store.changed(conn, [tunnel_id])
        await self.emit(conn, owner_id, WebhookEvent.TUNNEL_CREATED, tunnel_id)
        return tunnel_id

    async def update(self, owner_id: str, ref: str, body: TunnelUpdate) -> Tunnel:
        """Rename, pause/resume, replace metadata, or bind a ``creating`` tunnel to a lease."""
        async with self.store.write() as conn:
            row = await self._row(conn, owner_id, ref)
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
                if current is not TunnelStatus.PAUSED:  # a pause survives moving agents
                    moved = TunnelStatus.ACTIVE if connected else TunnelStatus.CONNECTING
                    if current is TunnelStatus.CREATING:
                        check_transition(current, TunnelStatus.CONNECTING)
                    current = moved
                    values["status"] = current.value
            if body.status is not None:
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
            return await self._reload(conn, row.id)

    async def close(self, owner_id: str, ref: str) -> Tunnel:
        """Stop a tunnel and keep it for history; closing a stopped tunnel changes nothing."""
        async with self.store.write() as conn:
            row = await self._row(conn, owner_id, ref)
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
            row = await self._row(conn, owner_id, ref)
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

    async def _own_reservation(
        self,
        conn: AsyncConnection,
        owner_id: str,
        client_instance_id: str | None,
        port: int,
        protocol: str,
        slug: str | None,
    ) -> Row[Any] | None:
        """The owner's unexpired reservation this tunnel should take back, if any."""
        query = select(t.slug_reservations).where(
            t.slug_reservations.c.owner_id == owner_id,
            t.slug_reservations.c.reserved_until > now(),
        )
        if slug is not None:
            query = query.where(t.slug_reservations.c.slug == slug)
        else:
            query = query.where(
                t.slug_reservations.c.client_instance_id == client_instance_id,
                t.slug_reservations.c.target_port == port,
                t.slug_reservations.c.protocol == protocol,
            )
        result = await conn.execute(query.order_by(t.slug_reservations.c.reserved_until.desc()))
        return result.first()

    async def _slug_free(self, conn: AsyncConnection, owner_id: str, slug: str) -> bool:
        live = (
            await conn.execute(
                select(func.count())
                .select_from(t.tunnels)
                .where(t.tunnels.c.slug == slug, t.tunnels.c.status.in_(_LIVE_VALUES))
            )
        ).scalar_one()
        if live:
            return False
        reserved_by_other = (
            await conn.execute(
                select(func.count())
                .select_from(t.slug_reservations)
                .where(
                    t.slug_reservations.c.slug == slug,
                    t.slug_reservations.c.owner_id != owner_id,
                    t.slug_reservations.c.reserved_until > now(),
                )
            )
        ).scalar_one()
        return not reserved_by_other

    async def _choose_slug(
        self,
        conn: AsyncConnection,
        owner_id: str,
        wanted: str | None,
        name: str,
        reservation: Row[Any] | None,
    ) -> str:
        if wanted is not None:
            if not await self._slug_free(conn, owner_id, wanted):
                raise HubError(
                    ErrorCode.SLUG_TAKEN,
                    f"slug {wanted!r} is in use or reserved: choose another",
                    {"slug": wanted},
                )
            return wanted
        if reservation is not None and await self._slug_free(conn, owner_id, reservation.slug):
            return str(reservation.slug)
        base = slugify(name)
        candidates = [base] if base else []
        stem = _slug_stem(base)
        candidates += [
            f"{stem}-{random_slug(SUFFIX_LENGTH)}" if stem else random_slug()
            for _ in range(SLUG_ATTEMPTS)
        ]
        for candidate in candidates:
            if await self._slug_free(conn, owner_id, candidate):
                return candidate
        raise HubError(ErrorCode.SLUG_TAKEN, "no free slug was found: give one with 'slug'")

    async def _choose_hub_port(
        self, conn: AsyncConnection, owner_id: str, wanted: int | None, explicit: int | None
    ) -> int:
        if self.config.tcp_ports is None:
            raise HubError(
                ErrorCode.NO_HUB_PORTS,
                "this hub serves no TCP/UDP ports: start it with --tcp-ports FIRST-LAST",
            )
        first, last = self.config.tcp_ports
        if explicit is not None and not first <= explicit <= last:
            raise HubError(
                ErrorCode.INVALID_PORT,
                f"hubPort {explicit} is outside this hub's range {first}-{last}",
                {"field": "hubPort", "range": [first, last]},
            )
        busy_live = (
            await conn.execute(
                select(t.tunnels.c.hub_port).where(
                    t.tunnels.c.hub_port.is_not(None), t.tunnels.c.status.in_(_LIVE_VALUES)
                )
            )
        ).scalars()
        reserved_by_other = (
            await conn.execute(
                select(t.slug_reservations.c.hub_port).where(
                    and_(
                        t.slug_reservations.c.hub_port.is_not(None),
                        t.slug_reservations.c.owner_id != owner_id,
                        t.slug_reservations.c.reserved_until > now(),
                    )
                )
            )
        ).scalars()
        busy = set(busy_live) | set(reserved_by_other)
        if wanted is not None and wanted not in busy and first <= wanted <= last:
            return wanted  # (a reserved port from before a range change is not)
        if explicit is not None:
            raise HubError(
                ErrorCode.HUB_PORT_TAKEN,
                f"hub port {explicit} is in use or reserved: choose another or omit hubPort",
                {"hubPort": explicit},
            )
        free = [port for port in range(first, last + 1) if port not in busy]
        if not free:
            raise HubError(ErrorCode.NO_HUB_PORTS, f"every hub port in {first}-{last} is in use")
        return secrets.choice(free)

    async def live_by_slug(self, slug: str) -> Tunnel | None:
        """The live tunnel with this slug, whoever owns it (for the ingress)."""
        async with self.store.read() as conn:
            row = (
                await conn.execute(
                    _tunnel_query().where(
                        t.tunnels.c.slug == slug, t.tunnels.c.status.in_(_LIVE_VALUES)
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


def _slug_stem(base: str) -> str:
    """The part of a name's slug that a random suffix follows when the slug itself is taken."""
    return base[: 32 - SUFFIX_LENGTH - 1].rstrip("-")


def _slug_of_name(slug: str, name: str) -> bool:
    """Whether ``slug`` is what :meth:`TunnelService._choose_slug` makes of ``name``: its
    slugified form, or that form's stem with a random suffix."""
    base = slugify(name)
    stem = _slug_stem(base)
    suffixed = len(slug) == len(stem) + 1 + SUFFIX_LENGTH and slug.startswith(stem + "-")
    return slug == base or (bool(stem) and suffixed)
