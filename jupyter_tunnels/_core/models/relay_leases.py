"""Relay leases: a lease plus a tunnel that only callers with its worker token may use."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import ClientInstanceId, Metadata, Name, RequestBody, Resource, Target, TtlSeconds

__all__ = [
    "AgentConnect",
    "RelayLease",
    "RelayLeaseCreate",
    "RelayLeaseGrant",
    "RelayLeaseStatus",
    "WorkerToken",
]


class RelayLeaseStatus(str, enum.Enum):
    """The state of a relay lease."""

    ACTIVE = "active"
    CLOSED = "closed"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


class RelayLeaseCreate(RequestBody):
    """Body of ``POST /v1/relay-leases``: a lease plus a worker-token-protected tunnel."""

    client_instance_id: ClientInstanceId
    target: Target
    name: Name | None = None
    ttl_seconds: TtlSeconds | None = None
    metadata: Metadata = Field(default_factory=dict)


class AgentConnect(Resource):
    """Where and how the agent of a relay lease attaches."""

    transport: Literal["ws"] = "ws"
    url: str


class RelayLease(Resource):
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


class WorkerToken(Resource):
    """A freshly rotated worker token; the previous one no longer works."""

    relay_lease_id: str
    worker_token: str
