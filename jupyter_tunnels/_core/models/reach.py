"""Reach: a tunnel used as a local port of one of the caller's agents (a connection)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import Field

from .base import Port, RequestBody, Resource

__all__ = ["ReachConnection", "ReachCreate", "ReachStatus"]


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


class ReachCreate(RequestBody):
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


class ReachConnection(Resource):
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
