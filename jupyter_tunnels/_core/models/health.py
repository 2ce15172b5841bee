"""Health: whether the hub is up, the state of its store, and what the caller holds there."""

from __future__ import annotations

from typing import Literal

from .base import Resource

__all__ = ["Health", "HealthCounts", "StoreHealth"]


class StoreHealth(Resource):
    """The state of the hub's store."""

    status: Literal["ok", "error"]
    backend: str
    error: str | None = None


class HealthCounts(Resource):
    """How many records the caller owns."""

    tunnels: int
    live_tunnels: int
    active_tunnels: int
    agents: int
    online_agents: int
    active_leases: int


class Health(Resource):
    """``GET /v1/health``: is the hub up, and what does it hold."""

    status: Literal["ok", "degraded"]
    version: str
    uptime_seconds: float
    store: StoreHealth
    counts: HealthCounts | None
    """The caller's own counts; null when the request carried no valid token."""
