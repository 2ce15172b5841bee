"""The traffic endpoints: a tunnel's request log and counters (``/v1``), and ``/metrics``.

``GET /metrics`` is the Prometheus text exposition format 0.0.4, written by hand (no
dependency). It names tunnels, so it needs an API token as a bearer like the rest of the API:
an admin token sees every tunnel and the hub-wide gauges, any other token only its owner's
tunnels (and the agents serving them). docs/traffic.md has a scrape configuration.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ..._core.errors import ErrorCode
from ..._core.models import RequestLogEntry, TunnelMetrics
from .._exceptions import HubError
from ..services._agents import AgentRegistry
from ..services._owners import OwnerService
from ..services._routing import Router
from ..services._traffic import RECENT_REQUESTS, RequestRecord, TrafficLog, TunnelTraffic
from ..services._tunnels import TunnelService
from ._base import ApiHandler

__all__ = [
    "DEFAULT_LIMIT",
    "METRICS_CONTENT_TYPE",
    "METRICS_PATH",
    "MetricsHandler",
    "TunnelMetricsHandler",
    "TunnelRequestsHandler",
]

DEFAULT_LIMIT = 50
"""Requests ``GET /v1/tunnels/{id}/requests`` returns without ``limit``."""
METRICS_PATH = "/metrics"
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_DIGITS = re.compile(r"[0-9]{1,10}")
_QUANTILES = (0.5, 0.9)
_MS = 1000.0


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, timezone.utc)


def log_entry(record: RequestRecord) -> RequestLogEntry:
    """The API's form of a log record."""
    return RequestLogEntry(
        time=_time(record.time),
        method=record.method,
        path=record.path,
        status=record.status,
        duration_ms=round(record.duration * _MS, 3),
        bytes_in=record.bytes_in,
        bytes_out=record.bytes_out,
        client=record.client,
    )


def metrics_of(tunnel_id: str, traffic: TunnelTraffic | None) -> TunnelMetrics:
    """The API's form of a tunnel's counters (zeros before its first request)."""
    if traffic is None:
        return TunnelMetrics(
            tunnel_id=tunnel_id,
            requests=0,
            errors=0,
            bytes_in=0,
            bytes_out=0,
            open_streams=0,
            latency_p50_ms=None,
            latency_p90_ms=None,
            latency_samples=0,
            since=None,
        )
    p50, p90 = (traffic.quantile(q) for q in _QUANTILES)
    return TunnelMetrics(
        tunnel_id=tunnel_id,
        requests=traffic.requests,
        errors=traffic.errors,
        bytes_in=traffic.bytes_in,
        bytes_out=traffic.bytes_out,
        open_streams=traffic.open_streams,
        latency_p50_ms=None if p50 is None else round(p50 * _MS, 3),
        latency_p90_ms=None if p90 is None else round(p90 * _MS, 3),
        latency_samples=len(traffic.latencies),
        since=_time(traffic.since),
    )


class _TunnelTrafficApi(ApiHandler):
    """A handler of a tunnel's traffic."""

    tunnels: TunnelService
    traffic: TrafficLog

    def initialize(self, owners: OwnerService, tunnels: TunnelService, traffic: TrafficLog) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.tunnels = tunnels
        self.traffic = traffic


class TunnelRequestsHandler(_TunnelTrafficApi):
    """``GET /v1/tunnels/{tunnelId}/requests``."""

    async def get(self, tunnel_id: str) -> None:
        """The tunnel's recent requests, newest first."""
        limit = self._limit()
        tunnel = await self.tunnels.get(self.owner, tunnel_id)
        traffic = self.traffic.get(tunnel.id)
        records = traffic.newest(limit) if traffic is not None else []
        self.send([log_entry(record) for record in records])

    def _limit(self) -> int:
        text = self.get_query_argument("limit", None, strip=False)
        if text is None:
            return DEFAULT_LIMIT
        if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= RECENT_REQUESTS:
            raise HubError(
                ErrorCode.INVALID_INPUT,
                f"limit must be a whole number from 1 to {RECENT_REQUESTS}, not {text!r}",
                {"field": "limit"},
            )
        return int(text)


class TunnelMetricsHandler(_TunnelTrafficApi):
    """``GET /v1/tunnels/{tunnelId}/metrics``."""

    async def get(self, tunnel_id: str) -> None:
        """The tunnel's counters and latency quantiles."""
        tunnel = await self.tunnels.get(self.owner, tunnel_id)
        self.send(metrics_of(tunnel.id, self.traffic.get(tunnel.id)))


class MetricsHandler(ApiHandler):
    """``GET /metrics``: Prometheus text format, for the caller's tunnels (all for an admin)."""

    router: Router
    agents: AgentRegistry
    traffic: TrafficLog

    def initialize(
        self, owners: OwnerService, router: Router, agents: AgentRegistry, traffic: TrafficLog
    ) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.router = router
        self.agents = agents
        self.traffic = traffic

    async def get(self) -> None:
        """Write every visible tunnel's counters and the hub's gauges."""
        owner = self.owner
        is_admin = await self.owners.is_admin(owner)
        routes = [r for r in self.router.by_id.values() if is_admin or r.owner_id == owner]
        leases = {r.lease_id for r in routes}
        agents = sum(
            1
            for session in self.agents.sessions.values()
            if not session.closed and (is_admin or session.lease_id in leases)
        )
        traffic = [x for x in self.traffic.all() if is_admin or x.owner_id == owner]
        self.set_header("Content-Type", METRICS_CONTENT_TYPE)  # errors stay JSON
        self.finish(exposition(traffic, live_tunnels=len(routes), connected_agents=agents))


def _labels(traffic: TunnelTraffic, **extra: str) -> str:
    pairs = {"tunnel": traffic.slug, "tunnel_id": traffic.tunnel_id, **extra}
    return ",".join(f'{name}="{_escape(value)}"' for name, value in pairs.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(traffic: list[TunnelTraffic], *, live_tunnels: int, connected_agents: int) -> str:
    """The Prometheus text exposition (format 0.0.4) of these tunnels and the hub's gauges."""
    lines: list[str] = []

    def family(name: str, kind: str, what: str) -> None:
        lines.append(f"# HELP {name} {what}")
        lines.append(f"# TYPE {name} {kind}")

    family("jupyter_tunnels_live_tunnels", "gauge", "Tunnels the hub routes now.")
    lines.append(f"jupyter_tunnels_live_tunnels {live_tunnels}")
    family("jupyter_tunnels_connected_agents", "gauge", "Connectors attached now.")
    lines.append(f"jupyter_tunnels_connected_agents {connected_agents}")
    family("jupyter_tunnels_requests_total", "counter", "HTTP requests to a tunnel.")
    lines += [f"jupyter_tunnels_requests_total{{{_labels(x)}}} {x.requests}" for x in traffic]
    family(
        "jupyter_tunnels_request_errors_total", "counter", "Requests answered with a 5xx status."
    )
    lines += [f"jupyter_tunnels_request_errors_total{{{_labels(x)}}} {x.errors}" for x in traffic]
    family("jupyter_tunnels_bytes_total", "counter", "HTTP bytes from (in) and to (out) visitors.")
    for x in traffic:
        lines.append(f"jupyter_tunnels_bytes_total{{{_labels(x, direction='in')}}} {x.bytes_in}")
        lines.append(f"jupyter_tunnels_bytes_total{{{_labels(x, direction='out')}}} {x.bytes_out}")
    family("jupyter_tunnels_open_streams", "gauge", "Requests in flight and WebSockets open now.")
    lines += [f"jupyter_tunnels_open_streams{{{_labels(x)}}} {x.open_streams}" for x in traffic]
    family(
        "jupyter_tunnels_request_duration_seconds",
        "summary",
        "Request durations; quantiles over the most recent requests.",
    )
    for x in traffic:
        for q in _QUANTILES:
            value = x.quantile(q)
            shown = "NaN" if value is None else repr(value)
            labels = _labels(x, quantile=str(q))
            lines.append(f"jupyter_tunnels_request_duration_seconds{{{labels}}} {shown}")
        base = _labels(x)
        lines.append(f"jupyter_tunnels_request_duration_seconds_sum{{{base}}} {x.latency_sum!r}")
        lines.append(f"jupyter_tunnels_request_duration_seconds_count{{{base}}} {x.requests}")
    return "\n".join(lines) + "\n"
