"""Commands that talk to a running hub through the SDK: ``list``, ``info``, ``close``, ``health``.

The hub is ``--hub``, else ``JUPYTER_TUNNELS_HUB``, else the local default
(``http://127.0.0.1:8765``); the token is ``--token``, else ``JUPYTER_TUNNELS_TOKEN``. Every SDK
error becomes a one-line :class:`CommandError` (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from .._core.models import Health, Tunnel
from .._core.tunnel_text import tunnel_details
from ..client import HUB_URL_ENV, TOKEN_ENV, HubUnreachable, TunnelError, TunnelsClient
from ._errors import CommandError

__all__ = [
    "DEFAULT_HUB_URL",
    "close_command",
    "health_command",
    "hub_client",
    "info_command",
    "list_command",
    "tunnel_table",
]

DEFAULT_HUB_URL = "http://127.0.0.1:8765"
"""Where a hub started with ``jupyter-tunnels hub`` listens by default."""
CLI_RETRIES = 1
"""Someone is waiting at the prompt: one retry covers a blip, more only delays the message."""
TABLE_COLUMNS = ("NAME", "SLUG", "STATUS", "PROTOCOL", "TARGET", "URL")
COLUMN_GAP = "  "


def list_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels list``: the caller's tunnels as a table, or JSON."""
    with hub_client(args) as client:
        tunnels = client.list(include_inactive=args.all)
    if args.json:
        _print_json([tunnel.to_json() for tunnel in tunnels])
    elif tunnels:
        print(tunnel_table(tunnels))
    else:
        print("no tunnels" if args.all else "no live tunnels (--all shows stopped ones too)")
    return 0


def info_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels info ID``: one tunnel's fields."""
    with hub_client(args) as client:
        tunnel = client.get(args.id)
    if args.json:
        _print_json(tunnel.to_json())
    else:
        print(tunnel_details(tunnel))
    return 0


def close_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels close ID``: close a tunnel and say which."""
    with hub_client(args) as client:
        tunnel = client.delete(args.id)
    print(f"closed {tunnel.name!r} ({tunnel.url}, slug {tunnel.slug}, id {tunnel.id})")
    return 0


def health_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels health``: whether the hub is up, and the caller's counts."""
    with hub_client(args, token_required=False) as client:
        health = client.health()
    if args.json:
        _print_json(health.to_json())
    else:
        print(health_summary(client.hub_url, health))
    return 0 if health.status == "ok" else 1


@contextlib.contextmanager
def hub_client(args: argparse.Namespace, *, token_required: bool = True) -> Iterator[TunnelsClient]:
    """A client for the hub the options and environment name; SDK errors become one line."""
    hub_url = args.hub or os.environ.get(HUB_URL_ENV, "").strip() or DEFAULT_HUB_URL
    token = args.token or os.environ.get(TOKEN_ENV, "").strip() or None
    if token_required and token is None:
        raise CommandError(
            f"no API token: pass --token or set {TOKEN_ENV} "
            "(`jupyter-tunnels token create NAME` makes one)"
        )
    try:
        with TunnelsClient(hub_url, token, retries=CLI_RETRIES) as client:
            yield client
    except HubUnreachable as exc:
        reason = exc.__cause__ or exc
        raise CommandError(
            f"cannot reach the hub at {hub_url} ({reason}): is it running "
            f"(`jupyter-tunnels hub`), and is --hub or {HUB_URL_ENV} right?"
        ) from exc
    except TunnelError as exc:
        raise CommandError(str(exc)) from exc


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


# --- formatting ----------------------------------------------------------------------------


def tunnel_table(tunnels: Sequence[Tunnel]) -> str:
    """An aligned table, one tunnel a line: name, slug, status, protocol, target, url."""
    rows = [TABLE_COLUMNS] + [
        (t.name, t.slug, str(t.status), str(t.protocol), str(t.target), t.url) for t in tunnels
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_COLUMNS))]
    return "\n".join(
        COLUMN_GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def health_summary(hub_url: str, health: Health) -> str:
    """The hub's health in a few lines."""
    store = health.store
    lines = [
        f"hub:     {hub_url} is {health.status}",
        f"version: {health.version}",
        f"uptime:  {_duration(health.uptime_seconds)}",
        f"store:   {store.backend} {store.status}" + (f" ({store.error})" if store.error else ""),
    ]
    counts = health.counts
    if counts is None:
        lines.append("yours:   (no valid token given, so no counts)")
    else:
        lines.append(
            f"yours:   {counts.live_tunnels} live tunnels ({counts.active_tunnels} active, "
            f"{counts.tunnels} in all), {counts.online_agents} of {counts.agents} agents online, "
            f"{counts.active_leases} active leases"
        )
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    return f"{minutes}m {secs}s" if minutes else f"{seconds:.1f}s"
