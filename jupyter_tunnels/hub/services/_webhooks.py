"""Webhooks: the owner's subscriptions, and the events that become deliveries.

A webhook is a URL, the events it wants (or ``*``) and a signing secret that is returned once,
when it is created. The services emit events where the facts happen, inside the write
transaction that makes them (:meth:`WebhookService.emit`): one ``pending`` row in
``webhook_deliveries`` per matching webhook of the owner, holding the exact JSON body to send.
So an event is recorded if and only if its fact is committed, and a delivery not made yet
survives a restart. The delivery worker (``_deliveries.py``) sends those rows, signs them and
retries them.

Webhooks may point anywhere, loopback and the hub itself included: a receiver on the same
machine is the common case for a notebook user, and a tunnel of the same hub is a fine receiver.
Deliveries carry no credentials, so the hub's own API just answers them 401 (recorded as a
failed attempt). docs/webhooks.md says the same to users.
"""

from __future__ import annotations

import builtins
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.hosts import host_allowed
from ..._core.models import (
    ALL_EVENTS,
    WEBHOOK_TEST_EVENT,
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookEvent,
    WebhookGrant,
)
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now, to_datetime
from ..store._engine import Store

__all__ = [
    "DELIVERY_LOG_LIMIT",
    "SECRET_PREFIX",
    "EventData",
    "WebhookService",
    "receiver_refusal",
]

SECRET_PREFIX = "whsec_"
"""The prefix of webhook secrets: it names what they are, as the tokens' prefixes do."""
SECRET_BYTES = 32
"""Random bytes in a webhook secret (256 bits, 64 hex digits), like the hub's tokens."""
DELIVERY_LOG_LIMIT = 50
"""Deliveries ``GET /v1/webhooks/{id}/deliveries`` shows, newest first."""

EventData = Callable[[], Awaitable[Mapping[str, Any]]]
"""Builds an event's ``data``; called only when some webhook wants the event."""


def _iso(seconds: float) -> str:
    moment = to_datetime(seconds)
    assert moment is not None
    return moment.isoformat().replace("+00:00", "Z")


def _webhook(row: Row[Any]) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        created_at=to_datetime(row.created_at),
    )


def _delivery(row: Row[Any]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event=row.event,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=to_datetime(row.next_attempt_at),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=to_datetime(row.created_at),
        delivered_at=to_datetime(row.delivered_at),
        payload=json.loads(row.payload),
    )


def receiver_refusal(url: str, hosts: tuple[str, ...] | None) -> str | None:
    """Why the hub will not deliver to ``url`` under the ``webhook_hosts`` rule, or None."""
    if hosts is None:
        return None
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # e.g. a bracketed host that is no IPv6 address
        return f"cannot tell the host of {url!r}, so it is not one of {', '.join(hosts)}"
    if host_allowed(host, hosts):
        return None
    return f"this hub delivers webhooks only to {', '.join(hosts)}, not to {host!r}"


class WebhookService:
    """The rules for webhooks, over the store; ``wake`` tells the delivery worker to look."""

    def __init__(
        self, store: Store, wake: Callable[[], None], hosts: tuple[str, ...] | None = None
    ) -> None:
        self.store = store
        self.wake = wake
        self.hosts = hosts
        """Hosts receivers may be on (``HubConfig.webhook_hosts``); None: any."""

    # --- the API ---------------------------------------------------------------------------

    async def create(self, owner_id: str, body: WebhookCreate) -> WebhookGrant:
        """Create a webhook; the answer carries its secret, which is never shown again."""
        refusal = receiver_refusal(body.url, self.hosts)
        if refusal is not None:
            raise HubError(ErrorCode.HOST_NOT_ALLOWED, refusal)
        events = list(dict.fromkeys(body.events))  # keep the order given, drop repeats
        webhook_id = str(uuid.uuid4())
        secret = SECRET_PREFIX + secrets.token_hex(SECRET_BYTES)
        async with self.store.write() as conn:
            await conn.execute(
                t.webhooks.insert().values(
                    id=webhook_id,
                    owner_id=owner_id,
                    url=body.url,
                    events=events,
                    secret=secret,
                    description=body.description,
                    created_at=now(),
                )
            )
            row = await self._row(conn, owner_id, webhook_id)
        return WebhookGrant(**_webhook(row).model_dump(), secret=secret)

    async def list(self, owner_id: str) -> builtins.list[Webhook]:
        """The owner's webhooks, oldest first."""
        query = (
            select(t.webhooks)
            .where(t.webhooks.c.owner_id == owner_id)
            .order_by(t.webhooks.c.created_at)
        )
        async with self.store.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_webhook(row) for row in rows]

    async def get(self, owner_id: str, webhook_id: str) -> Webhook:
        """One of the owner's webhooks (without its secret)."""
        async with self.store.read() as conn:
            return _webhook(await self._row(conn, owner_id, webhook_id))

    async def delete(self, owner_id: str, webhook_id: str) -> Webhook:
        """Remove a webhook and its deliveries (pending ones are never sent); return it."""
        async with self.store.write() as conn:
            row = await self._row(conn, owner_id, webhook_id)
            await conn.execute(
                delete(t.webhook_deliveries).where(t.webhook_deliveries.c.webhook_id == row.id)
            )
            await conn.execute(delete(t.webhooks).where(t.webhooks.c.id == row.id))
        return _webhook(row)

    async def test(self, owner_id: str, webhook_id: str) -> WebhookDelivery:
        """Queue a ``webhook.test`` delivery to the webhook, whatever events it subscribed to."""
        async with self.store.write() as conn:
            row = await self._row(conn, owner_id, webhook_id)
            data = {"webhook": _webhook(row).to_json()}
            delivery_id = await self._insert(conn, row.id, WEBHOOK_TEST_EVENT, data)
            delivery = await conn.execute(
                select(t.webhook_deliveries).where(t.webhook_deliveries.c.id == delivery_id)
            )
            result = _delivery(delivery.one())
        self.wake()
        return result

    async def deliveries(self, owner_id: str, webhook_id: str) -> builtins.list[WebhookDelivery]:
        """The webhook's last :data:`DELIVERY_LOG_LIMIT` deliveries, newest first."""
        async with self.store.read() as conn:
            row = await self._row(conn, owner_id, webhook_id)
            rows = (
                await conn.execute(
                    select(t.webhook_deliveries)
                    .where(t.webhook_deliveries.c.webhook_id == row.id)
                    .order_by(
                        t.webhook_deliveries.c.created_at.desc(),
                        t.webhook_deliveries.c.id.desc(),
                    )
                    .limit(DELIVERY_LOG_LIMIT)
                )
            ).all()
        return [_delivery(item) for item in rows]

    # --- events ----------------------------------------------------------------------------

    async def emit(
        self, conn: AsyncConnection, owner_id: str, event: WebhookEvent, data: EventData
    ) -> int:
        """Queue ``event`` for each of the owner's webhooks that wants it; return how many.

        Call it inside the write transaction that makes the fact, so both commit together.
        The worker is woken now; it claims deliveries through a write transaction, which
        waits for this one to commit.
        """
        rows = (
            await conn.execute(
                select(t.webhooks.c.id, t.webhooks.c.events).where(
                    t.webhooks.c.owner_id == owner_id
                )
            )
        ).all()
        wanting = [row.id for row in rows if event.value in row.events or ALL_EVENTS in row.events]
        if not wanting:
            return 0
        payload_data = dict(await data())
        for webhook_id in wanting:
            await self._insert(conn, webhook_id, event.value, payload_data)
        self.wake()
        return len(wanting)

    # --- helpers ---------------------------------------------------------------------------

    async def _row(self, conn: AsyncConnection, owner_id: str, webhook_id: str) -> Row[Any]:
        row = (
            await conn.execute(
                select(t.webhooks).where(
                    t.webhooks.c.id == webhook_id, t.webhooks.c.owner_id == owner_id
                )
            )
        ).first()
        if row is None:
            raise HubError(
                ErrorCode.WEBHOOK_NOT_FOUND, f"no webhook {webhook_id!r}", {"webhook": webhook_id}
            )
        return row

    @staticmethod
    async def _insert(
        conn: AsyncConnection, webhook_id: str, event: str, data: Mapping[str, Any]
    ) -> str:
        created = now()
        delivery_id = str(uuid.uuid4())
        body = {"id": delivery_id, "event": event, "createdAt": _iso(created), "data": data}
        await conn.execute(
            t.webhook_deliveries.insert().values(
                id=delivery_id,
                webhook_id=webhook_id,
                event=event,
                payload=json.dumps(body, separators=(",", ":")),
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=created,
                created_at=created,
            )
        )
        return delivery_id
