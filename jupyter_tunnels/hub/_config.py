"""The hub's settings, shared by the standalone server and the Jupyter mount."""

from __future__ import annotations

import dataclasses
import math
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_HEAD_TIMEOUT",
    "DEFAULT_HUB_PORT",
    "DEFAULT_LEASE_TTL",
    "DEFAULT_MAX_UNFINISHED_HEADS",
    "DEFAULT_SLUG_GRACE",
    "DEFAULT_TCP_PORTS",
    "DEFAULT_WEBHOOK_MAX_ATTEMPTS",
    "DEFAULT_WEBHOOK_RETRY_BASE",
    "HubConfig",
    "parse_port_range",
]

DEFAULT_HUB_PORT = 8765
DEFAULT_LEASE_TTL = 60.0
"""Seconds a lease lives after its last heartbeat."""
HEARTBEATS_PER_TTL = 3
"""Heartbeats a connector sends per TTL, so two may be lost before the lease expires."""
DEFAULT_SLUG_GRACE = 24 * 3600.0
"""Seconds a stopped tunnel's slug stays reserved for its owner."""
DEFAULT_TCP_PORTS = (20000, 20100)
MAX_REAPER_INTERVAL = 5.0
MIN_REAPER_INTERVAL = 0.2
MAX_BODY_BYTES = 256 * 1024
DEFAULT_WEBHOOK_RETRY_BASE = 2.0
"""Seconds before a failed webhook delivery's first retry; each next retry waits twice as long."""
DEFAULT_WEBHOOK_MAX_ATTEMPTS = 12
"""Attempts at one webhook delivery before it is marked failed (about 68 minutes of retries)."""
DEFAULT_HEAD_TIMEOUT = 20.0
"""Seconds a visitor has to send a whole request head, from its first byte (from the connection's
opening for its first request): a head is one or a few packets, so a live client needs well
under a second; 20 s leaves room for a few lost packets on a bad link (TCP's retransmissions back
off 1, 2, 4, 8 s) and stops slowloris clients, which trickle a head to hold a connection."""
DEFAULT_MAX_UNFINISHED_HEADS = 64
"""Request heads one client address may have begun and not finished at once. A browser opens
at most six connections per host and sends each head in one go, so it never comes near; a
slowloris client opening hundreds is refused (429) beyond this. Visitors behind one NAT share
an address, hence a bound well above a browser's need."""


def parse_port_range(text: str) -> tuple[int, int]:
    """Parse ``"20000-20100"`` (or a single port) into an inclusive ``(first, last)``."""
    first_text, _, last_text = text.partition("-")
    try:
        first = int(first_text)
        last = int(last_text) if last_text else first
    except ValueError:
        raise ValueError(f"port range {text!r} is not FIRST-LAST, e.g. 20000-20100") from None
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"port range {text!r} must satisfy 1 <= FIRST <= LAST <= 65535")
    return first, last


REACH_SCHEME = "reach"
"""The scheme of the ``url`` of a private tcp tunnel that has no hub port (a hub without
raw ports): ``reach://{slug}``, used with ``jupyter-tunnels connect`` or ``%tunnel connect``."""


@dataclasses.dataclass(frozen=True)
class HubConfig:
    """Everything a hub needs to know; the CLI and the Jupyter extension fill it in."""

    db_url: str
    """SQLAlchemy URL of the store (``sqlite+aiosqlite:///path``)."""
    public_url: str = f"http://127.0.0.1:{DEFAULT_HUB_PORT}"
    """The hub's own address as visitors and connectors see it, without the /v1 suffix."""
    domain: str | None = None
    """Route ``{slug}.{domain}`` by subdomain; None routes by path (``/t/{slug}/``)."""
    lease_ttl: float = DEFAULT_LEASE_TTL
    slug_grace: float = DEFAULT_SLUG_GRACE
    tcp_ports: tuple[int, int] | None = DEFAULT_TCP_PORTS
    webhook_retry_base: float = DEFAULT_WEBHOOK_RETRY_BASE
    webhook_max_attempts: int = DEFAULT_WEBHOOK_MAX_ATTEMPTS
    webhook_hosts: tuple[str, ...] | None = None
    """Hosts webhook receivers may be on (names, addresses or networks, ``*``); None: any.
    A team hub inside a private network sets it so webhooks cannot probe that network."""
    head_timeout: float = DEFAULT_HEAD_TIMEOUT
    """Seconds a visitor has to send a whole request head (then ``408`` and the connection
    closes)."""
    max_unfinished_heads: int = DEFAULT_MAX_UNFINISHED_HEADS
    """Unfinished request heads one client address may hold at once (beyond: ``429``)."""

    def __post_init__(self) -> None:
        if self.webhook_retry_base <= 0:
            raise ValueError("webhook_retry_base must be positive")
        if self.webhook_max_attempts < 1:
            raise ValueError("webhook_max_attempts must be at least 1")
        if self.lease_ttl < 1:
            raise ValueError("lease_ttl must be at least 1 second")
        if self.slug_grace < 0:
            raise ValueError("slug_grace must not be negative")
        if not 0 < self.head_timeout < math.inf:  # also refuses nan
            raise ValueError("head_timeout must be a positive, finite number of seconds")
        if self.max_unfinished_heads < 1:
            raise ValueError("max_unfinished_heads must be at least 1")

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between a connector's heartbeats for the default TTL."""
        return self.lease_ttl / HEARTBEATS_PER_TTL

    @property
    def reaper_interval(self) -> float:
        """How often the reaper looks for expired leases."""
        return min(MAX_REAPER_INTERVAL, max(MIN_REAPER_INTERVAL, self.lease_ttl / 4))

    @property
    def base(self) -> str:
        """``public_url`` without a trailing slash."""
        return self.public_url.rstrip("/")

    @property
    def scheme(self) -> str:
        """``http`` or ``https``, as visitors reach the hub."""
        return urlsplit(self.public_url).scheme or "http"

    @property
    def public_host(self) -> str:
        """The host name of ``public_url``."""
        return urlsplit(self.public_url).hostname or "127.0.0.1"

    def tunnel_hostname(self, slug: str) -> str:
        """The host name a tunnel is known by."""
        return f"{slug}.{self.domain}" if self.domain else self.public_host

    def tunnel_url(self, slug: str, protocol: str, hub_port: int | None) -> str:
        """The address visitors use for a tunnel."""
        if protocol in ("tcp", "udp"):
            if hub_port is None:  # no port of its own: reached with connect (reach)
                return f"{REACH_SCHEME}://{slug}"
            return f"{protocol}://{self.public_host}:{hub_port}"
        if self.domain:
            parts = urlsplit(self.public_url)
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{slug}.{self.domain}{port}/"
        return f"{self.base}/t/{slug}/"

    def agent_connect_url(self) -> str:
        """Where connectors open their WebSocket."""
        ws_base = "wss" + self.base[5:] if self.base.startswith("https") else "ws" + self.base[4:]
        return f"{ws_base}/v1/agent/connect"
