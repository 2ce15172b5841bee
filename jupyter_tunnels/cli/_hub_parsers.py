"""The parsers of the commands that run a hub or write to its store: hub, demo, token create.

Argparse only, so cheap to import: the commands themselves are in ``_hub.py``, imported when
one of them runs.
"""

from __future__ import annotations

import argparse

from . import _settings as settings
from ._parsers import command, from_env

__all__ = ["add_demo", "add_hub", "add_token"]

HUB_EPILOG = """\
examples:
  jupyter-tunnels hub
  jupyter-tunnels hub --port 9000 --db /srv/tunnels/hub.db --lease-ttl 30
  jupyter-tunnels hub --host 0.0.0.0 --public-url https://hub.example.org
  jupyter-tunnels hub --domain tunnels.example.org    (tunnels at SLUG.tunnels.example.org)

On the first start on an empty store the hub creates an admin token and writes it to
`admin-token` beside the store (readable only by you); it prints that file's path, never the
token. If JUPYTER_TUNNELS_TOKEN is set at that first start, its value becomes the admin token.
Every option can also be set as JUPYTER_TUNNELS_<NAME> (e.g. JUPYTER_TUNNELS_PORT)."""

DEMO_EPILOG = """\
The demo keeps its own store ($XDG_DATA_HOME/jupyter-tunnels/demo/hub.db unless --db is given;
JUPYTER_TUNNELS_DB is ignored) and prints its token, so never use it for a real hub.

examples:
  jupyter-tunnels demo
  jupyter-tunnels demo --port 9000"""

TOKEN_CREATE_EPILOG = """\
The token is printed alone on stdout, so scripts can capture it:
  TOKEN=$(jupyter-tunnels token create alice --db /srv/tunnels/hub.db)
This writes to the store directly: it works whether or not a hub is running on it."""


def _run_hub(args: argparse.Namespace) -> int:
    from ._hub import hub_command

    return hub_command(args)


def _run_demo(args: argparse.Namespace) -> int:
    from ._hub import demo_command

    return demo_command(args)


def _run_token_create(args: argparse.Namespace) -> int:
    from ._hub import token_create_command

    return token_create_command(args)


def add_hub(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hub``: run a standalone hub in the foreground."""
    hub = command(
        commands, "hub", "run a standalone hub in the foreground", _run_hub, epilog=HUB_EPILOG
    )
    env = argparse.SUPPRESS  # "not given": the environment or the default decides
    hub.add_argument(
        "--host",
        type=settings.text,
        default=env,
        help=from_env("address to listen on (default 127.0.0.1: this machine only)", "host"),
    )
    hub.add_argument(
        "--port",
        type=settings.port,
        default=env,
        help=from_env("port to listen on; 0 picks a free one (default 8765)", "port"),
    )
    hub.add_argument(
        "--db",
        type=settings.path,
        default=env,
        metavar="PATH",
        help=from_env(
            "the SQLite store (default $XDG_DATA_HOME/jupyter-tunnels/hub.db, "
            "i.e. ~/.local/share/jupyter-tunnels/hub.db)",
            "db",
        ),
    )
    hub.add_argument(
        "--domain",
        type=settings.text,
        default=env,
        help=from_env(
            "serve tunnels at SLUG.DOMAIN (a wildcard DNS name for this hub); "
            "without it, at /t/SLUG/ on the hub's own address",
            "domain",
        ),
    )
    hub.add_argument(
        "--public-url",
        type=settings.hub_url,
        default=env,
        metavar="URL",
        help=from_env(
            "the hub's address as others reach it, e.g. behind a proxy (default http://HOST:PORT)",
            "public_url",
        ),
    )
    hub.add_argument(
        "--lease-ttl",
        type=settings.lease_ttl,
        default=env,
        metavar="SECONDS",
        help=from_env("seconds a lease lives after its last heartbeat (default 60)", "lease_ttl"),
    )
    hub.add_argument(
        "--slug-grace",
        type=settings.slug_grace,
        default=env,
        metavar="SECONDS",
        help=from_env(
            "seconds a stopped tunnel's slug stays reserved for its owner (default 86400)",
            "slug_grace",
        ),
    )
    hub.add_argument(
        "--tcp-ports",
        type=settings.port_range,
        default=env,
        metavar="FIRST-LAST",
        help=from_env(
            "ports for TCP and UDP tunnels, or 'none' (default 20000-20100)", "tcp_ports"
        ),
    )
    hub.add_argument(
        "--head-timeout",
        type=settings.head_timeout,
        default=env,
        metavar="SECONDS",
        help=from_env(
            "seconds a visitor has to send a whole request head, then 408 (default 20)",
            "head_timeout",
        ),
    )
    hub.add_argument(
        "--max-unfinished-heads",
        type=settings.max_unfinished_heads,
        default=env,
        metavar="N",
        help=from_env(
            "request heads one client address may hold unfinished at once; "
            "more are answered 429 (default 64)",
            "max_unfinished_heads",
        ),
    )
    _add_log_level(hub)


def add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``demo``: start a local hub and print how to try it."""
    demo = command(
        commands,
        "demo",
        "start a local hub and print its URL, a token and commands to try it",
        _run_demo,
        epilog=DEMO_EPILOG,
    )
    demo.add_argument(
        "--port",
        type=settings.port,
        default=argparse.SUPPRESS,
        help=from_env("port to listen on; 0 picks a free one (default 8765)", "port"),
    )
    demo.add_argument(
        "--db",
        type=settings.path,
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="the demo's store (default $XDG_DATA_HOME/jupyter-tunnels/demo/hub.db)",
    )
    _add_log_level(demo)


def _add_log_level(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        type=settings.log_level,
        default=argparse.SUPPRESS,
        metavar="LEVEL",
        help=from_env(f"{', '.join(settings.LOG_LEVELS)} (default info)", "log_level"),
    )


def add_token(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``token create``: add an owner with a new API token to a hub's store."""
    token = command(commands, "token", "manage API tokens in a hub's store", None)
    actions = token.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = command(
        actions,
        "create",
        "create an owner with a new API token and print the token",
        _run_token_create,
        epilog=TOKEN_CREATE_EPILOG,
    )
    create.add_argument(
        "name", type=settings.owner_name, metavar="NAME", help="the new owner's name (unique)"
    )
    create.add_argument(
        "--db",
        type=settings.path,
        default=argparse.SUPPRESS,
        metavar="PATH",
        help=from_env("the hub's store (default: the hub's default store)", "db"),
    )
