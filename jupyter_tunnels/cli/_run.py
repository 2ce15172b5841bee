"""``jupyter-tunnels run -- streamlit run app.py``: start an app and expose it, in one step.

The command picks a free local port, exposes it (so the tunnel's URL, and with it the public
host and path prefix, is known), starts the app with the port and the base path set the way
that app wants them (the recipes of :mod:`jupyter_tunnels._core.app_recipes`), waits until the
port answers, then prints the URL alone on stdout like ``expose``. The app's output goes to a
log file whose path is printed on stderr.

This process owns the app: Ctrl-C or SIGTERM stops the app (its whole process group) and
closes the tunnel. An app that exits by itself fails its tunnel (``status: failed``,
``lastError: the app (...) exited with code 3``) and the command exits with 1, quoting the
log. An app that exits or stays silent before it listens closes the tunnel again: nothing is
left exposed or running.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._core.app_process import READY_TIMEOUT, AppFailed, AppProcess, free_port
from .._core.app_recipes import RECIPES, Placement, RecipeError, prepare
from . import _settings as settings
from ._errors import CommandError, UsageError
from ._expose import STOP_SIGNALS, client_instance_id, run_foreground

if TYPE_CHECKING:
    from ..connector import Connector

__all__ = ["add_arguments", "run_command"]

LOCAL_HOST = "127.0.0.1"
LOG_NAME = "app.log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``run`` (argparse only: cheap to import)."""
    parser.add_argument("--name", type=settings.text, help="the tunnel's name (and URL slug)")
    parser.add_argument(
        "--public", action="store_true", help="anyone with the URL may use it (default: only you)"
    )
    parser.add_argument(
        "--app",
        choices=sorted(RECIPES),
        help="the app's recipe, for commands it cannot be told from (python app.py of a Dash "
        "or Gradio app); default: from the command",
    )
    parser.add_argument(
        "--timeout",
        type=settings.positive_seconds,
        default=READY_TIMEOUT,
        metavar="SECONDS",
        help=f"how long the app may take to listen (default {READY_TIMEOUT:g})",
    )
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="the app's command line, after --",
    )


def run_command(args: argparse.Namespace) -> int:
    """Start the app, expose it, and serve until interrupted or until the app exits."""
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("no command to run: give one after --, e.g. -- streamlit run app.py")
    return run_foreground(args, lambda hub_url, token: _run(args, command, hub_url, token))


async def _run(args: argparse.Namespace, command: list[str], hub_url: str, token: str) -> int:
    from ..connector import Connector  # imported when run, not with the parser

    def say(message: str) -> None:
        print(f"[jupyter-tunnels] {message}", file=sys.stderr, flush=True)

    port = free_port(LOCAL_HOST)
    name = args.name or None
    connector = Connector(
        hub_url,
        token,
        client_instance_id=client_instance_id(
            LOCAL_HOST, 0, "run", public=args.public, name=name or shlex.join(command)
        ),
        on_event=say,
    )
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    app: AppProcess | None = None
    try:
        await connector.start()
        for left in await connector.client.list(lease_id=connector.lease_id):
            # an earlier run of this command that did not end cleanly: its app is gone
            say(f"closing {left.name}: left on this lease by an earlier run")
            await connector.unexpose(left.id)
        tunnel = await connector.expose(
            port, host=LOCAL_HOST, name=name, protocol="http", public=args.public
        )
        try:
            launch = prepare(command, os.environ, Placement(port, tunnel.url), app=args.app)
            for note in launch.notes:
                say(f"note: {note}")
            log_path = Path(tempfile.mkdtemp(prefix="jupyter-tunnels-run-")) / LOG_NAME
            say(f"starting {shlex.join(launch.argv)} ({launch.recipe}) on port {port}")
            say(f"its output goes to {log_path}")
            app = AppProcess.start(launch.argv, launch.env, log_path)
            await app.await_listening(LOCAL_HOST, port, args.timeout)
        except (AppFailed, RecipeError) as exc:
            await connector.unexpose(tunnel.id)  # nothing stays exposed
            raise CommandError(str(exc)) from exc
        print(tunnel.url, flush=True)
        say(f"{tunnel.name}: {tunnel.url} → {launch.recipe} on {LOCAL_HOST}:{port}")
        say("press Ctrl-C to stop the app and close the tunnel")
        return await _serve(stopping, connector, app, tunnel.id, say)
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        if app is not None:
            await app.astop()
        await connector.close()


async def _serve(
    stopping: asyncio.Event,
    connector: Connector,
    app: AppProcess,
    tunnel_id: str,
    say: Callable[[str], None],
) -> int:
    """Wait for Ctrl-C (0), the app's exit (its tunnel failed) or the connector's end."""
    exited = asyncio.ensure_future(app.await_exit())
    waits = [
        asyncio.ensure_future(stopping.wait()),
        asyncio.ensure_future(connector.ended.wait()),
        exited,
    ]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    if stopping.is_set():
        say("stopping the app and closing the tunnel...")
        return 0
    if app.returncode is not None:
        reason = app.exit_reason()
        await connector.client.update(tunnel_id, status="failed", last_error=reason)
        raise CommandError(str(app.failure(f"{reason}: its tunnel is failed")))
    raise CommandError(f"the tunnel is no longer served: {connector.last_error}")
