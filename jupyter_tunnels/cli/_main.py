"""The argument parser and :func:`main`: parse, run one command, turn failures into exit codes.

Each command's module is imported only when that command runs, so ``jupyter-tunnels list``
does not load the hub and ``--help`` loads neither.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from . import _settings as settings
from ._connect import add_connect
from ._errors import EXIT_FAILURE, EXIT_INTERRUPTED, CommandError
from ._hub_parsers import add_demo, add_hub, add_token
from ._parsers import Handler, command, from_env
from ._share import add_share

__all__ = ["PROG", "build_parser", "main"]

PROG = "jupyter-tunnels"

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

EXPOSE_EPILOG = """\
examples:
  jupyter-tunnels expose 8050                      a private tunnel to 127.0.0.1:8050
  jupyter-tunnels expose 8050 --public --name demo
  jupyter-tunnels expose 5432 --public             PostgreSQL: a TCP tunnel on a hub port
  URL=$(jupyter-tunnels expose 8050 | head -1)    the URL is stdout's first line

The URL is printed as soon as the tunnel is active; Ctrl-C closes it. The hub is --hub, else
JUPYTER_TUNNELS_HUB, else http://127.0.0.1:8765; the token is --token, else
JUPYTER_TUNNELS_TOKEN."""

RUN_EPILOG = """\
examples:
  jupyter-tunnels run -- streamlit run app.py
  jupyter-tunnels run --name demo --public -- python -m bokeh serve app.py
  jupyter-tunnels run --app dash -- python app.py     a Dash app: its recipe by name

A free port is chosen and given to the app the way it wants it (flags or environment; every
app also gets PORT, HOST, JUPYTER_TUNNELS_PREFIX and JUPYTER_TUNNELS_URL): docs/apps.md has the
recipes. The URL is printed once the app answers; the app's output goes to a log file named on
stderr. Ctrl-C stops the app and closes the tunnel; an app that exits fails its tunnel."""

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
    add_hub(commands)
    add_demo(commands)
    add_token(commands)
    _add_client_commands(commands)
    _add_expose(commands)
    _add_run(commands)
    add_share(
        commands,
        command,
        lambda parser: _add_client_options(parser, default=argparse.SUPPRESS),
    )
    add_connect(  # connections (reach)
        commands,
        command,
        lambda parser: _add_client_options(parser, default=argparse.SUPPRESS),
    )
    return parser


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
        help=from_env("the hub's URL (default http://127.0.0.1:8765)", "hub"),
    )
    parser.add_argument(
        "--token",
        default=default,
        help=from_env("your API token (`jupyter-tunnels token create NAME` makes one)", "token"),
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
    listing = command(
        commands, "list", "list your tunnels on a hub", _run_list, epilog=CLIENT_EPILOG
    )
    listing.add_argument(
        "--all", action="store_true", help="include stopped and failed tunnels too"
    )
    _add_json(listing, "print the tunnels as JSON")

    info = command(
        commands, "info", "show one tunnel (by id or slug)", _run_info, epilog=CLIENT_EPILOG
    )
    info.add_argument("id", type=settings.text, metavar="ID", help="the tunnel's id or slug")
    _add_json(info, "print the tunnel as JSON")

    close = command(
        commands, "close", "close a tunnel (by id or slug)", _run_close, epilog=CLIENT_EPILOG
    )
    close.add_argument("id", type=settings.text, metavar="ID", help="the tunnel's id or slug")

    health = command(
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

    expose = command(
        commands,
        "expose",
        "serve a local port through a tunnel, in the foreground",
        _run_expose,
        epilog=EXPOSE_EPILOG,
    )
    add_arguments(expose)
    _add_client_options(expose, default=argparse.SUPPRESS)


def _run_run(args: argparse.Namespace) -> int:
    from ._run import run_command

    return run_command(args)


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ._run import add_arguments  # argparse only: cheap

    run = command(
        commands,
        "run",
        "start an app and serve it through a tunnel, in the foreground",
        _run_run,
        epilog=RUN_EPILOG,
    )
    _add_client_options(run, default=argparse.SUPPRESS)
    add_arguments(run)  # last: the app's command takes the rest of the line


def _add_json(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--json", action="store_true", help=help_text)
