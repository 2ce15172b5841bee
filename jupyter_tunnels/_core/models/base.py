"""The API's data: every request body and every resource the hub returns, as pydantic models.

The hub validates requests with these models and serialises its answers with them, the SDK
parses answers into them, and the OpenAPI document is generated from them, so the three can
never disagree. JSON uses camelCase (``requestedPort``); Python uses snake_case
(``requested_port``). Request models reject unknown fields, so a typo is a clear 400 instead of
a silent no-op; resource models ignore unknown fields, so an older SDK can talk to a newer hub.
"""

from __future__ import annotations

import enum
import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from ..status import TunnelStatus

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

MAX_NAME_LENGTH = 100
"""The longest tunnel name accepted."""
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"
"""What a slug looks like: 1 to 32 lower-case letters, digits and inner hyphens."""
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_HOST_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
HOST_PATTERN = rf"^{_HOST_NAME}$|^\[?[0-9A-Fa-f:.]+\]?$"
MAX_ERROR_LENGTH = 1000
MAX_TTL_SECONDS = 7 * 24 * 3600

# A target string is "[host:]port", the host a name or a bracketed IPv6 address. The validator
# parses the port as up to five digits (after any leading zeros) and lets ``Port`` check the
# range, so "99999" is an INVALID_PORT; the documented pattern spells the range out, so both
# accept exactly the same strings (tests/test_api_fuzz.py checks it).
_TARGET_HOST = rf"{_HOST_NAME}|\[[0-9A-Fa-f:.]{{1,253}}\]"
_TARGET_STRING = re.compile(rf"(?:(?P<host>{_TARGET_HOST}):)?(?P<port>0*[0-9]{{1,5}})")
_PORT_1_65535 = (
    r"0*(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
)
TARGET_STRING_PATTERN = rf"^(?:(?:{_TARGET_HOST}):)?{_PORT_1_65535}$"
"""The ``"host:port"`` (or bare ``"port"``) form of a target, as documented in the schema."""


class _Model(BaseModel):
    """Base of every API model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready dict the API sends (camelCase, ISO 8601 times)."""
        return self.model_dump(mode="json", by_alias=True)


class _Request(_Model):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class _Resource(_Model):
    """Base of resources returned by the hub: unknown fields are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Protocol(str, enum.Enum):
    """What a tunnel carries. ``auto`` is resolved from the port when the tunnel is created."""

    AUTO = "auto"
    HTTP = "http"
    HTTPS = "https"
    TCP = "tcp"
    UDP = "udp"

    def __str__(self) -> str:
        return self.value


class Access(str, enum.Enum):
    """Who may use a tunnel's URL."""

    PRIVATE = "private"
    """Only its owner (API token, or Jupyter's own login when embedded)."""
    PUBLIC = "public"
    """Anyone with the URL."""
    TOKEN = "token"
    """Callers presenting the relay lease's worker token (``Authorization: Bearer``)."""

    def __str__(self) -> str:
        return self.value


class LeaseStatus(str, enum.Enum):
    """The state of an agent lease."""

    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


class RelayLeaseStatus(str, enum.Enum):
    """The state of a relay lease."""

    ACTIVE = "active"
    CLOSED = "closed"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


class HeartbeatAction(str, enum.Enum):
    """What the hub asks a connector to do after a heartbeat."""

    NONE = "none"
    """Carry on."""
    STOP = "stop"
    """The lease was released: close its tunnels and stop heartbeating."""

    def __str__(self) -> str:
        return self.value


def _integral(value: Any) -> Any:
    """Take ``8050.0`` as ``8050``: JSON has one number type; JSON Schema calls that an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _finite(value: Any) -> Any:
    """Refuse ``NaN`` and ``Infinity`` (or ``1e400``) anywhere inside: they are not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=32)]
ClientInstanceId = Annotated[str, Field(pattern=CLIENT_ID_PATTERN, max_length=128)]
TtlSeconds = Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS), BeforeValidator(_integral)]
Port = Annotated[int, Field(ge=1, le=65535), BeforeValidator(_integral)]
Metadata = Annotated[dict[str, Any], AfterValidator(_finite)]


class Target(_Model):
    """A local service a connector dials: ``host`` and ``port``."""

    host: Annotated[str, Field(pattern=HOST_PATTERN, max_length=253)] = "127.0.0.1"
    port: Port

    @model_validator(mode="before")
    @classmethod
    def _parse_string(cls, value: Any) -> Any:
        """Accept ``"host:port"``, ``"[ipv6]:port"`` or a bare ``"port"`` as well as an object."""
        if isinstance(value, str):
            match = _TARGET_STRING.fullmatch(value)
            if match is None:
                raise ValueError(f"target {value!r} is not 'host:port' or a port number")
            host = match.group("host") or "127.0.0.1"
            if host.startswith("["):
                host = host[1:-1]
            return {"host": host, "port": int(match.group("port").lstrip("0") or "0")}
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document the string form too, in requests (responses always carry the object)."""
        schema = handler(core_schema)
        if handler.mode == "serialization":
            return schema
        as_object = dict(handler.resolve_ref_schema(schema))
        as_string = {
            "type": "string",
            "pattern": TARGET_STRING_PATTERN,
            "description": "'host:port', '[ipv6]:port' or a bare port ('8050').",
        }
        return {"anyOf": [as_object, as_string], "title": as_object.get("title", cls.__name__)}

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


# --- tunnels -------------------------------------------------------------------------------


class LeaseSummary(_Resource):
    """The lease serving a tunnel, as shown in tunnel listings."""

    last_heartbeat_at: datetime | None
    expires_at: datetime


class Readiness(_Resource):
    """What the connector last reported; a fact about the data path, not a status."""

    connected_to_hub: bool = False
    local_ready: bool = False
    last_error: str | None = None


class Tunnel(_Resource):
    """A public address for a local service, served by an agent's lease."""

    id: str
    name: str
    slug: str
    hostname: str
    url: str
    protocol: Protocol
    target: Target
    requested_port: int
    hub_port: int | None
    access: Access
    status: TunnelStatus
    agent_id: str | None
    lease_id: str | None
    lease: LeaseSummary | None
    readiness: Readiness
    metadata: Metadata
    created_at: datetime
    updated_at: datetime
    stopped_at: datetime | None
    last_error: str | None


class TunnelCreate(_Request):
    """Body of ``POST /v1/tunnels``."""

    target: Target
    name: Name | None = None
    slug: Slug | None = None
    protocol: Protocol = Protocol.AUTO
    access: Literal["private", "public"] = "private"
    lease_id: str | None = None
    hub_port: Port | None = Field(
        default=None,
        description="A raw port on the hub, for tcp and udp tunnels (with auto, makes it tcp).",
    )
    metadata: Metadata = Field(default_factory=dict)

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"required": ["hubPort"], "properties": {"hubPort": {"type": "integer"}}},
            "then": {"properties": {"protocol": {"enum": ["auto", "tcp", "udp"]}}},
        }
    )


class TunnelUpdate(_Request):
    """Body of ``PATCH /v1/tunnels/{id}``: every field is optional, at least one is needed."""

    name: Name | None = None
    status: Literal["active", "paused"] | None = None
    metadata: Metadata | None = None
    lease_id: str | None = None

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    @model_validator(mode="after")
    def _not_empty(self) -> TunnelUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, status, metadata, leaseId")
        return self


class TunnelRotate(_Request):
    """Body of ``POST /v1/tunnels/{id}/rotate``: the new local target, same URL."""

    target: Target
    reason: Annotated[str, Field(max_length=500)] | None = None


# --- agents and leases ---------------------------------------------------------------------


class LeaseCreate(_Request):
    """Body of ``POST /v1/leases``: create a lease, or attach to the agent's live one."""

    client_instance_id: ClientInstanceId
    idempotency_key: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    ttl_seconds: TtlSeconds | None = None
    metadata: Metadata = Field(default_factory=dict)


class Lease(_Resource):
    """An agent's claim to serve tunnels, kept alive by heartbeats."""

    id: str
    agent_id: str
    client_instance_id: str
    status: LeaseStatus
    ttl_seconds: float
    next_heartbeat_seconds: float
    created_at: datetime
    last_heartbeat_at: datetime | None
    expires_at: datetime
    released_at: datetime | None
    readiness: Readiness
    tunnel_ids: list[str]
    metadata: Metadata


class LeaseGrant(Lease):
    """A lease as returned by create-or-attach, with its agent token (shown this once)."""

    agent_token: str
    created: bool
    """True when a new lease was made, false when an existing one was attached to."""


class LeaseRefresh(_Request):
    """Body of ``POST /v1/leases/{id}/refresh``."""

    ttl_seconds: TtlSeconds | None = None


class HeartbeatRequest(_Request):
    """Body of ``POST /v1/leases/{id}/heartbeat``: the connector's readiness."""

    connected_to_hub: bool = False
    local_ready: bool = False
    last_error: str | None = Field(
        default=None,
        description=f"Kept to its first {MAX_ERROR_LENGTH} characters; longer ones are cut.",
    )

    @field_validator("last_error", mode="before")
    @classmethod
    def _truncate(cls, value: Any) -> Any:
        """Keep the first part of an over-long error rather than refuse the heartbeat."""
        if isinstance(value, str) and len(value) > MAX_ERROR_LENGTH:
            return value[: MAX_ERROR_LENGTH - 1] + "…"
        return value


class HeartbeatResponse(_Resource):
    """The hub's answer to a heartbeat."""

    lease_id: str
    status: LeaseStatus
    expires_at: datetime
    next_heartbeat_seconds: float
    action: HeartbeatAction


class Agent(_Resource):
    """A connector instance, known by its stable ``clientInstanceId``."""

    id: str
    client_instance_id: str
    online: bool
    active_lease_id: str | None
    created_at: datetime
    last_seen_at: datetime | None


# --- relay leases --------------------------------------------------------------------------


class RelayLeaseCreate(_Request):
    """Body of ``POST /v1/relay-leases``: a lease plus a worker-token-protected tunnel."""

    client_instance_id: ClientInstanceId
    target: Target
    name: Name | None = None
    ttl_seconds: TtlSeconds | None = None
    metadata: Metadata = Field(default_factory=dict)


class AgentConnect(_Resource):
    """Where and how the agent of a relay lease attaches."""

    transport: Literal["ws"] = "ws"
    url: str


class RelayLease(_Resource):
    """A relay lease: machine clients reach ``publicUrl`` with the worker token."""

    id: str
    lease_id: str
    tunnel_id: str
    status: RelayLeaseStatus
    public_url: str
    connected: bool
    created_at: datetime
    expires_at: datetime
    closed_at: datetime | None


class RelayLeaseGrant(RelayLease):
    """A new relay lease with its credentials, shown this once."""

    agent_token: str
    worker_token: str
    agent_connect: AgentConnect


class WorkerToken(_Resource):
    """A freshly rotated worker token; the previous one no longer works."""

    relay_lease_id: str
    worker_token: str


# --- webhooks ------------------------------------------------------------------------------


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
    rf"^https?://(?:{_HOST_NAME}|\[[0-9A-Fa-f:.]{{2,45}}\])(?::{_PORT_1_65535})?(?:[/?#][!-~]*)?$"
)
"""A webhook URL: ``http`` or ``https``, a host name or a bracketed IPv6 address, an optional
port, then any path and query in printable ASCII (no user info, no spaces)."""
MAX_URL_LENGTH = 2000


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


class WebhookCreate(_Request):
    """Body of ``POST /v1/webhooks``."""

    url: Annotated[str, Field(pattern=WEBHOOK_URL_PATTERN, max_length=MAX_URL_LENGTH)]
    events: Annotated[list[WebhookEventName], Field(min_length=1, max_length=20)]
    description: Annotated[str, Field(max_length=500)] | None = None


class Webhook(_Resource):
    """A URL the hub POSTs signed events to; its secret is shown only when it is created."""

    id: str
    url: str
    events: list[str]
    description: str | None
    created_at: datetime


class WebhookGrant(Webhook):
    """A new webhook with its signing secret, shown this once."""

    secret: str


class WebhookDelivery(_Resource):
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


# --- shares --------------------------------------------------------------------------------


class ShareExpiration(str, enum.Enum):
    """How long a share link works after it is created."""

    ONE_HOUR = "1h"
    ONE_DAY = "24h"
    ONE_WEEK = "7d"
    ONE_MONTH = "30d"
    NEVER = "never"

    def __str__(self) -> str:
        return self.value

    @property
    def seconds(self) -> float | None:
        """The lifetime in seconds; None for ``never``."""
        return _EXPIRATION_SECONDS[self]


_EXPIRATION_SECONDS: dict[ShareExpiration, float | None] = {
    ShareExpiration.ONE_HOUR: 3600.0,
    ShareExpiration.ONE_DAY: 86400.0,
    ShareExpiration.ONE_WEEK: 7 * 86400.0,
    ShareExpiration.ONE_MONTH: 30 * 86400.0,
    ShareExpiration.NEVER: None,
}

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"]
"""A method a share may allow; ``CONNECT`` is a raw stream (reach), not an HTTP request."""
SHARE_PATH_PATTERN = r"^/[!-~]{0,499}$"
"""A share's path prefix: starts with ``/``, printable ASCII, no spaces."""


def _upper_methods(value: Any) -> Any:
    if isinstance(value, list):
        return [item.upper() if isinstance(item, str) else item for item in value]
    return value


class ShareCreate(_Request):
    """Body of ``POST /v1/tunnels/{id}/shares``."""

    name: Name
    description: Annotated[str, Field(max_length=500)] | None = None
    expiration: ShareExpiration = ShareExpiration.ONE_DAY
    allowed_methods: (
        Annotated[
            list[HttpMethod], Field(min_length=1, max_length=8), BeforeValidator(_upper_methods)
        ]
        | None
    ) = Field(
        default=None,
        description="The methods the link allows (any case); null or absent: every method.",
    )
    rate_limit_per_minute: (
        Annotated[int, Field(ge=1, le=1000), BeforeValidator(_integral)] | None
    ) = Field(default=None, description="Requests (or reach connections) a minute; null: no limit.")
    path_prefix: Annotated[str, Field(pattern=SHARE_PATH_PATTERN, max_length=500)] | None = Field(
        default=None,
        description="Only paths under this prefix (from the tunnel's root, e.g. /api); null: all.",
    )


class Share(_Resource):
    """A capability link to a tunnel; its token is shown only when it is created."""

    id: str
    tunnel_id: str
    name: str
    description: str | None
    expiration: ShareExpiration
    expires_at: datetime | None
    allowed_methods: list[str] | None
    rate_limit_per_minute: int | None
    path_prefix: str | None
    active: bool
    """Neither revoked nor expired."""
    access_count: int
    """Requests (and reach connections) let through with this link."""
    last_accessed_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None


class ShareGrant(Share):
    """A new share with its link and token, shown this once."""

    share_url: str | None
    """The link: the tunnel's URL (plus the path prefix) with ``?share_token=``; null for a
    tcp tunnel, which is reached with the token (``jupyter-tunnels connect``)."""
    token: str


# --- traffic -------------------------------------------------------------------------------


class RequestLogEntry(_Resource):
    """One recent HTTP request to a tunnel (``GET /v1/tunnels/{id}/requests``).

    No headers, no bodies, and the path without its query string (queries carry secrets).
    """

    time: datetime
    """When the request arrived."""
    method: str
    path: str
    """The path the app saw, without the query string."""
    status: int
    """The answer's status; 499 when the visitor left before the answer ended."""
    duration_ms: float
    """From the judged request head to the end of the answer (to the ``101`` of a WebSocket)."""
    bytes_in: int
    """Request head and body bytes."""
    bytes_out: int
    """Response head and body bytes (a WebSocket's frames are not counted)."""
    client: str
    """The visitor's address as the hub saw it."""


class TunnelMetrics(_Resource):
    """A tunnel's traffic counters since the hub started (``GET /v1/tunnels/{id}/metrics``)."""

    tunnel_id: str
    requests: int
    errors: int
    """Answers with a 5xx status, the app's or the hub's own (502, 503, 504)."""
    bytes_in: int
    bytes_out: int
    open_streams: int
    """Requests in flight plus WebSockets still open."""
    latency_p50_ms: float | None
    """Median duration over the last ``latencySamples`` requests; null before any."""
    latency_p90_ms: float | None
    latency_samples: int
    """How many recent durations the quantiles come from (a bounded sliding window)."""
    since: datetime | None
    """When counting started (the first request since the hub started); null before any."""


# --- hub -----------------------------------------------------------------------------------


class StoreHealth(_Resource):
    """The state of the hub's store."""

    status: Literal["ok", "error"]
    backend: str
    error: str | None = None


class HealthCounts(_Resource):
    """How many records the caller owns."""

    tunnels: int
    live_tunnels: int
    active_tunnels: int
    agents: int
    online_agents: int
    active_leases: int


class Health(_Resource):
    """``GET /v1/health``: is the hub up, and what does it hold."""

    status: Literal["ok", "degraded"]
    version: str
    uptime_seconds: float
    store: StoreHealth
    counts: HealthCounts | None
    """The caller's own counts; null when the request carried no valid token."""


class ApiError(_Resource):
    """The body of every error response."""

    code: str
    message: str
    details: Any = None


# --- connections (reach) -------------------------------------------------------------------


class ReachStatus(str, enum.Enum):
    """Where a connection (a local port carried to a tunnel) stands."""

    OPENING = "opening"
    """The hub asked the agent to bind the port and waits for its answer."""
    OPEN = "open"
    """The agent holds the port and carries each local connection to the tunnel."""
    CLOSED = "closed"
    """Closed through the API, or its tunnel or agent went away; the port is released."""
    FAILED = "failed"
    """The agent could not bind the port (``lastError`` says why)."""

    def __str__(self) -> str:
        return self.value


class ReachCreate(_Request):
    """Body of ``POST /v1/tunnels/{id}/connect``: which agent binds which local port."""

    agent_id: Annotated[str, Field(min_length=1, max_length=36)] = Field(
        description="One of your agents (GET /v1/agents); it must be online."
    )
    local_port: Port | None = Field(
        default=None, description="The port to bind on the agent's 127.0.0.1; null: any free one."
    )
    share_token: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="A share token of the tunnel allowing CONNECT, to reach a tunnel you do "
        "not own.",
    )


class ReachConnection(_Resource):
    """A tunnel reached as a local port: an agent listens on ``address`` and carries each
    connection there to the tunnel (``POST /v1/tunnels/{id}/connect``)."""

    id: str
    tunnel_id: str
    agent_id: str
    share_id: str | None
    """The share that allowed it; null when the caller owns the tunnel."""
    local_host: str
    local_port: int | None
    """The port bound; null until the agent has answered."""
    address: str | None
    """``host:port`` to connect to; null unless open."""
    protocol: str
    """What the tunnel speaks, as detected: postgres, mysql, redis, mongodb, http, https, tcp."""
    connection_string: str | None
    """A URL for that protocol (``redis://127.0.0.1:6379``); null unless open."""
    status: ReachStatus
    last_error: str | None
    created_at: datetime
    closed_at: datetime | None
