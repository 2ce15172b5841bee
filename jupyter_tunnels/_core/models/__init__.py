"""Every API model (pydantic), camelCase on the wire, shared by the hub, the SDK and the UIs.

Request models refuse unknown fields; answer models tolerate them (a newer hub may add some).
One topic per module: ``tunnels``, ``leases`` (and agents), ``relay_leases``, ``webhooks``,
``shares``, ``traffic``, ``health`` and ``reach``; ``base`` holds what they share (the bases,
field types and patterns, :class:`Target`, :class:`Readiness`, :class:`ApiError`). Import the
models from this package, not from those modules.
"""

from __future__ import annotations

from ..status import TunnelStatus
from .base import MAX_NAME_LENGTH, SLUG_PATTERN, TARGET_STRING_PATTERN, ApiError, Readiness, Target
from .health import Health, HealthCounts, StoreHealth
from .leases import (
    Agent,
    HeartbeatAction,
    HeartbeatRequest,
    HeartbeatResponse,
    Lease,
    LeaseCreate,
    LeaseGrant,
    LeaseRefresh,
    LeaseStatus,
    TunnelReadiness,
)
from .reach import ReachConnection, ReachCreate, ReachStatus
from .relay_leases import (
    AgentConnect,
    RelayLease,
    RelayLeaseCreate,
    RelayLeaseGrant,
    RelayLeaseStatus,
    WorkerToken,
)
from .shares import (
    SHARE_PATH_PATTERN,
    HttpMethod,
    Share,
    ShareCreate,
    ShareExpiration,
    ShareGrant,
)
from .traffic import RequestLogEntry, TunnelMetrics
from .tunnels import (
    Access,
    LeaseSummary,
    Protocol,
    Tunnel,
    TunnelCreate,
    TunnelRotate,
    TunnelUpdate,
)
from .webhooks import (
    ALL_EVENTS,
    MAX_URL_LENGTH,
    WEBHOOK_TEST_EVENT,
    WEBHOOK_URL_PATTERN,
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookEvent,
    WebhookGrant,
)

__all__ = [
    "ALL_EVENTS",
    "MAX_NAME_LENGTH",
    "MAX_URL_LENGTH",
    "SHARE_PATH_PATTERN",
    "SLUG_PATTERN",
    "TARGET_STRING_PATTERN",
    "WEBHOOK_TEST_EVENT",
    "WEBHOOK_URL_PATTERN",
    "Access",
    "Agent",
    "AgentConnect",
    "ApiError",
    "DeliveryStatus",
    "Health",
    "HealthCounts",
    "HeartbeatAction",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "HttpMethod",
    "Lease",
    "LeaseCreate",
    "LeaseGrant",
    "LeaseRefresh",
    "LeaseStatus",
    "LeaseSummary",
    "Protocol",
    "ReachConnection",
    "ReachCreate",
    "ReachStatus",
    "Readiness",
    "RelayLease",
    "RelayLeaseCreate",
    "RelayLeaseGrant",
    "RelayLeaseStatus",
    "RequestLogEntry",
    "Share",
    "ShareCreate",
    "ShareExpiration",
    "ShareGrant",
    "StoreHealth",
    "Target",
    "Tunnel",
    "TunnelCreate",
    "TunnelMetrics",
    "TunnelReadiness",
    "TunnelRotate",
    "TunnelStatus",
    "TunnelUpdate",
    "Webhook",
    "WebhookCreate",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookGrant",
    "WorkerToken",
]
