"""Tunnels: the resource, and the bodies that create, update and rotate one."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from ..status import TunnelStatus
from .base import Metadata, Name, Port, Readiness, RequestBody, Resource, Slug, Target

__all__ = [
    "Access",
    "LeaseSummary",
    "Protocol",
    "Tunnel",
    "TunnelCreate",
    "TunnelRotate",
    "TunnelUpdate",
]


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


class LeaseSummary(Resource):
    """The lease serving a tunnel, as shown in tunnel listings."""

    last_heartbeat_at: datetime | None
    expires_at: datetime


class Tunnel(Resource):
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


class TunnelCreate(RequestBody):
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


class TunnelUpdate(RequestBody):
    """Body of ``PATCH /v1/tunnels/{id}``: every field is optional, at least one is needed."""

    name: Name | None = None
    status: Literal["active", "paused", "failed"] | None = Field(
        default=None,
        description="paused refuses new visitors, active resumes; failed ends the tunnel with "
        "lastError (what its owner saw fail, such as the app it served exiting).",
    )
    last_error: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        default=None, description="Why the tunnel failed; only with status failed."
    )
    metadata: Metadata | None = None
    lease_id: str | None = None

    model_config = ConfigDict(
        json_schema_extra={
            "minProperties": 1,
            "allOf": [  # status failed and a lastError string go together
                {
                    "if": {"required": ["status"], "properties": {"status": {"const": "failed"}}},
                    "then": {
                        "required": ["lastError"],
                        "properties": {"lastError": {"type": "string"}},
                    },
                },
                {
                    "if": {
                        "required": ["lastError"],
                        "properties": {"lastError": {"type": "string"}},
                    },
                    "then": {"required": ["status"], "properties": {"status": {"const": "failed"}}},
                },
            ],
        }
    )

    @model_validator(mode="after")
    def _not_empty(self) -> TunnelUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of name, status, metadata, leaseId")
        if (self.status == "failed") != (self.last_error is not None):
            raise ValueError("status failed and lastError go together: give both or neither")
        return self


class TunnelRotate(RequestBody):
    """Body of ``POST /v1/tunnels/{id}/rotate``: the new local target, same URL."""

    target: Target
    reason: Annotated[str, Field(max_length=500)] | None = None
