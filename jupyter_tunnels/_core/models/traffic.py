"""Traffic: a tunnel's recent requests and its counters, as the hub measured them."""

from __future__ import annotations

from datetime import datetime

from .base import Resource

__all__ = ["RequestLogEntry", "TunnelMetrics"]


class RequestLogEntry(Resource):
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


class TunnelMetrics(Resource):
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
