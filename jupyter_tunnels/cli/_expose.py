"""``jupyter-tunnels expose PORT``: serve a local port through a hub, in the foreground.

The URL is printed alone on stdout as soon as the tunnel is active (so
``URL=$(jupyter-tunnels expose 8050 | head -1)`` works); everything else goes to stderr.
Ctrl-C or SIGTERM closes the tunnel (its lease is released), so it ends ``stopped``. The
client instance id is stable for a machine, host and port, so exposing the same port again
later gets the same URL back while the hub still reserves it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from .._core.loop import run
from ..client import HUB_URL_ENV, TOKEN_ENV, HubUnreachable, TunnelError
from . import _settings as settings
from ._errors import CommandError

if TYPE_CHECKING:
    from ..connector import Connector

__all__ = ["add_arguments", "expose_command", "run_foreground"]

DEFAULT_HUB_URL = "http://127.0.0.1:8765"
PROTOCOLS = ("auto", "http", "https", "tcp", "udp")
LOCAL_CHECK_TIMEOUT = 1.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
        help="this connector's stable identity (default: from the machine, host and port)",
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


def logging_setup() -> None:
    """Connector messages to stderr, one line each."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)


async def _expose(args: argparse.Namespace, hub_url: str, token: str) -> None:
    from ..connector import DEFAULT_ALLOWED_HOSTS, Connector, TargetNotAllowed

    def say(message: str) -> None:
        print(f"[jupyter-tunnels] {message}", file=sys.stderr, flush=True)

    client_id = args.client_id or f"cli-{socket.gethostname()}-{args.host}-{args.port}"
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
        print(tunnel.url, flush=True)
        say(f"{tunnel.name}: {tunnel.url} → {args.host}:{args.port} ({tunnel.access.value})")
        if tunnel.protocol.value in ("tcp", "udp") and tunnel.access.value == "private":
            say(
                "a private TCP/UDP tunnel opens no port on the hub: reach it with an "
                "authenticated CONNECT to the hub (docs/api.md), or expose it with --public"
            )
        if args.protocol != "udp" and not await _listening(args.host, args.port):
            say(f"nothing answers on {args.host}:{args.port} yet: start your app there")
        say("press Ctrl-C to close the tunnel")
        if not await until_stopped(stopping, connector):
            raise CommandError(f"the tunnel is no longer served: {connector.last_error}")
        say("closing the tunnel...")
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await connector.close()


async def until_stopped(stopping: asyncio.Event, connector: Connector) -> bool:
    """Wait for Ctrl-C (True) or for the connector to stop by itself (False)."""
    waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(connector.ended.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return stopping.is_set()


async def _listening(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), LOCAL_CHECK_TIMEOUT)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
