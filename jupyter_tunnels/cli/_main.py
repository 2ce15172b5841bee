"""The argument parser and :func:`main`: parse, run one command, turn failures into exit codes.

Each command's module is imported only when that command runs, so ``jupyter-tunnels list``
does not load the hub and ``--help`` loads neither.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from . import _settings as settings
from ._connect import add_connect
from ._errors import EXIT_FAILURE, EXIT_INTERRUPTED, CommandError
from ._share import add_share

__all__ = ["PROG", "build_parser", "main"]

PROG = "jupyter-tunnels"

Handler = Callable[[argparse.Namespace], int]

DESCRIPTION = """\
Expose services running in Jupyter through tunnels, share them, and reach them from
elsewhere. This command runs the hub (the tunnels' control plane) and talks to a running one.
`jupyter tunnels ...` is the same command."""

EPILOG = """\
examples:
  jupyter-tunnels demo                  start a local hub and print a token to try it with
  jupyter-tunnels hub                   run a hub for a team (its admin token goes to a file)
  TOKEN=$(jupyter-tunnels token create alice)
  export JUPYTER_TUNNELS_HUB=http://127.0.0.1:8765 JUPYTER_TUNNELS_TOKEN=$TOKEN
  jupyter-tunnels list                  your live tunnels
  jupyter-tunnels info dashboard        one tunnel, by slug or id
  jupyter-tunnels close dashboard

Options that take a value can also be set in the environment as JUPYTER_TUNNELS_<NAME>
(--lease-ttl is JUPYTER_TUNNELS_LEASE_TTL); the command line wins.
Run `jupyter-tunnels COMMAND --help` for a command's options."""

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

EXPOSE_EPILOG = """\
examples:
  jupyter-tunnels expose 8050                      a private tunnel to 127.0.0.1:8050
  jupyter-tunnels expose 8050 --public --name demo
  jupyter-tunnels expose 5432 --public             PostgreSQL: a TCP tunnel on a hub port
  URL=$(jupyter-tunnels expose 8050 | head -1)    the URL is stdout's first line

The URL is printed as soon as the tunnel is active; Ctrl-C closes it. The hub is --hub, else
JUPYTER_TUNNELS_HUB, else http://127.0.0.1:8765; the token is --token, else
JUPYTER_TUNNELS_TOKEN."""

CLIENT_EPILOG = """\
The hub is --hub, else JUPYTER_TUNNELS_HUB, else http://127.0.0.1:8765;
the token is --token, else JUPYTER_TUNNELS_TOKEN."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jupyter-tunnels`` with ``argv`` (default: the process's); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except CommandError as exc:
        message = " ".join(str(exc).split())
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`jupyter-tunnels list | head -1`): not worth a traceback, and
        # Python's final flush of stdout must not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILURE


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command, each with its handler in ``handler``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_client_options(parser, default=None)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_hub(commands)
    _add_demo(commands)
    _add_token(commands)
    _add_client_commands(commands)
    _add_expose(commands)
    add_share(
        commands,
        _command,
        lambda parser: _add_client_options(parser, default=argparse.SUPPRESS),
    )
    add_connect(  # connections (reach)
        commands,
        _command,
        lambda parser: _add_client_options(parser, default=argparse.SUPPRESS),
    )
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    handler: Handler | None,
    *,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def _from_env(text: str, dest: str) -> str:
    """Help text that names the option's environment variable."""
    return f"{text} [env {settings.env_name(dest)}]"


# --- hub and demo --------------------------------------------------------------------------


def _run_hub(args: argparse.Namespace) -> int:
    from ._hub import hub_command

    return hub_command(args)


def _run_demo(args: argparse.Namespace) -> int:
    from ._hub import demo_command

    return demo_command(args)


def _run_token_create(args: argparse.Namespace) -> int:
    from ._hub import token_create_command

    return token_create_command(args)


def _add_hub(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hub = _command(
        commands, "hub", "run a standalone hub in the foreground", _run_hub, epilog=HUB_EPILOG
    )
    env = argparse.SUPPRESS  # "not given": the environment or the default decides
    hub.add_argument(
        "--host",
        type=settings.text,
        default=env,
        help=_from_env("address to listen on (default 127.0.0.1: this machine only)", "host"),
    )
    hub.add_argument(
        "--port",
        type=settings.port,
        default=env,
        help=_from_env("port to listen on; 0 picks a free one (default 8765)", "port"),
    )
    hub.add_argument(
        "--db",
        type=settings.path,
        default=env,
        metavar="PATH",
        help=_from_env(
            "the SQLite store (default $XDG_DATA_HOME/jupyter-tunnels/hub.db, "
            "i.e. ~/.local/share/jupyter-tunnels/hub.db)",
            "db",
        ),
    )
    hub.add_argument(
        "--domain",
        type=settings.text,
        default=env,
        help=_from_env(
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
        help=_from_env(
            "the hub's address as others reach it, e.g. behind a proxy (default http://HOST:PORT)",
            "public_url",
        ),
    )
    hub.add_argument(
        "--lease-ttl",
        type=settings.lease_ttl,
        default=env,
        metavar="SECONDS",
        help=_from_env("seconds a lease lives after its last heartbeat (default 60)", "lease_ttl"),
    )
    hub.add_argument(
        "--slug-grace",
        type=settings.slug_grace,
        default=env,
        metavar="SECONDS",
        help=_from_env(
            "seconds a stopped tunnel's slug stays reserved for its owner (default 86400)",
            "slug_grace",
        ),
    )
    hub.add_argument(
        "--tcp-ports",
        type=settings.port_range,
        default=env,
        metavar="FIRST-LAST",
        help=_from_env(
            "ports for TCP and UDP tunnels, or 'none' (default 20000-20100)", "tcp_ports"
        ),
    )
    _add_log_level(hub)


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = _command(
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
        help=_from_env("port to listen on; 0 picks a free one (default 8765)", "port"),
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
        help=_from_env(f"{', '.join(settings.LOG_LEVELS)} (default info)", "log_level"),
    )


def _add_token(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    token = _command(commands, "token", "manage API tokens in a hub's store", None)
    actions = token.add_subparsers(title="actions", metavar="ACTION", required=True)
    create = _command(
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
        help=_from_env("the hub's store (default: the hub's default store)", "db"),
    )


# --- client commands -----------------------------------------------------------------------


def _add_client_options(parser: argparse.ArgumentParser, default: str | None) -> None:
    """``--hub`` and ``--token``, accepted before the command and after it.

    After the command they default to ``SUPPRESS``, so they do not overwrite a value given
    before it.
    """
    parser.add_argument(
        "--hub",
        type=settings.hub_url,
        default=default,
        metavar="URL",
        help=_from_env("the hub's URL (default http://127.0.0.1:8765)", "hub"),
    )
    parser.add_argument(
        "--token",
        default=default,
        help=_from_env("your API token (`jupyter-tunnels token create NAME` makes one)", "token"),
    )


def _run_list(args: argparse.Namespace) -> int:
    from ._client_commands import list_command

    return list_command(args)


def _run_info(args: argparse.Namespace) -> int:
    from ._client_commands import info_command

    return info_command(args)


def _run_close(args: argparse.Namespace) -> int:
    from ._client_commands import close_command

    return close_command(args)


def _run_health(args: argparse.Namespace) -> int:
    from ._client_commands import health_command

    return health_command(args)


def _add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = _command(
        commands, "list", "list your tunnels on a hub", _run_list, epilog=CLIENT_EPILOG
    )
    listing.add_argument(
        "--all", action="store_true", help="include stopped and failed tunnels too"
    )
    _add_json(listing, "print the tunnels as JSON")

    info = _command(
        commands, "info", "show one tunnel (by id or slug)", _run_info, epilog=CLIENT_EPILOG
    )
    info.add_argument("id", type=settings.text, metavar="ID", help="the tunnel's id or slug")
    _add_json(info, "print the tunnel as JSON")

    close = _command(
        commands, "close", "close a tunnel (by id or slug)", _run_close, epilog=CLIENT_EPILOG
    )
    close.add_argument("id", type=settings.text, metavar="ID", help="the tunnel's id or slug")

    health = _command(
        commands,
        "health",
        "check that a hub is up",
        _run_health,
        epilog=CLIENT_EPILOG
        + "\nExits with 1 when the hub cannot be reached or reports a problem.",
    )
    _add_json(health, "print the answer as JSON")

    for parser in (listing, info, close, health):
        _add_client_options(parser, default=argparse.SUPPRESS)


def _run_expose(args: argparse.Namespace) -> int:
    from ._expose import expose_command

    return expose_command(args)


def _add_expose(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ._expose import add_arguments  # argparse only: cheap

    expose = _command(
        commands,
        "expose",
        "serve a local port through a tunnel, in the foreground",
        _run_expose,
        epilog=EXPOSE_EPILOG,
    )
    add_arguments(expose)
    _add_client_options(expose, default=argparse.SUPPRESS)


def _add_json(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--json", action="store_true", help=help_text)
