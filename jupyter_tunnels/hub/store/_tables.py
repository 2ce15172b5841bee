"""The hub's tables, in SQLAlchemy Core: portable between SQLite and PostgreSQL.

Times are stored as UNIX seconds (float) so that comparisons and arithmetic are the same on
every backend. Secrets are stored only as SHA-256 hashes (see ``_owners.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "SCHEMA_VERSION",
    "agents",
    "api_tokens",
    "connections",
    "leases",
    "metadata",
    "owners",
    "relay_leases",
    "shares",
    "slug_reservations",
    "tunnel_readiness",
    "tunnels",
    "webhook_deliveries",
    "webhooks",
]

SCHEMA_VERSION = 1

metadata = MetaData()

_LIVE = text("status NOT IN ('stopped', 'failed')")

owners = Table(
    "owners",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
)

agents = Table(
    "agents",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("client_instance_id", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float),
    UniqueConstraint("owner_id", "client_instance_id"),
)

leases = Table(
    "leases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", String(36), ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("ttl_seconds", Integer, nullable=False),
    Column("idempotency_key", String(128)),
    Column("agent_token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_heartbeat_at", Float),
    Column("expires_at", Float, nullable=False),
    Column("released_at", Float),
    Column("connected_to_hub", Boolean, nullable=False, default=False),
    Column("local_ready", Boolean, nullable=False, default=False),
    Column("last_error", String(1000)),
    Column("metadata", JSON, nullable=False),
    UniqueConstraint("owner_id", "idempotency_key"),
    Index("ix_leases_status_expires", "status", "expires_at"),
)

tunnels = Table(
    "tunnels",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("lease_id", String(36), ForeignKey("leases.id", ondelete="SET NULL")),
    Column("name", String(100), nullable=False),
    Column("slug", String(32), nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("target_host", String(253), nullable=False),
    Column("target_port", Integer, nullable=False),
    Column("hub_port", Integer),
    Column("access", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("stopped_at", Float),
    Column("last_error", String(1000)),
    # One live tunnel per slug and per hub port; stopped ones stay for history.
    Index("ux_tunnels_live_slug", "slug", unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE),
    Index(
        "ux_tunnels_live_hub_port",
        "hub_port",
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    ),
    Index("ix_tunnels_owner_status", "owner_id", "status"),
)

# What a lease's connector last said about each of its tunnels' own target. A tunnel without
# a row for its current lease (an older connector, or one it has not reported yet) takes the
# lease's ``local_ready``/``last_error``. A table of its own, so a store made before it gains
# it at start-up (``create_all``) without touching the existing tables.
tunnel_readiness = Table(
    "tunnel_readiness",
    metadata,
    Column("tunnel_id", String(36), ForeignKey("tunnels.id", ondelete="CASCADE"), primary_key=True),
    Column("lease_id", String(36), ForeignKey("leases.id", ondelete="CASCADE"), nullable=False),
    Column("local_ready", Boolean, nullable=False),
    Column("last_error", String(1000)),
    Index("ix_tunnel_readiness_lease", "lease_id"),
)

slug_reservations = Table(
    "slug_reservations",
    metadata,
    Column("slug", String(32), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("client_instance_id", String(128)),
    Column("target_port", Integer, nullable=False),
    Column("protocol", String(8), nullable=False),
    Column("hub_port", Integer),
    Column("reserved_until", Float, nullable=False),
)

relay_leases = Table(
    "relay_leases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("lease_id", String(36), ForeignKey("leases.id", ondelete="CASCADE"), nullable=False),
    Column("tunnel_id", String(36), ForeignKey("tunnels.id", ondelete="CASCADE"), nullable=False),
    Column("worker_token_hash", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("closed_at", Float),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("events", JSON, nullable=False),
    # Kept as is, not hashed: the hub signs every delivery with it (see hub/services/_webhooks.py).
    Column("secret", String(100), nullable=False),
    Column("description", String(500)),
    Column("created_at", Float, nullable=False),
    Index("ix_webhooks_owner", "owner_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("webhook_id", String(36), ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event", String(64), nullable=False),
    # The exact body sent (and signed) on every attempt.
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float),
    Column("last_status_code", Integer),
    Column("last_error", String(1000)),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "created_at"),
)

shares = Table(
    "shares",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("tunnel_id", String(36), ForeignKey("tunnels.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", String(500)),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("expiration", String(8), nullable=False),
    Column("expires_at", Float),
    Column("allowed_methods", JSON),
    Column("rate_limit_per_minute", Integer),
    Column("path_prefix", String(500)),
    Column("access_count", Integer, nullable=False, default=0),
    Column("last_accessed_at", Float),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Index("ix_shares_tunnel", "tunnel_id", "created_at"),
)

# --- connections (reach) ---

connections = Table(
    "connections",
    metadata,
    Column("id", String(36), primary_key=True),
    # who made it (the caller); the agent is theirs, the tunnel theirs or shared with them
    Column("owner_id", String(36), ForeignKey("owners.id", ondelete="CASCADE"), nullable=False),
    Column("tunnel_id", String(36), ForeignKey("tunnels.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", String(36), ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("lease_id", String(36), nullable=False),
    Column("share_id", String(36), ForeignKey("shares.id", ondelete="SET NULL")),
    Column("share_token_hash", String(64)),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("local_host", String(64), nullable=False),
    Column("requested_port", Integer),
    Column("local_port", Integer),
    Column("protocol", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_error", String(1000)),
    Column("created_at", Float, nullable=False),
    Column("closed_at", Float),
    Index("ix_connections_owner", "owner_id", "created_at"),
    Index("ix_connections_lease_status", "lease_id", "status"),
)
