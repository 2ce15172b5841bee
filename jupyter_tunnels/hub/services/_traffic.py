"""Per-tunnel traffic: a bounded log of recent HTTP requests and a few counters.

The ingress (``hub/ingress/``: one front for both hostings, the standalone hub's port and the
visitor connections a Jupyter server hands over) describes each request with an
:class:`Exchange` when its head has been judged, fills in the status and byte counts as the
answer goes by, and ends it with :meth:`Exchange.finish` when the answer has ended (or the hub
answered by itself), which records it in its :class:`TunnelTraffic`. Nothing is parsed for
this: the status comes from the response head the ingress reads anyway, and the byte counts
from lengths it already has.

Decisions (docs/traffic.md says the same to users):

- Memory only. A restart resets the log and the counters; the store is never written per
  request. :data:`RECENT_REQUESTS` records per tunnel, :data:`MAX_TUNNELS` tunnels (the
  oldest tracked tunnel is forgotten first).
- A record holds the time, method, path *without* its query string (queries carry secrets),
  status, duration, bytes in and out, and the client's address: never headers nor bodies.
- Latency quantiles are exact over a sliding window of the last :data:`LATENCY_WINDOW`
  durations (nearest rank), not over the tunnel's whole life.
- Errors are 5xx answers, the app's or the hub's own (502 app unreachable, 503 paused or no
  connector, 504). Requests the hub refuses (401) are logged and counted, but not as errors.
- A WebSocket is recorded when its ``101`` arrives (duration: the handshake); from then on it
  counts as an open stream until it closes, and its frames are not counted in bytes (the relay
  does no per-chunk work).
- Status ``499``: the visitor left before the answer ended (nginx's convention).
"""

from __future__ import annotations

import collections
import math
import time

__all__ = [
    "CLIENT_CLOSED",
    "LATENCY_WINDOW",
    "MAX_TUNNELS",
    "RECENT_REQUESTS",
    "Exchange",
    "TrafficLog",
    "TunnelTraffic",
]

RECENT_REQUESTS = 200
"""Requests kept in each tunnel's log."""
LATENCY_WINDOW = 1024
"""Durations the latency quantiles are computed from (the most recent ones)."""
MAX_TUNNELS = 1000
"""Tunnels whose traffic is kept; past that, the tunnel tracked longest is forgotten."""
CLIENT_CLOSED = 499
"""The status recorded when the visitor left before the answer ended."""
_NO_STATUS = 0


class Exchange:
    """One request through an ingress, from its judged head to the end of its answer."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "client",
        "method",
        "path",
        "started",
        "status",
        "traffic",
    )

    def __init__(
        self,
        method: bytes,
        traffic: TunnelTraffic | None = None,
        path: bytes = b"",
        client: str = "",
        bytes_in: int = 0,
    ) -> None:
        self.method = method
        self.started = time.monotonic()
        self.traffic = traffic
        """Where it is recorded; None when it is not (API calls) or already recorded."""
        self.path = path
        self.client = client
        self.bytes_in = bytes_in
        self.bytes_out = 0
        self.status = _NO_STATUS
        if traffic is not None:
            traffic.open_streams += 1

    def finish(self, status: int = _NO_STATUS) -> None:
        """Record it (once); ``status`` is used when no response head was seen."""
        traffic = self.traffic
        if traffic is None:
            return
        self.traffic = None
        if not self.status:
            self.status = status or CLIENT_CLOSED
        traffic.open_streams -= 1
        traffic.record(self)


class RequestRecord:
    """One finished request as the log keeps it."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "client",
        "duration",
        "method",
        "path",
        "status",
        "time",
    )

    def __init__(self, exchange: Exchange, duration: float) -> None:
        self.time = time.time() - duration
        """When the request arrived (Unix time)."""
        self.method = exchange.method.decode("ascii", "replace")
        self.path = exchange.path.split(b"?", 1)[0].decode("utf-8", "replace")
        self.status = exchange.status
        self.duration = duration
        self.bytes_in = exchange.bytes_in
        self.bytes_out = exchange.bytes_out
        self.client = exchange.client


class TunnelTraffic:
    """One tunnel's recent requests and counters."""

    def __init__(self, tunnel_id: str, slug: str, owner_id: str) -> None:
        self.tunnel_id = tunnel_id
        self.slug = slug
        self.owner_id = owner_id
        self.since = time.time()
        """When counting started (the first request since the hub started)."""
        self.recent: collections.deque[RequestRecord] = collections.deque(maxlen=RECENT_REQUESTS)
        self.latencies: collections.deque[float] = collections.deque(maxlen=LATENCY_WINDOW)
        self.requests = 0
        self.errors = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.latency_sum = 0.0
        self.open_streams = 0
        """Requests in flight plus upgraded streams (WebSockets) still open."""

    def record(self, exchange: Exchange) -> None:
        """Count a finished exchange and add it to the log."""
        duration = time.monotonic() - exchange.started
        self.recent.append(RequestRecord(exchange, duration))
        self.latencies.append(duration)
        self.latency_sum += duration
        self.requests += 1
        if exchange.status >= 500:
            self.errors += 1
        self.bytes_in += exchange.bytes_in
        self.bytes_out += exchange.bytes_out

    def upgraded(self) -> None:
        """A WebSocket began: it counts as an open stream until :meth:`stream_closed`."""
        self.open_streams += 1

    def stream_closed(self) -> None:
        """An upgraded stream ended."""
        self.open_streams -= 1

    def newest(self, limit: int) -> list[RequestRecord]:
        """Up to ``limit`` records, newest first."""
        return [self.recent[-1 - index] for index in range(min(limit, len(self.recent)))]

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q ≤ 1) of the recent durations in seconds, or None."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q * len(ordered)))  # nearest rank
        return ordered[rank - 1]


class TrafficLog:
    """Every tunnel's :class:`TunnelTraffic`, in memory."""

    def __init__(self) -> None:
        self._tunnels: dict[str, TunnelTraffic] = {}

    def for_tunnel(self, tunnel_id: str, slug: str, owner_id: str) -> TunnelTraffic:
        """The traffic of a tunnel, started on its first request."""
        traffic = self._tunnels.get(tunnel_id)
        if traffic is None:
            if len(self._tunnels) >= MAX_TUNNELS:
                del self._tunnels[next(iter(self._tunnels))]
            traffic = self._tunnels[tunnel_id] = TunnelTraffic(tunnel_id, slug, owner_id)
        else:
            traffic.slug = slug
        return traffic

    def get(self, tunnel_id: str) -> TunnelTraffic | None:
        """The traffic of a tunnel, or None when it had no request since the hub started."""
        return self._tunnels.get(tunnel_id)

    def all(self) -> list[TunnelTraffic]:
        """Every tracked tunnel's traffic."""
        return list(self._tunnels.values())
