"""The Python API of the kernel side: what ``%tunnel`` does, callable from code.

::

    import jupyter_tunnels

    t = jupyter_tunnels.expose(8050)             # blocking: scripts, terminal IPython, cells
    t = await jupyter_tunnels.aexpose(8050)      # asyncio: the kernel's loop keeps running

The blocking functions use the blocking SDK client (or, for a connector in the kernel, wait
for its own thread's loop); the ``a``-prefixed ones use the asyncio SDK client on the caller's
running loop. None of them calls ``asyncio.run`` or nests event loops, so both work inside
Jupyter. Bad arguments, a port nobody listens on and unknown names raise a
:class:`~jupyter_tunnels.TunnelError` subclass before anything is changed.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from collections.abc import Sequence

from .._core.app_process import READY_TIMEOUT
from .._core.models import Tunnel
from .._core.status import LIVE_STATUSES
from ..client import AsyncTunnelsClient, NotFound, TunnelsClient
from ._apps import arun_app, run_app, stop_all_apps
from ._backends import Backend
from ._checks import acheck_listening, check_listening, exposure
from ._display import ExposedTunnel, TunnelList
from ._errors import AmbiguousName, UnknownTunnel
from ._session import acurrent_backend, current_backend

__all__ = [
    "Connection",
    "aclose_all",
    "aconnection",
    "aexpose",
    "arun",
    "atunnel",
    "atunnels",
    "close_all",
    "connection",
    "expose",
    "run",
    "tunnel",
    "tunnels",
]


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where this kernel's tunnels live, and the SDK's coordinates for them.

    ``TunnelsClient(conn.hub_url, conn.token)`` scripts them with the full SDK; ``token`` is
    also what a private tunnel of an in-kernel hub wants (``Authorization: Bearer ...``).
    """

    mode: str
    """``server``, ``hub`` (``JUPYTER_TUNNELS_HUB``) or ``in-process``."""
    where: str
    """One line naming the server or hub."""
    hub_url: str
    token: str = dataclasses.field(repr=False)


def connection() -> Connection:
    """Where the tunnels live (choosing it now if nothing has yet)."""
    return _connection(current_backend())


async def aconnection() -> Connection:
    """:func:`connection` on the running event loop."""
    return _connection(await acurrent_backend())


def _connection(backend: Backend) -> Connection:
    return Connection(backend.mode, backend.where, backend.hub_url, backend.token)


def expose(
    port: int,
    *,
    host: str = "127.0.0.1",
    name: str | None = None,
    protocol: str = "auto",
    public: bool = False,
    check: bool = True,
) -> ExposedTunnel:
    """Expose a local port through a tunnel and return it; the same port again returns the
    same tunnel.

    The tunnel belongs to this kernel's Jupyter server when it has the jupyter_tunnels
    extension (it then outlives the kernel); otherwise to a connector in this kernel (see
    docs/kernel.md).

    :param port: the local port, 1 to 65535.
    :param host: the local host (loopback unless the connector allows more).
    :param name: 1 to 100 characters, also the URL's slug; named after the port when omitted.
    :param protocol: ``auto`` (from the port), ``http``, ``https``, ``tcp`` or ``udp``.
    :param public: anyone with the URL may use it (default: only you).
    :param check: first make sure something listens on ``host:port``.
    :raises InvalidArgument: a bad port, name or protocol.
    :raises PortNotListening: nothing listens there (and ``check`` is on).
    """
    spec = exposure(port, host=host, name=name, protocol=protocol, public=public)
    if check:
        check_listening(spec.host, spec.port, spec.protocol)
    backend = current_backend()
    return ExposedTunnel(backend.expose(spec), backend)


async def aexpose(
    port: int,
    *,
    host: str = "127.0.0.1",
    name: str | None = None,
    protocol: str = "auto",
    public: bool = False,
    check: bool = True,
) -> ExposedTunnel:
    """:func:`expose` on the running event loop, which keeps running meanwhile."""
    spec = exposure(port, host=host, name=name, protocol=protocol, public=public)
    if check:
        await acheck_listening(spec.host, spec.port, spec.protocol)
    backend = await acurrent_backend()
    return ExposedTunnel(await backend.aexpose(spec), backend)


def run(
    command: str | Sequence[str],
    *,
    name: str | None = None,
    public: bool = False,
    app: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> ExposedTunnel:
    """Start a web app on a free port and expose it, in one step; returns its tunnel.

    ``run("streamlit run app.py")`` starts the command with the port and the base path set the
    way that app wants them (docs/apps.md has the recipes; an app not in the table gets
    ``PORT``, ``HOST``, ``JUPYTER_TUNNELS_PREFIX`` and ``JUPYTER_TUNNELS_URL`` in its
    environment), waits until it answers, and returns the tunnel. The app's output goes to a
    log file (``%tunnel logs NAME``). This kernel owns the process: closing the tunnel from here
    stops it, and so does the kernel's exit; an app that exits by itself fails its tunnel.

    :param command: a command line (split like a shell) or its words.
    :param name: the tunnel's name; named after the port when omitted.
    :param public: anyone with the URL may use it (default: only you).
    :param app: a recipe's name, for a command it cannot be told from (``python app.py`` of a
        Dash or Gradio app).
    :param timeout: seconds the app may take to listen.
    :raises InvalidArgument: no command, a bad name or an unknown recipe.
    :raises AppFailed: the program cannot be run, exited, or did not listen in time (the
        message quotes its log); nothing is left running or exposed.
    """
    backend = current_backend()
    tunnel, _ = run_app(backend, command, name=name, public=public, app=app, timeout=timeout)
    return ExposedTunnel(tunnel, backend)


async def arun(
    command: str | Sequence[str],
    *,
    name: str | None = None,
    public: bool = False,
    app: str | None = None,
    timeout: float = READY_TIMEOUT,
) -> ExposedTunnel:
    """:func:`run` on the running event loop, which keeps running meanwhile."""
    backend = await acurrent_backend()
    tunnel, _ = await arun_app(backend, command, name=name, public=public, app=app, timeout=timeout)
    return ExposedTunnel(tunnel, backend)


def tunnels(*, include_inactive: bool = False) -> TunnelList:
    """The live tunnels, sorted by name; with ``include_inactive``, stopped ones too."""
    backend = current_backend()
    with backend.client() as client:
        found = client.list(include_inactive=include_inactive)
    return TunnelList((ExposedTunnel(t, backend) for t in found), include_inactive=include_inactive)


async def atunnels(*, include_inactive: bool = False) -> TunnelList:
    """:func:`tunnels` on the running event loop."""
    backend = await acurrent_backend()
    async with backend.async_client() as client:
        found = await client.list(include_inactive=include_inactive)
    return TunnelList((ExposedTunnel(t, backend) for t in found), include_inactive=include_inactive)


def tunnel(ref: str, *, include_inactive: bool = False) -> ExposedTunnel:
    """One tunnel by name (or slug, or id).

    A name is looked up among the live tunnels; several live tunnels of that name raise
    :class:`AmbiguousName`. With ``include_inactive``, a stopped tunnel is found too.

    :raises UnknownTunnel: no such tunnel.
    """
    backend = current_backend()
    with backend.client() as client:
        return ExposedTunnel(_resolve(client, ref, include_inactive), backend)


async def atunnel(ref: str, *, include_inactive: bool = False) -> ExposedTunnel:
    """:func:`tunnel` on the running event loop."""
    backend = await acurrent_backend()
    async with backend.async_client() as client:
        return ExposedTunnel(await _aresolve(client, ref, include_inactive), backend)


def close_all() -> TunnelList:
    """Close every live tunnel (and stop the apps ``run`` started); returns them, stopped."""
    stop_all_apps()
    backend = current_backend()
    with backend.client() as client:
        closed = [client.delete(t.id) for t in client.list()]
    return _closed(closed, backend)


async def aclose_all() -> TunnelList:
    """:func:`close_all` on the running event loop."""
    await asyncio.to_thread(stop_all_apps)
    backend = await acurrent_backend()
    async with backend.async_client() as client:
        closed = [await client.delete(t.id) for t in await client.list()]
    return _closed(closed, backend)


def _closed(closed: builtins.list[Tunnel], backend: Backend) -> TunnelList:
    return TunnelList((ExposedTunnel(t, backend) for t in closed), include_inactive=True)


def _resolve(client: TunnelsClient, ref: str, include_inactive: bool) -> Tunnel:
    named = _by_name(client.list(), ref)
    if named is not None:
        return named
    try:
        return _usable(client.get(ref), ref, include_inactive)
    except NotFound:
        pass
    if include_inactive:
        return _newest(client.list(include_inactive=True), ref)
    raise _unknown(ref)


async def _aresolve(client: AsyncTunnelsClient, ref: str, include_inactive: bool) -> Tunnel:
    named = _by_name(await client.list(), ref)
    if named is not None:
        return named
    try:
        return _usable(await client.get(ref), ref, include_inactive)
    except NotFound:
        pass
    if include_inactive:
        return _newest(await client.list(include_inactive=True), ref)
    raise _unknown(ref)


def _by_name(live: builtins.list[Tunnel], ref: str) -> Tunnel | None:
    """The live tunnel named ``ref``, None if there is none; several are an error."""
    named = [t for t in live if t.name == ref]
    if len(named) > 1:
        slugs = ", ".join(sorted(t.slug for t in named))
        raise AmbiguousName(f"{len(named)} live tunnels are named {ref!r}: use a slug ({slugs})")
    return named[0] if named else None


def _usable(found: Tunnel, ref: str, include_inactive: bool) -> Tunnel:
    """A tunnel found by slug or id, if it is live or stopped ones are wanted."""
    if include_inactive or found.status in LIVE_STATUSES:
        return found
    raise UnknownTunnel(f"tunnel {ref!r} is {found.status.value}: only live tunnels qualify here")


def _newest(every: builtins.list[Tunnel], ref: str) -> Tunnel:
    named = [t for t in every if t.name == ref]
    if not named:
        raise _unknown(ref)
    return max(named, key=lambda t: t.updated_at)


def _unknown(ref: str) -> UnknownTunnel:
    return UnknownTunnel(f"no tunnel is named {ref!r} (nor has it as slug or id): see %tunnel list")
