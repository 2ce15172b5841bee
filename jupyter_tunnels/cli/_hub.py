"""The hub's own commands: ``hub`` and ``demo`` serve in the foreground; ``token create``.

``hub`` never prints a token. On the first start on an empty store it says where the admin
token was written (``admin-token`` beside the store, mode 0600) or that it came from
``JUPYTER_TUNNELS_TOKEN``; later starts say the store already has owners.

``demo`` is the quick start. It keeps its own store (``$XDG_DATA_HOME/jupyter-tunnels/demo/``
unless ``--db`` says otherwise; it ignores ``JUPYTER_TUNNELS_DB`` so that it never shows the
admin token of a real hub) and prints the token with ready-to-paste commands, since trying the
API is its whole point.

Both serve until Ctrl-C or SIGTERM, then close the server and the store. A second Ctrl-C
interrupts a stop that hangs.

``token create`` writes straight into the store, so it works whether or not a hub is running
on it (SQLite in WAL mode lets both write).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import errno
import logging
import os
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .._core.env import HUB_URL_ENV, TOKEN_ENV
from .._core.loop import loop_name, run
from .._version import __version__
from ..hub import (
    ADMIN_TOKEN_FILE,
    DEFAULT_HEAD_TIMEOUT,
    DEFAULT_HUB_PORT,
    DEFAULT_LEASE_TTL,
    DEFAULT_MAX_UNFINISHED_HEADS,
    DEFAULT_SLUG_GRACE,
    DEFAULT_TCP_PORTS,
    HubServer,
    Store,
    create_owner,
    default_db_path,
    sqlite_url,
)
from . import _settings as settings
from ._errors import CommandError

__all__ = [
    "DEFAULT_HOST",
    "HubSettings",
    "demo_command",
    "demo_db_path",
    "hub_command",
    "token_create_command",
]

DEFAULT_HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
ALL_INTERFACES = ("0.0.0.0", "::", "")
DEMO_OWNER_PREFIX = "demo-"
DEMO_EXAMPLE_PORT = 8050
PRIVILEGED_PORTS = 1024
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

Announce = Callable[[HubServer], Awaitable[None]]
"""Prints what a user needs once the hub is up (and may prepare it, like the demo's token)."""


@dataclasses.dataclass(frozen=True)
class HubSettings:
    """How to run a standalone hub: the options of ``jupyter-tunnels hub``, resolved."""

    db_path: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_HUB_PORT
    domain: str | None = None
    public_url: str | None = None
    lease_ttl: float = DEFAULT_LEASE_TTL
    slug_grace: float = DEFAULT_SLUG_GRACE
    tcp_ports: tuple[int, int] | None = DEFAULT_TCP_PORTS
    head_timeout: float = DEFAULT_HEAD_TIMEOUT
    max_unfinished_heads: int = DEFAULT_MAX_UNFINISHED_HEADS


def demo_db_path() -> Path:
    """``$XDG_DATA_HOME/jupyter-tunnels/demo/hub.db`` (``~/.local/share`` by default)."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "jupyter-tunnels" / "demo" / "hub.db"


# --- commands ------------------------------------------------------------------------------


def hub_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels hub``: run a standalone hub until Ctrl-C."""
    configure_logging(settings.resolve(args, "log_level", settings.log_level, "info"))
    default_tcp_ports: tuple[int, int] | None = DEFAULT_TCP_PORTS
    hub = HubSettings(
        db_path=settings.resolve(args, "db", settings.path, None) or default_db_path(),
        host=settings.resolve(args, "host", settings.text, DEFAULT_HOST),
        port=settings.resolve(args, "port", settings.port, DEFAULT_HUB_PORT),
        domain=settings.resolve(args, "domain", settings.text, None),
        public_url=settings.resolve(args, "public_url", settings.hub_url, None),
        lease_ttl=settings.resolve(args, "lease_ttl", settings.lease_ttl, DEFAULT_LEASE_TTL),
        slug_grace=settings.resolve(args, "slug_grace", settings.slug_grace, DEFAULT_SLUG_GRACE),
        tcp_ports=settings.resolve(args, "tcp_ports", settings.port_range, default_tcp_ports),
        head_timeout=settings.resolve(
            args, "head_timeout", settings.head_timeout, DEFAULT_HEAD_TIMEOUT
        ),
        max_unfinished_heads=settings.resolve(
            args,
            "max_unfinished_heads",
            settings.max_unfinished_heads,
            DEFAULT_MAX_UNFINISHED_HEADS,
        ),
    )
    serve(hub, announce_hub)
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels demo``: run a hub on a demo store and print how to try it."""
    configure_logging(settings.resolve(args, "log_level", settings.log_level, "info"))
    db_path: Path | None = getattr(args, "db", None)  # never JUPYTER_TUNNELS_DB: see above
    # nor JUPYTER_TUNNELS_TOKEN: at a first start the hub would make it the admin token, and
    # the demo prints its admin token (in a shell set up for a real hub, that one's token)
    os.environ.pop(TOKEN_ENV, None)
    demo = HubSettings(
        db_path=db_path or demo_db_path(),
        port=settings.resolve(args, "port", settings.port, DEFAULT_HUB_PORT),
    )
    serve(demo, announce_demo)
    return 0


def token_create_command(args: argparse.Namespace) -> int:
    """``jupyter-tunnels token create NAME``: print a new owner's token, alone, on stdout."""
    db_path: Path = settings.resolve(args, "db", settings.path, None) or default_db_path()
    if not db_path.is_file():
        raise CommandError(
            f"no hub store at {db_path}: start a hub on it first "
            f"(jupyter-tunnels hub --db {shlex.quote(str(db_path))}), or pass --db PATH"
        )
    token = asyncio.run(create_token(db_path, args.name))
    print(token, flush=True)
    print(
        f"created owner {args.name!r} in {db_path}; the token above is shown only this once",
        file=sys.stderr,
    )
    return 0


# --- serving -------------------------------------------------------------------------------


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``; tornado's access log only for failed requests, unless debug."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    if level != "debug":
        logging.getLogger("tornado.access").setLevel(logging.WARNING)


def serve(hub: HubSettings, announce: Announce) -> None:
    """Run a hub in the foreground until Ctrl-C or SIGTERM, then close it."""
    folder = hub.db_path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create the store's folder {folder}: {exc.strerror}") from exc
    run(_serve(hub, announce))
    print("the hub has stopped", file=sys.stderr, flush=True)


async def _serve(hub: HubSettings, announce: Announce) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stopping.set)
    try:
        server = await start_server(hub)
        try:
            await announce(server)
            await stopping.wait()
            print("stopping the hub...", file=sys.stderr, flush=True)
        finally:
            _restore_signals(loop)
            await server.stop()
    finally:
        _restore_signals(loop)


def _restore_signals(loop: asyncio.AbstractEventLoop) -> None:
    """Give Ctrl-C back its default meaning (KeyboardInterrupt), e.g. to cut a slow stop short."""
    for signum in STOP_SIGNALS:
        loop.remove_signal_handler(signum)


async def start_server(hub: HubSettings) -> HubServer:
    """Start the hub; turn the usual failures (port in use, bad store) into one-line errors."""
    try:
        return await HubServer.start(
            hub.db_path,
            host=hub.host,
            port=hub.port,
            domain=hub.domain,
            public_url=hub.public_url,
            lease_ttl=hub.lease_ttl,
            slug_grace=hub.slug_grace,
            tcp_ports=hub.tcp_ports,
            head_timeout=hub.head_timeout,
            max_unfinished_heads=hub.max_unfinished_heads,
        )
    except OSError as exc:
        raise CommandError(_cannot_listen(exc, hub.host, hub.port)) from exc
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot open the store {hub.db_path}: {_database_reason(exc)}") from exc
    except ValueError as exc:  # e.g. JUPYTER_TUNNELS_TOKEN too short for an admin token
        raise CommandError(f"cannot start the hub: {exc}") from exc


def _cannot_listen(error: OSError, host: str, port: int) -> str:
    """Say why the hub could not listen on ``host:port`` and what to do about it."""
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host {host!r} ({error.strerror}): pick another with --host"
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use: pick another with --port"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: pick another with --host"
    if error.errno == errno.EACCES and 0 < port < PRIVILEGED_PORTS:
        return f"port {port} needs administrator rights: pick one above 1023 with --port"
    return f"cannot start the hub on {host}:{port}: {error.strerror or error}"


def _database_reason(error: SQLAlchemyError) -> str:
    """The database's own words, without SQLAlchemy's statement dump and links."""
    if isinstance(error, DBAPIError) and error.orig is not None:
        return str(error.orig)
    return str(error).splitlines()[0]


# --- what the hub and the demo print -------------------------------------------------------


def _print_lines(lines: Iterable[str]) -> None:
    print("\n".join(lines), flush=True)


def _store_path(server: HubServer) -> Path:
    path = server.hub.store.path
    assert path is not None, "the standalone hub keeps its store in a file"
    return path


async def announce_hub(server: HubServer) -> None:
    """Print the API URL, the store and where the admin token is; never the token itself."""
    _print_lines(hub_banner(server))


def hub_banner(server: HubServer) -> list[str]:
    """What ``jupyter-tunnels hub`` prints once it serves."""
    store = _store_path(server)
    lines = [
        f"jupyter-tunnels hub {__version__} is running",
        f"  API:          {server.url}/v1/",
    ]
    listening = f"http://{_url_host(server.host)}:{server.port}"
    if listening != server.url:
        lines.append(f"  listening on: {listening}")
    lines.append(f"  store:        {store}")
    lines.append(f"  event loop:   {loop_name()}")
    bootstrap = server.bootstrap
    if bootstrap is None:
        lines.append(
            "  tokens:       the store already has owners; make a token with "
            f"`jupyter-tunnels token create NAME --db {shlex.quote(str(store))}`"
        )
    elif bootstrap.token_file is None:
        lines.append(f"  admin token:  taken from {TOKEN_ENV} (first start of this store)")
    else:
        token_file = shlex.quote(str(bootstrap.token_file))
        lines += [
            f"  admin token:  written to {bootstrap.token_file}",
            "                (first start of this store; only you can read it; not shown here)",
            "",
            "Use it from this machine:",
            f"  export {HUB_URL_ENV}={server.url}",
            f'  export {TOKEN_ENV}="$(cat {token_file})"',
            "  jupyter-tunnels health",
        ]
    if server.host in ALL_INTERFACES:
        lines.append("Listening on every interface: give others the address with --public-url.")
    lines.append("Stop with Ctrl-C.")
    return lines


async def announce_demo(server: HubServer) -> None:
    """Print a working API URL, the token, and commands to paste."""
    _print_lines(demo_banner(server, await demo_token(server)))


async def demo_token(server: HubServer) -> str:
    """The demo's token: the admin's, or a new owner's when the admin's is not at hand."""
    token_file = _store_path(server).parent / ADMIN_TOKEN_FILE
    saved = await asyncio.to_thread(_read_token, token_file)
    if saved:
        return saved
    # A later start whose token file is gone: a fresh owner still gives a working token.
    async with server.hub.store.write() as conn:
        return await create_owner(conn, DEMO_OWNER_PREFIX + secrets.token_hex(4))


def _read_token(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def demo_banner(server: HubServer, token: str) -> list[str]:
    """What ``jupyter-tunnels demo`` prints: the URL, the token and how to try them."""
    api = f"{server.url}/v1"
    auth = f'-H "Authorization: Bearer {token}"'
    body = f'{{"target": {{"port": {DEMO_EXAMPLE_PORT}}}, "name": "dashboard"}}'
    return [
        f"jupyter-tunnels demo {__version__}: a hub is running on this machine.",
        "",
        f"  API:    {api}/",
        f"  token:  {token}",
        "          (printed because this is a demo; `jupyter-tunnels hub` never prints tokens)",
        f"  store:  {_store_path(server)}",
        "",
        "Try the API from another terminal:",
        "",
        f"  curl {api}/health",
        f"  curl {auth} -H 'Content-Type: application/json' -d '{body}' {api}/tunnels",
        f"  curl {auth} {api}/tunnels",
        "",
        "or the command line:",
        "",
        f"  export {HUB_URL_ENV}={server.url} {TOKEN_ENV}={token}",
        "  jupyter-tunnels list",
        "",
        "or the Python SDK:",
        "",
        "  from jupyter_tunnels import TunnelsClient",
        f'  print(TunnelsClient("{server.url}", token="{token}")'
        f'.create({DEMO_EXAMPLE_PORT}, name="dashboard").url)',
        "",
        "A tunnel made with the API waits in status 'creating' until a connector serves it;",
        "to serve a local port through this hub, in another terminal:",
        f"  jupyter-tunnels expose {DEMO_EXAMPLE_PORT} --hub {server.url} --token {token}",
        "Stop with Ctrl-C.",
    ]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# --- tokens --------------------------------------------------------------------------------


async def create_token(db_path: Path, name: str) -> str:
    """Create the owner ``name`` with an API token in the store at ``db_path``."""
    store = Store(sqlite_url(db_path))
    try:
        await store.open()
        async with store.write() as conn:
            return await create_owner(conn, name)
    except ValueError as exc:
        raise CommandError(f"{exc} in {db_path}: pick another name") from exc
    except SQLAlchemyError as exc:
        raise CommandError(f"cannot open the store {db_path}: {_database_reason(exc)}") from exc
    finally:
        await store.close()
