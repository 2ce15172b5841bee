"""Webhooks: the events a URL can subscribe to, the subscription, and each delivery."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from .base import HOST_NAME, PORT_1_65535, RequestBody, Resource

__all__ = [
    "ALL_EVENTS",
    "MAX_URL_LENGTH",
    "WEBHOOK_TEST_EVENT",
    "WEBHOOK_URL_PATTERN",
    "DeliveryStatus",
    "Webhook",
    "WebhookCreate",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookGrant",
]


class WebhookEvent(str, enum.Enum):
    """What a webhook can subscribe to (docs/webhooks.md describes each payload)."""

    TUNNEL_CREATED = "tunnel.created"
    TUNNEL_DELETED = "tunnel.deleted"
    TUNNEL_STATUS_CHANGED = "tunnel.status_changed"
    SHARE_CREATED = "share.created"
    SHARE_REVOKED = "share.revoked"
    LEASE_EXPIRED = "lease.expired"
    AGENT_CONNECTED = "agent.connected"
    AGENT_DISCONNECTED = "agent.disconnected"

    def __str__(self) -> str:
        return self.value


ALL_EVENTS = "*"
"""Subscribe a webhook to every event, including those added later."""
WEBHOOK_TEST_EVENT = "webhook.test"
"""The event of a delivery made by ``POST /v1/webhooks/{id}/test``, whatever the subscription."""
WEBHOOK_URL_PATTERN = (
    rf"^https?://(?:{HOST_NAME}|\[[0-9A-Fa-f:.]{{2,45}}\])(?::{PORT_1_65535})?(?:[/?#][!-~]*)?$"
)
"""A webhook URL: ``http`` or ``https``, a host name or a bracketed IPv6 address, an optional
port, then any path and query in printable ASCII (no user info, no spaces)."""
MAX_URL_LENGTH = 2000
"""The longest webhook URL accepted (``400 INVALID_URL`` beyond)."""


class DeliveryStatus(str, enum.Enum):
    """Where a webhook delivery stands."""

    PENDING = "pending"
    """Not delivered yet: waiting for its first attempt or for a retry."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """Every attempt failed; it will not be tried again."""

    def __str__(self) -> str:
        return self.value


WebhookEventName = Literal[
    "*",
    "tunnel.created",
    "tunnel.deleted",
    "tunnel.status_changed",
    "share.created",
    "share.revoked",
    "lease.expired",
    "agent.connected",
    "agent.disconnected",
]


class WebhookCreate(RequestBody):
    """Body of ``POST /v1/webhooks``."""

    url: Annotated[str, Field(pattern=WEBHOOK_URL_PATTERN, max_length=MAX_URL_LENGTH)]
    events: Annotated[list[WebhookEventName], Field(min_length=1, max_length=20)]
    description: Annotated[str, Field(max_length=500)] | None = None


class Webhook(Resource):
    """A URL the hub POSTs signed events to; its secret is shown only when it is created."""

    id: str
    url: str
    events: list[str]
    description: str | None
    created_at: datetime


class WebhookGrant(Webhook):
    """A new webhook with its signing secret, shown this once."""

    secret: str


class WebhookDelivery(Resource):
    """One event sent (or to be sent) to one webhook, with its attempts so far."""

    id: str
    webhook_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    """When the next attempt is due; null once delivered or failed."""
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any]
    """The JSON body the receiver gets."""
