"""One tunnel as text, every field a line: ``jupyter-tunnels info`` and ``%tunnel info`` print
it. No I/O here."""

from __future__ import annotations

import json
from datetime import datetime

from .models import Tunnel

__all__ = ["tunnel_details"]

NONE = "-"


def tunnel_details(tunnel: Tunnel) -> str:
    """Every field of a tunnel, one ``label: value`` a line."""
    lease = tunnel.lease
    readiness = tunnel.readiness
    fields = [
        ("name", tunnel.name),
        ("id", tunnel.id),
        ("slug", tunnel.slug),
        ("url", tunnel.url),
        ("hostname", tunnel.hostname),
        ("status", str(tunnel.status)),
        ("protocol", str(tunnel.protocol)),
        ("target", str(tunnel.target)),
        ("requested port", str(tunnel.requested_port)),
        ("hub port", _or_none(tunnel.hub_port)),
        ("access", str(tunnel.access)),
        ("agent", _or_none(tunnel.agent_id)),
        ("lease", _or_none(tunnel.lease_id)),
        ("lease expires", _time(lease.expires_at) if lease else NONE),
        ("last heartbeat", _time(lease.last_heartbeat_at) if lease else NONE),
        ("connected to hub", _yes_no(readiness.connected_to_hub)),
        ("local target ready", _yes_no(readiness.local_ready)),
        ("metadata", json.dumps(tunnel.metadata) if tunnel.metadata else NONE),
        ("created", _time(tunnel.created_at)),
        ("updated", _time(tunnel.updated_at)),
        ("stopped", _time(tunnel.stopped_at)),
        ("last error", _or_none(tunnel.last_error or readiness.last_error)),
    ]
    width = max(len(label) for label, _ in fields) + 1
    return "\n".join(f"{label + ':':<{width}} {value}" for label, value in fields)


def _or_none(value: object) -> str:
    return NONE if value is None else str(value)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _time(value: datetime | None) -> str:
    return NONE if value is None else value.isoformat(sep=" ", timespec="seconds")
