"""``jupyter-tunnels expose PORT``: serve a local port through a hub, in the foreground.

The URL is printed alone on stdout as soon as the tunnel is active (so
``URL=$(jupyter-tunnels expose 8050 | head -1)`` works); everything else goes to stderr.
Ctrl-C or SIGTERM closes the tunnel (its lease is released), so it ends ``stopped``.

Each ``expose`` holds a lease of its own, under a client instance id made from what identifies
the tunnel asked for: the machine, the target, the protocol, the access and the name
(:func:`client_instance_id`). Running the same command again later (after a crash, a reboot)
gets the same lease, or the same URL while the hub still reserves it; exposes of one port under
other names, protocols or access are other tunnels, on other leases, and never evict each
other. A lease of ``expose`` serves its one tunnel: any other tunnel found on it (left there by
an ``expose`` with the same ``--client-id`` and another name) is closed, so no row stays listed
as served by a process that has gone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .._core.loop import run
from .._core.probe import aaccepts
from ..client import HUB_URL_ENV, TOKEN_ENV, HubUnreachable, TunnelError
from . import _settings as settings
from ._errors import CommandError

if TYPE_CHECKING:
    from ..connector import Connector

__all__ = ["add_arguments", "client_instance_id", "expose_command", "run_foreground"]

DEFAULT_HUB_URL = "http://127.0.0.1:8765"
PROTOCOLS = ("auto", "http", "https", "tcp", "udp")
LOCAL_CHECK_TIMEOUT = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
CLIENT_ID_MAX = 128
"""The longest client instance id the hub accepts."""
NAME_DIGEST_CHARS = 12
"""Hex digits of a name's SHA-256 in a client instance id (names may hold any character)."""
_NOT_IN_CLIENT_ID = re.compile(r"[^A-Za-z0-9._:-]+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``expose`` (argparse only: cheap to import)."""
    parser.add_argument("port", type=settings.target_port, metavar="PORT", help="the local port")
    parser.add_argument(
        "--host", default="127.0.0.1", type=settings.text, help="the local host (default 127.0.0.1)"
    )
    parser.add_argument("--name", type=settings.text, help="the tunnel's name (and URL slug)")
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="auto",
        help="what the port speaks; auto: tcp for well-known database ports, else http",
    )
    parser.add_argument(
        "--public", action="store_true", help="anyone with the URL may use it (default: only you)"
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="HOST",
        help="also allow dialling HOST (or a CIDR network); loopback is always allowed",
    )
    parser.add_argument(
        "--client-id",
        type=settings.text,
        help="this connector's stable identity (default: from the machine, the target, the "
        "protocol, the access and the name)",
    )


def expose_command(args: argparse.Namespace) -> int:
    """Run a connector serving one tunnel until interrupted."""
    return run_foreground(args, lambda hub_url, token: _expose(args, hub_url, token))


def run_foreground(
    args: argparse.Namespace, work: Callable[[str, str], Coroutine[Any, Any, int | None]]
) -> int:
    """Run ``work(hub_url, token)`` (a foreground connector) until it ends; its status.

    The hub and token come from the options or the environment; SDK errors become one line.
    """
    hub_url = args.hub or os.environ.get(HUB_URL_ENV, "").strip() or DEFAULT_HUB_URL
    token = args.token or os.environ.get(TOKEN_ENV, "").strip() or None
    if token is None:
        raise CommandError(
            f"no API token: pass --token or set {TOKEN_ENV} "
            "(`jupyter-tunnels token create NAME` makes one)"
        )
    logging_setup()
    try:
        status = run(work(hub_url, token))
    except HubUnreachable as exc:
        raise CommandError(
            f"cannot reach the hub at {hub_url}: is it running (`jupyter-tunnels hub`)?"
        ) from exc
    except TunnelError as exc:
        raise CommandError(str(exc)) from exc
    return status or 0


def client_instance_id(
    host: str, port: int, protocol: str, *, public: bool, name: str | None
) -> str:
    """The client instance id of ``expose`` for a tunnel: the same for the same command on the
    same machine, different for another name, protocol, access or target.

    ``cli-{machine}-{host}-{port}-{protocol}-{access}``, then ``-{digest}`` of the name if one
    was given: ``expose 8050 --public --name web`` on ``laptop`` is
    ``cli-laptop-127.0.0.1-8050-auto-public-4b5e57f6eb2f``. An id longer than the hub accepts
    becomes ``cli-`` and a digest of all of it.
    """
    access = "public" if public else "private"
    parts = [socket.gethostname(), host, str(port), protocol, access]
    if name is not None:
        parts.append(hashlib.sha256(name.encode()).hexdigest()[:NAME_DIGEST_CHARS])
    readable = _NOT_IN_CLIENT_ID.sub("-", "-".join(["cli", *parts]))
    if len(readable) <= CLIENT_ID_MAX:
        return readable
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"cli-{digest}"


def logging_setup() -> None:
    """Connector messages to stderr, one line each."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)


async def _expose(args: argparse.Namespace, hub_url: str, token: str) -> None:
    from ..connector import DEFAULT_ALLOWED_HOSTS, Connector, TargetNotAllowed

    def say(message: str) -> None:
        print(f"[jupyter-tunnels] {message}", file=sys.stderr, flush=True)

    client_id = args.client_id or client_instance_id(
        args.host, args.port, args.protocol, public=args.public, name=args.name
    )
    connector = Connector(
        hub_url,
        token,
        client_instance_id=client_id,
        allowed_hosts=(*DEFAULT_ALLOWED_HOSTS, *args.allow),
        on_event=say,
    )
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    try:
        await connector.start()
        try:
            tunnel = await connector.expose(
                args.port,
                host=args.host,
                name=args.name,
                protocol=args.protocol,
                public=args.public,
            )
        except TargetNotAllowed as exc:
            raise CommandError(str(exc)) from exc
        await _close_others(connector, tunnel.id, say)
        print(tunnel.url, flush=True)
        say(f"{tunnel.name}: {tunnel.url} → {args.host}:{args.port} ({tunnel.access.value})")
        if tunnel.protocol.value in ("tcp", "udp") and tunnel.access.value == "private":
            say(
                "a private TCP/UDP tunnel opens no port on the hub: reach it with an "
                "authenticated CONNECT to the hub (docs/api.md), or expose it with --public"
            )
        if args.protocol != "udp" and not await aaccepts(args.host, args.port, LOCAL_CHECK_TIMEOUT):
            say(f"nothing answers on {args.host}:{args.port} yet: start your app there")
        say("press Ctrl-C to close the tunnel")
        if not await until_stopped(stopping, connector):
            raise CommandError(f"the tunnel is no longer served: {connector.last_error}")
        say("closing the tunnel...")
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await connector.close()


async def _close_others(connector: Connector, tunnel_id: str, say: Callable[[str], None]) -> None:
    """Close the lease's other tunnels: an ``expose`` serves only the one it was asked for."""
    for other in await connector.client.list(lease_id=connector.lease_id):
        if other.id != tunnel_id:
            say(f"closing {other.name}: left on this lease by an expose with the same client id")
            await connector.unexpose(other.id)


async def until_stopped(stopping: asyncio.Event, connector: Connector) -> bool:
    """Wait for Ctrl-C (True) or for the connector to stop by itself (False)."""
    waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(connector.ended.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return stopping.is_set()
