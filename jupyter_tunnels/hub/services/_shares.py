"""Share links: capability links to one tunnel, for people and machines without an account.

A share is created by the tunnel's owner, with a name, an expiry, the methods it allows, a rate
limit and optionally a path prefix. Its token (``jts_…``) is returned once, inside the link,
and stored only as a hash. The ingress enforces it (the rules in ``_share_rules.py``, applied
to each request by ``hub/ingress/_shares.py``); this module keeps the records: create, list,
get, revoke, and the access counters, which the ingress counts in memory and
:meth:`ShareService.flush` writes to the store now and then (and before every listing).
"""

from __future__ import annotations

import builtins
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import (
    Protocol,
    Share,
    ShareCreate,
    ShareExpiration,
    ShareGrant,
    WebhookEvent,
)
from ..._core.status import LIVE_STATUSES, TunnelStatus
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now, to_datetime
from ..store._owners import SHARE_TOKEN_PREFIX, hash_token, new_token
from ._share_rules import QUERY_PARAM

if TYPE_CHECKING:
    from .._config import HubConfig
    from ..store._engine import Store
    from ._routing import Router
    from ._tunnels import TunnelService
    from ._webhooks import WebhookService

__all__ = ["ShareService"]


class ShareService:
    """The rules for share records, over the store."""

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        tunnels: TunnelService,
        webhooks: WebhookService,
        router: Router,
    ) -> None:
        self.store = store
        self.config = config
        self.tunnels = tunnels
        self.webhooks = webhooks
        self.router = router

    async def create(self, owner_id: str, tunnel_ref: str, body: ShareCreate) -> ShareGrant:
        """Create a share of one of the owner's live tunnels; the answer holds its link."""
        token = new_token(SHARE_TOKEN_PREFIX)
        created = now()
        lifetime = body.expiration.seconds
        share_id = str(uuid.uuid4())
        async with self.store.write() as conn:
            tunnel = await self.tunnels.find_row(conn, owner_id, tunnel_ref)
            status = TunnelStatus(tunnel.status)
            if status not in LIVE_STATUSES or status is TunnelStatus.STOPPING:
                raise HubError(
                    ErrorCode.ILLEGAL_TRANSITION,
                    f"cannot share a tunnel that is {status}",
                    {"status": status.value},
                )
            if tunnel.protocol == Protocol.UDP.value:
                raise HubError(
                    ErrorCode.UNSUPPORTED_PROTOCOL,
                    "udp tunnels cannot be shared (a share judges requests or streams)",
                    {"protocol": tunnel.protocol},
                )
            methods = list(dict.fromkeys(body.allowed_methods)) if body.allowed_methods else None
            await conn.execute(
                t.shares.insert().values(
                    id=share_id,
                    owner_id=owner_id,
                    tunnel_id=tunnel.id,
                    name=body.name,
                    description=body.description,
                    token_hash=hash_token(token),
                    expiration=body.expiration.value,
                    expires_at=None if lifetime is None else created + lifetime,
                    allowed_methods=methods,
                    rate_limit_per_minute=body.rate_limit_per_minute,
                    path_prefix=body.path_prefix,
                    access_count=0,
                    created_at=created,
                )
            )
            self.store.changed(conn, [tunnel.id])
            share = await self._share(conn, owner_id, share_id)
            await self._emit(conn, owner_id, WebhookEvent.SHARE_CREATED, share)
        return ShareGrant(
            **share.model_dump(), share_url=self._link(tunnel, body.path_prefix, token), token=token
        )

    async def list(self, owner_id: str, tunnel_ref: str) -> builtins.list[Share]:
        """The shares of one of the owner's tunnels, oldest first, revoked and expired too."""
        await self.flush()
        async with self.store.read() as conn:
            tunnel = await self.tunnels.find_row(conn, owner_id, tunnel_ref)
            rows = (
                await conn.execute(
                    select(t.shares)
                    .where(t.shares.c.tunnel_id == tunnel.id)
                    .order_by(t.shares.c.created_at, t.shares.c.id)
                )
            ).all()
        return [_share(row) for row in rows]

    async def get(self, owner_id: str, share_id: str) -> Share:
        """One of the owner's shares."""
        await self.flush()
        async with self.store.read() as conn:
            return await self._share(conn, owner_id, share_id)

    async def revoke(self, owner_id: str, share_id: str) -> Share:
        """Revoke a share at once (its link answers 403 from now on); revoking again is a no-op."""
        await self.flush()
        async with self.store.write() as conn:
            row = await self._row(conn, owner_id, share_id)
            if row.revoked_at is not None:
                return _share(row)
            await conn.execute(
                update(t.shares).where(t.shares.c.id == row.id).values(revoked_at=now())
            )
            self.store.changed(conn, [row.tunnel_id])
            share = await self._share(conn, owner_id, share_id)
            await self._emit(conn, owner_id, WebhookEvent.SHARE_REVOKED, share)
        return share

    async def flush(self) -> None:
        """Write the accesses the ingress counted in memory to the store."""
        pending = [
            (rule, rule.unflushed, rule.last_access) for rule in self.router.share_counters()
        ]
        if not pending:
            return
        for rule, count, _ in pending:
            rule.unflushed -= count
        try:
            async with self.store.write() as conn:
                for rule, count, last in pending:
                    await conn.execute(
                        update(t.shares)
                        .where(t.shares.c.id == rule.share_id)
                        .values(access_count=t.shares.c.access_count + count, last_accessed_at=last)
                    )
        except BaseException:
            for rule, count, _ in pending:  # counted again next time (a reload carries them)
                current = self.router.shares.get(rule.token_hash, rule)
                current.unflushed += count
            raise

    # --- helpers ---------------------------------------------------------------------------

    def _link(self, tunnel: Row[Any], prefix: str | None, token: str) -> str | None:
        if tunnel.protocol in (Protocol.TCP.value, Protocol.UDP.value):
            return None
        url = self.config.tunnel_url(tunnel.slug, tunnel.protocol, tunnel.hub_port)
        if prefix is not None:
            url = url.rstrip("/") + prefix
        return f"{url}?{QUERY_PARAM}={token}"

    async def _row(self, conn: AsyncConnection, owner_id: str, share_id: str) -> Row[Any]:
        row = (
            await conn.execute(
                select(t.shares).where(t.shares.c.id == share_id, t.shares.c.owner_id == owner_id)
            )
        ).first()
        if row is None:
            raise HubError(ErrorCode.SHARE_NOT_FOUND, f"no share {share_id!r}", {"share": share_id})
        return row

    async def _share(self, conn: AsyncConnection, owner_id: str, share_id: str) -> Share:
        return _share(await self._row(conn, owner_id, share_id))

    async def _emit(
        self, conn: AsyncConnection, owner_id: str, event: WebhookEvent, share: Share
    ) -> None:
        async def data() -> dict[str, Any]:
            tunnel = await self.tunnels.load(conn, share.tunnel_id)
            return {"share": share.to_json(), "tunnel": tunnel.to_json()}

        await self.webhooks.emit(conn, owner_id, event, data)


def _share(row: Row[Any]) -> Share:
    revoked = row.revoked_at is not None
    expired = row.expires_at is not None and now() >= row.expires_at
    return Share(
        id=row.id,
        tunnel_id=row.tunnel_id,
        name=row.name,
        description=row.description,
        expiration=ShareExpiration(row.expiration),
        expires_at=to_datetime(row.expires_at),
        allowed_methods=row.allowed_methods,
        rate_limit_per_minute=row.rate_limit_per_minute,
        path_prefix=row.path_prefix,
        active=not revoked and not expired,
        access_count=row.access_count,
        last_accessed_at=to_datetime(row.last_accessed_at),
        created_at=to_datetime(row.created_at),
        revoked_at=to_datetime(row.revoked_at),
    )
