"""The ``%tunnel`` line magic: ``%load_ext jupyter_tunnels``, then ``%tunnel expose 8050``.

Subcommands are argparse subparsers built with IPython's :class:`MagicArgumentParser`, whose
``error`` raises :class:`UsageError`: a bad argument is one line, never a traceback or an exit.
Errors of the API (an unknown tunnel, a lost server) become one-line usage errors too.

Results are returned, so they display as HTML in a notebook and as stable text in a terminal,
and can be kept (``t = %tunnel expose 8050``). The magic is synchronous code run inside the
kernel's loop, so it uses the blocking paths of :mod:`._api` (one short request to the server,
or a wait on the in-kernel connector's own thread); code that must not pause the kernel's loop
uses ``await jupyter_tunnels.aexpose(...)`` instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import MagicArgumentParser

from .._core.app_process import READY_TIMEOUT
from .._core.app_recipes import RECIPES
from .._core.share_text import EXPIRATIONS
from ..client import TransportError, TunnelError
from . import _api, _reach
from . import _magic_arguments as arguments
from ._apps import app_of
from ._checks import PROTOCOLS, check_listening
from ._display import ExposedTunnel, TunnelDetails, TunnelList
from ._errors import PortNotListening
from ._request_log import RequestLog
from ._session import chosen_backend, current_backend
from ._shares import SharedLink, ShareList

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = [
    "MAGIC_NAME",
    "PANEL_INTERVAL",
    "USAGE",
    "CommandLine",
    "TunnelMagics",
    "build_parser",
    "load",
    "unload",
]

MAGIC_NAME = "tunnel"
PANEL_INTERVAL = 2.0
"""Seconds between two refreshes of ``%tunnel panel``."""
HELP_HINT = "see %tunnel help"


@dataclasses.dataclass(frozen=True)
class CommandLine:
    """The parser of ``%tunnel`` and, per subcommand, its parser and what it does."""

    parser: MagicArgumentParser
    commands: dict[str, tuple[MagicArgumentParser, str]]

    def usage(self) -> str:
        """Every subcommand's synopsis and what it does, generated from the parsers."""
        lines = ["Usage: %tunnel COMMAND [options]", ""]
        for subparser, what in self.commands.values():
            synopsis = " ".join(subparser.format_usage().removeprefix("usage: ").split())
            lines += [f"  {synopsis}", f"      {what}"]
        lines += [
            "",
            "Examples: t = %tunnel expose 8050 --name dash   %tunnel list   %tunnel close dash",
            "Docs: docs/kernel.md; the same from code: jupyter_tunnels.expose(8050)",
        ]
        return "\n".join(lines)


def build_parser() -> CommandLine:
    """The parser of ``%tunnel``: one subparser per subcommand."""
    parser = MagicArgumentParser(  # type: ignore[no-untyped-call]  # IPython leaves it untyped
        prog="%tunnel", description="Expose local ports as tunnels."
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=MagicArgumentParser
    )
    commands: dict[str, tuple[MagicArgumentParser, str]] = {}

    def command(name: str, what: str) -> MagicArgumentParser:
        # IPython's default help formatter adds reST markup meant for docstrings
        subparser = subparsers.add_parser(name, help=what, formatter_class=argparse.HelpFormatter)
        commands[name] = (subparser, what)
        return subparser

    expose = command("expose", "expose PORT; returns the tunnel")
    expose.add_argument("port", type=arguments.port, metavar="PORT", help="the local port")
    expose.add_argument(
        "--name", type=arguments.name, help="1 to 100 characters, also the URL's slug"
    )
    expose.add_argument("--protocol", choices=PROTOCOLS, default="auto", help="default: auto")
    expose.add_argument("--host", default="127.0.0.1", help="the local host (127.0.0.1)")
    expose.add_argument("--public", action="store_true", help="anyone with the URL may use it")
    expose.add_argument(
        "--no-check", dest="check", action="store_false", help="expose even if nothing listens"
    )

    run = command("run", "start an app on a free port and expose it: run [options] -- COMMAND")
    run.add_argument("--name", type=arguments.name, help="1 to 100 characters, also the URL's slug")
    run.add_argument("--public", action="store_true", help="anyone with the URL may use it")
    run.add_argument("--app", choices=sorted(RECIPES), help="the recipe (default: from COMMAND)")
    run.add_argument(
        "--timeout",
        type=arguments.seconds,
        default=READY_TIMEOUT,
        help="seconds it may take to listen",
    )
    run.add_argument("app_command", nargs=argparse.REMAINDER, metavar="COMMAND", help="after --")

    logs = command("logs", "the last lines of the output of the app %tunnel run started")
    logs.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")
    logs.add_argument("--lines", type=arguments.limit, default=40, help="at most this many (40)")

    listing = command("list", "the live tunnels, sorted by name")
    listing.add_argument("--all", action="store_true", help="stopped and failed ones too")

    info = command("info", "every field of one tunnel")
    info.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")

    close = command("close", "close NAME, or every live tunnel with --all")
    which = close.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", metavar="NAME", help="a tunnel's name, slug or id")
    which.add_argument("--all", action="store_true", help="close every live tunnel")

    for verb, what in (("pause", "refuse new visitors (503)"), ("resume", "let visitors in")):
        command(verb, what).add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")

    rotate = command("rotate", "point NAME at another PORT; the URL stays")
    rotate.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")
    rotate.add_argument("port", type=arguments.port, metavar="PORT", help="the new local port")
    rotate.add_argument("--host", help="the new local host (default: the current one)")
    rotate.add_argument(
        "--no-check", dest="check", action="store_false", help="rotate even if nothing listens"
    )

    log = command("log", "NAME's recent requests and counters")
    log.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")
    log.add_argument("--limit", type=arguments.limit, default=20, help="at most this many (20)")

    share = command("share", "a share link to NAME, for people without an account")
    share.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")
    share.add_argument("--expires", choices=EXPIRATIONS, default="24h", help="default: 24h")
    share.add_argument("--methods", type=arguments.methods, help="e.g. GET,HEAD (default: any)")
    share.add_argument("--rate", type=arguments.rate, help="requests a minute, 1 to 1000")
    share.add_argument("--path", help="only paths under this prefix, e.g. /api")
    share.add_argument("--label", default="link", help="the share's name (default: link)")

    shares = command("shares", "NAME's share links and how often each was used")
    shares.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")

    unshare = command("unshare", "revoke the share link SHARE_ID at once")
    unshare.add_argument("share_id", metavar="SHARE_ID", help="the id %tunnel share printed")

    # --- connections (reach) ---
    connect = command("connect", "reach tunnel NAME as a local port of this server")
    connect.add_argument("name", metavar="NAME", help="a tunnel's name, slug or id")
    connect.add_argument(
        "--port", type=arguments.port, help="the local port (default: any free one)"
    )
    connect.add_argument("--share-token", help="a share token, to reach someone else's tunnel")
    disconnect = command("disconnect", "release the port(s) of a connection or of tunnel NAME")
    disconnect.add_argument("name", metavar="NAME", help="a connection id, or a tunnel's name")
    command("connections", "the open connections (reached tunnels)")
    # --- end connections ---
    command("panel", "a live widget listing the tunnels")
    command("help", "this help")
    return CommandLine(parser, commands)


LineMagic = Callable[[Any, str], object]
# IPython types ``line_magic(name)`` as "a decorator or a function"; called with a name, it is
# the decorator
_tunnel_magic = cast(Callable[[LineMagic], LineMagic], line_magic(MAGIC_NAME))
_COMMAND_LINE = build_parser()
_PARSER = _COMMAND_LINE.parser
USAGE = _COMMAND_LINE.usage()


def _say(text: str) -> None:
    """Text for the person at the notebook or terminal (a magic's output is its interface)."""
    print(text)  # noqa: T201


@magics_class
class TunnelMagics(Magics):
    """The ``%tunnel`` magic; registered by ``%load_ext jupyter_tunnels``."""

    @_tunnel_magic
    def tunnel(self, line: str) -> object:
        """Expose local ports as tunnels; ``%tunnel help`` lists the subcommands."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot read {line!r}: {exc}; {HELP_HINT}") from None
        if not words or words == ["help"]:
            _say(USAGE)
            return None
        try:
            args = _PARSER.parse_args(words)
        except UsageError as exc:
            raise UsageError(f"{exc}; {HELP_HINT}") from None
        try:
            if args.command == "expose" and args.check:  # before any server or hub is involved
                check_listening(args.host, args.port, args.protocol)
            current_backend(_say)  # says which hub it is when it has to fall back
            return _COMMANDS[args.command](args)
        except PortNotListening as exc:
            raise UsageError(
                f"nothing listens on {exc.host}:{exc.port}: start your app first, "
                "or pass --no-check"
            ) from None
        except TransportError as exc:
            backend = chosen_backend()
            cause = exc.__cause__ or exc
            reason = exc if backend is None else f"cannot reach {backend.where} ({cause})"
            raise UsageError(_one_line(str(reason))) from None
        except TunnelError as exc:
            raise UsageError(_one_line(str(exc))) from None


def _expose(args: argparse.Namespace) -> ExposedTunnel:
    return _api.expose(
        args.port,
        host=args.host,
        name=args.name,
        protocol=args.protocol,
        public=args.public,
        check=False,  # checked before the backend was chosen
    )


def _run(args: argparse.Namespace) -> ExposedTunnel:
    words = args.app_command
    command = words[1:] if words[:1] == ["--"] else words
    if not command:
        raise UsageError(
            f"no command to run: e.g. %tunnel run -- streamlit run app.py; {HELP_HINT}"
        )
    return _api.run(command, name=args.name, public=args.public, app=args.app, timeout=args.timeout)


def _logs(args: argparse.Namespace) -> None:
    found = _api.tunnel(args.name, include_inactive=True)
    running = app_of(found.id, args.name)
    where = f"{running.process.command} (log: {running.process.log_path})"
    _say(f"{where}\n{running.logs(args.lines) or '(no output yet)'}")


def _list(args: argparse.Namespace) -> TunnelList:
    return _api.tunnels(include_inactive=args.all)


def _info(args: argparse.Namespace) -> TunnelDetails:
    return TunnelDetails(_api.tunnel(args.name, include_inactive=True))


def _close(args: argparse.Namespace) -> ExposedTunnel | TunnelList:
    if args.all:
        return _api.close_all()
    return _api.tunnel(args.name).close()


def _pause(args: argparse.Namespace) -> ExposedTunnel:
    return _api.tunnel(args.name).pause()


def _resume(args: argparse.Namespace) -> ExposedTunnel:
    return _api.tunnel(args.name).resume()


def _rotate(args: argparse.Namespace) -> ExposedTunnel:
    return _api.tunnel(args.name).rotate(args.port, host=args.host, check=args.check)


def _log(args: argparse.Namespace) -> RequestLog:
    found = _api.tunnel(args.name, include_inactive=True)
    with current_backend().client() as client:
        entries = client.tunnel_requests(found.id, limit=args.limit)
        metrics = client.tunnel_metrics(found.id)
    return RequestLog(found.name, entries, metrics)


def _share(args: argparse.Namespace) -> SharedLink:
    return _api.tunnel(args.name).share(
        args.label, expiration=args.expires, methods=args.methods, rate=args.rate, path=args.path
    )


def _shares(args: argparse.Namespace) -> ShareList:
    return _api.tunnel(args.name, include_inactive=True).shares()


def _unshare(args: argparse.Namespace) -> None:
    with current_backend().client() as client:
        share = client.revoke_share(args.share_id)
    _say(f"revoked {share.name!r}: its link no longer works")
    return None


def _panel(args: argparse.Namespace) -> Any:
    from ._panel import TunnelPanel  # ipywidgets is imported only when a panel is wanted

    backend = current_backend()
    panel = TunnelPanel(backend.async_client, interval=PANEL_INTERVAL, origin_of=backend.origin_url)
    panel.start()
    return panel


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- connections (reach) ---


def _connect(args: argparse.Namespace) -> _reach.ReachedPort:
    return _reach.connect(args.name, port=args.port, share_token=args.share_token)


def _disconnect(args: argparse.Namespace) -> None:
    closed = _reach.disconnect(args.name)
    released = ", ".join(f"{c.local_host}:{c.local_port}" for c in closed)
    _say(f"released {released}" if closed else f"no open connection to {args.name}")


def _connections(args: argparse.Namespace) -> None:
    found = _reach.connections()
    lines = [f"{c.connection_string or c.address}  {c.status.value}  {c.id}" for c in found]
    _say("\n".join(lines) or "no open connection")


# --- end connections ---

TunnelMagics.tunnel.__doc__ = f"Expose local ports as tunnels.\n\n{USAGE}"

_COMMANDS = {
    "expose": _expose,
    "run": _run,
    "logs": _logs,
    "list": _list,
    "info": _info,
    "close": _close,
    "pause": _pause,
    "resume": _resume,
    "rotate": _rotate,
    "log": _log,
    "share": _share,
    "shares": _shares,
    "unshare": _unshare,
    "panel": _panel,
    "connect": _connect,  # connections (reach)
    "disconnect": _disconnect,
    "connections": _connections,
}


def load(ipython: InteractiveShell) -> None:
    """Register ``%tunnel`` (``%load_ext jupyter_tunnels``); loading twice is harmless."""
    ipython.register_magics(TunnelMagics)


def unload(ipython: InteractiveShell) -> None:
    """Remove ``%tunnel`` (``%unload_ext``).

    The backend stays: tunnels made from code share it, and a ``%reload_ext`` must not end
    the tunnels of an in-kernel hub. :func:`jupyter_tunnels.kernel.shutdown` stops it.
    """
    manager = ipython.magics_manager
    manager.magics["line"].pop(MAGIC_NAME, None)
    manager.registry.pop(TunnelMagics.__name__, None)
