"""Agents and leases: an agent's claim to serve tunnels, kept alive by its heartbeats."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .base import ClientInstanceId, Metadata, Readiness, RequestBody, Resource, TtlSeconds

__all__ = [
    "Agent",
    "HeartbeatAction",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "Lease",
    "LeaseCreate",
    "LeaseGrant",
    "LeaseRefresh",
    "LeaseStatus",
    "TunnelReadiness",
]

MAX_ERROR_LENGTH = 1000
"""The longest heartbeat ``lastError`` kept: a longer one is cut, not refused, so a connector
with a verbose error still renews its lease."""
MAX_REPORTED_TUNNELS = 1000
"""The most tunnels one heartbeat may report readiness for (a lease serves far fewer)."""


class LeaseStatus(str, enum.Enum):
    """The state of an agent lease."""

    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


class HeartbeatAction(str, enum.Enum):
    """What the hub asks a connector to do after a heartbeat."""

    NONE = "none"
    """Carry on."""
    STOP = "stop"
    """The lease was released: close its tunnels and stop heartbeating."""
    RECONNECT = "reconnect"
    """The connector says it is connected, but the hub holds no control session for the lease
    (it ended one that the connector has not noticed, for example while the connector was
    suspended): close the control channel and connect again."""

    def __str__(self) -> str:
        return self.value


class LeaseCreate(RequestBody):
    """Body of ``POST /v1/leases``: create a lease, or attach to the agent's live one."""

    client_instance_id: ClientInstanceId
    idempotency_key: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    ttl_seconds: TtlSeconds | None = None
    metadata: Metadata = Field(default_factory=dict)


class Lease(Resource):
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


class LeaseRefresh(RequestBody):
    """Body of ``POST /v1/leases/{id}/refresh``."""

    ttl_seconds: TtlSeconds | None = None


def _truncate(value: Any) -> Any:
    """Keep the first part of an over-long error rather than refuse the heartbeat."""
    if isinstance(value, str) and len(value) > MAX_ERROR_LENGTH:
        return value[: MAX_ERROR_LENGTH - 1] + "…"
    return value


ReportedError = Annotated[
    str | None,
    BeforeValidator(_truncate),
    Field(description=f"Kept to its first {MAX_ERROR_LENGTH} characters; longer ones are cut."),
]
"""A heartbeat's ``lastError``: cut to :data:`MAX_ERROR_LENGTH` characters, never refused."""
TunnelId = Annotated[str, Field(min_length=1, max_length=64)]
"""A key of the heartbeat's ``tunnels``: an id the hub gave a tunnel (others are ignored)."""


class TunnelReadiness(RequestBody):
    """One tunnel's readiness in a heartbeat: whether its own target accepts connections."""

    local_ready: bool = False
    last_error: ReportedError = None


class HeartbeatRequest(RequestBody):
    """Body of ``POST /v1/leases/{id}/heartbeat``: the connector's readiness.

    ``localReady`` and ``lastError`` are the whole lease's; ``tunnels`` (tunnel id ->
    :class:`TunnelReadiness`) says it per tunnel. A tunnel of the lease that ``tunnels`` does
    not name (every one, when a connector older than the field sends none) takes the lease's.
    """

    connected_to_hub: bool = False
    local_ready: bool = False
    last_error: ReportedError = None
    tunnels: Annotated[
        dict[TunnelId, TunnelReadiness] | None,
        Field(
            max_length=MAX_REPORTED_TUNNELS,
            description="Readiness per tunnel id; ids not of this lease's live tunnels are "
            "ignored.",
        ),
    ] = None


class HeartbeatResponse(Resource):
    """The hub's answer to a heartbeat."""

    lease_id: str
    status: LeaseStatus
    expires_at: datetime
    next_heartbeat_seconds: float
    action: HeartbeatAction


class Agent(Resource):
    """A connector instance, known by its stable ``clientInstanceId``."""

    id: str
    client_instance_id: str
    online: bool
    active_lease_id: str | None
    created_at: datetime
    last_seen_at: datetime | None
