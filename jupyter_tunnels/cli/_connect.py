"""``jupyter-tunnels connect NAME [--port P]``: a tunnel as a local port, like ``ssh -L``.

A connector runs in the foreground as the agent that binds ``127.0.0.1:P`` (any free port
without ``--port``); each connection made there is carried to the tunnel through the hub. The
connection string is printed alone on stdout as soon as the port is bound (so
``URL=$(jupyter-tunnels connect db | head -1)`` works); everything else goes to stderr.
Ctrl-C or SIGTERM closes the connection (the port is released) and the connector's lease; a
connection closed by the hub (its tunnel closed, its share revoked) ends the command with
status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._core.timeouts import within
from . import _settings as settings

if TYPE_CHECKING:
    from .._core.models import ReachConnection
    from ..connector import Connector

__all__ = ["add_connect", "connect_command"]

WATCH_INTERVAL = 2.0
"""Seconds between two checks that the hub still keeps the connection open."""

CONNECT_EPILOG = """\
examples:
  jupyter-tunnels connect orders-db --port 5432    postgres://127.0.0.1:5432
  jupyter-tunnels connect api                      any free port; the URL is stdout's first line
  jupyter-tunnels connect web --share-token jts_…  someone else's tunnel, shared with you

Ctrl-C releases the port. The hub is --hub, else JUPYTER_TUNNELS_HUB, else
http://127.0.0.1:8765; the token is --token, else JUPYTER_TUNNELS_TOKEN."""

Command = Callable[..., argparse.ArgumentParser]


def add_connect(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Command,
    client_options: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Register ``connect`` (argparse only: cheap to import)."""
    parser = command(
        commands,
        "connect",
        "reach a tunnel as a local port, in the foreground",
        connect_command,
        epilog=CONNECT_EPILOG,
    )
    parser.add_argument("name", type=settings.text, metavar="NAME", help="a tunnel's slug or id")
    parser.add_argument("--port", type=settings.port, help="the local port (default: any free)")
    parser.add_argument(
        "--share-token", type=settings.text, help="a share token allowing CONNECT to the tunnel"
    )
    parser.add_argument(
        "--client-id",
        type=settings.text,
        help="this connector's identity at the hub (default: from the machine and process)",
    )
    client_options(parser)


def connect_command(args: argparse.Namespace) -> int:
    """Bind the port and carry its connections until interrupted."""
    from ._expose import run_foreground

    return run_foreground(args, lambda hub_url, token: _connect(args, hub_url, token))


async def _connect(args: argparse.Namespace, hub_url: str, token: str) -> int:
    from ..connector import Connector
    from ._expose import STOP_SIGNALS

    def say(message: str) -> None:
        print(f"[jupyter-tunnels] {message}", file=sys.stderr, flush=True)

    client_id = args.client_id or f"cli-connect-{socket.gethostname()}-{os.getpid()}"
    connector = Connector(hub_url, token, client_instance_id=client_id, on_event=say)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    try:
        await connector.start()
        connection = await _reach(connector, args)
        print(connection.connection_string, flush=True)
        say(f"{args.name} is reachable at {connection.address} ({connection.protocol})")
        say("press Ctrl-C to release the port")
        while not await _stopped(stopping, WATCH_INTERVAL):
            if connector.ended.is_set():
                say(f"the port is no longer carried: {connector.last_error}")
                return 1
            current = await connector.client.get_connection(connection.id)
            if current.status.value not in ("open", "opening"):
                say(f"the hub closed the connection: {current.last_error or 'closed'}")
                return 1
        say("releasing the port...")
        await connector.client.close_connection(connection.id)
        return 0
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await connector.close()


async def _stopped(stopping: asyncio.Event, seconds: float) -> bool:
    """Whether ``stopping`` is set within ``seconds``."""
    try:
        await within(seconds, stopping.wait())
    except asyncio.TimeoutError:
        return False
    return True


async def _reach(connector: Connector, args: argparse.Namespace) -> ReachConnection:
    """Connect to ``NAME`` as a slug or id, else (your own tunnels) as a name."""
    from ..client import NotFound

    try:
        return await connector.connect(
            args.name, local_port=args.port, share_token=args.share_token
        )
    except NotFound as exc:
        if args.share_token is not None or exc.code != "TUNNEL_NOT_FOUND":
            raise
        named = [t for t in await connector.client.list() if t.name == args.name]
        if len(named) != 1:
            raise
        return await connector.connect(named[0].id, local_port=args.port)
