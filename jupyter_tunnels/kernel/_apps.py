"""Apps started by ``%tunnel run`` and :func:`jupyter_tunnels.run`: they live in the kernel.

``run`` picks a free port, exposes it through the kernel's backend (so the tunnel's URL, and
with it the public host and the path prefix, is known), starts the command through its recipe
(:mod:`jupyter_tunnels._core.app_recipes`) with its output in a log file, and waits until the
port answers. An app that exits or stays silent first is stopped and its tunnel closed again,
and the error quotes the log.

The kernel owns the process: closing the tunnel from this kernel (``%tunnel close``,
``ExposedTunnel.close``, ``close_all``) stops it (its whole process group), and so does the
kernel's exit. An app that exits by itself fails its tunnel (``status: failed``, ``lastError``
naming the exit code), seen by ``%tunnel list --all``, the SDK and the panels. At the kernel's
exit its apps' tunnels are closed too; a kernel killed with ``SIGKILL`` leaves its apps
running and their tunnels open. Running ``run`` again with the same name replaces the app (the
old one stops, its tunnel closes, the new one gets the same URL back).
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import logging
import os
import shlex
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._core.app_process import LOG_TAIL_LINES, READY_TIMEOUT, AppProcess, free_port
from .._core.app_recipes import Launch, Placement, RecipeError, prepare
from .._core.models import Tunnel
from ..client import TunnelError
from ._checks import exposure
from ._errors import InvalidArgument, UnknownTunnel

if TYPE_CHECKING:
    from ._backends import Backend

__all__ = ["RunningApp", "app_of", "arun_app", "run_app", "stop_all_apps", "stop_app"]

log = logging.getLogger("jupyter_tunnels.kernel")

LOCAL_HOST = "127.0.0.1"


@dataclasses.dataclass
class RunningApp:
    """An app this kernel started for a tunnel."""

    tunnel_id: str
    tunnel_name: str
    launch: Launch
    process: AppProcess
    backend: Backend
    stopping: bool = False

    def logs(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of its output."""
        return self.process.tail(lines)


_apps: dict[str, RunningApp] = {}
_lock = threading.Lock()


def _command(command: str | Sequence[str]) -> list[str]:
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise InvalidArgument("no command to run: give one, e.g. 'streamlit run app.py'")
    return argv


def _log_path() -> Path:
    return Path(tempfile.mkdtemp(prefix="jupyter-tunnels-run-")) / "app.log"


def _launch(argv: list[str], tunnel: Tunnel, port: int, app: str | None) -> Launch:
    try:
        return prepare(argv, os.environ, Placement(port, tunnel.url), app=app)
    except RecipeError as exc:
        raise InvalidArgument(str(exc)) from None


def run_app(
    backend: Backend,
    command: str | Sequence[str],
    *,
    name: str | None,
    public: bool,
    app: str | None,
    timeout: float,
) -> tuple[Tunnel, RunningApp]:
    """Start ``command`` and expose it (blocking until it answers); see the module."""
    argv = _command(command)
    _replace(backend, name)
    port = free_port(LOCAL_HOST)
    tunnel = backend.expose(exposure(port, name=name, protocol="http", public=public))
    process: AppProcess | None = None
    try:
        launch = _launch(argv, tunnel, port, app)
        process = AppProcess.start(launch.argv, launch.env, _log_path())
        process.wait_listening(LOCAL_HOST, port, timeout)
    except BaseException:
        if process is not None:
            process.stop()
        try:
            with backend.client() as client:
                client.delete(tunnel.id)  # nothing stays exposed
        except TunnelError as exc:  # the app's error is the one to raise
            log.warning("jupyter-tunnels: could not close %s: %s", tunnel.name, exc)
        raise
    return tunnel, _register(tunnel, launch, process, backend)


async def arun_app(
    backend: Backend,
    command: str | Sequence[str],
    *,
    name: str | None,
    public: bool,
    app: str | None,
    timeout: float = READY_TIMEOUT,
) -> tuple[Tunnel, RunningApp]:
    """:func:`run_app` on the running event loop, which keeps running meanwhile."""
    argv = _command(command)
    await asyncio.to_thread(_replace, backend, name)
    port = free_port(LOCAL_HOST)
    tunnel = await backend.aexpose(exposure(port, name=name, protocol="http", public=public))
    process: AppProcess | None = None
    try:
        launch = _launch(argv, tunnel, port, app)
        process = AppProcess.start(launch.argv, launch.env, _log_path())
        await process.await_listening(LOCAL_HOST, port, timeout)
    except BaseException:
        if process is not None:
            await process.astop()
        try:
            async with backend.async_client() as client:
                await client.delete(tunnel.id)
        except TunnelError as exc:
            log.warning("jupyter-tunnels: could not close %s: %s", tunnel.name, exc)
        raise
    return tunnel, _register(tunnel, launch, process, backend)


def _replace(backend: Backend, name: str | None) -> None:
    """Running a cell again replaces its app: stop the one of that name and close its tunnel
    (so the new one gets the same URL), instead of leaving both."""
    with _lock:
        same = [a for a in _apps.values() if name is not None and a.tunnel_name == name]
    for running in same:
        _end(running)


def _end(running: RunningApp) -> None:
    """Stop an app and close its tunnel (best effort: the tunnel may be gone already). An app
    that has ended was stopped with its tunnel, or exited by itself and failed it: its tunnel
    stays as it is."""
    with _lock:
        _apps.pop(running.tunnel_id, None)
    if running.process.returncode is not None:
        return
    running.stopping = True
    running.process.stop()
    try:
        with running.backend.client() as client:
            client.delete(running.tunnel_id)
    except TunnelError as exc:
        log.warning("jupyter-tunnels: could not close %s: %s", running.tunnel_name, exc)


def _at_exit() -> None:
    """The kernel is ending: its apps stop, and their tunnels, useless now, close."""
    with _lock:
        every = list(_apps.values())
    for running in every:
        _end(running)


def _register(tunnel: Tunnel, launch: Launch, process: AppProcess, backend: Backend) -> RunningApp:
    running = RunningApp(tunnel.id, tunnel.name, launch, process, backend)
    with _lock:
        _apps[tunnel.id] = running
    threading.Thread(
        target=_watch, args=(running,), name=f"jupyter-tunnels-app-{tunnel.slug}", daemon=True
    ).start()
    return running


def _watch(running: RunningApp) -> None:
    """Wait for the app's exit; one it was not asked for fails its tunnel."""
    running.process.popen.wait()
    if running.stopping:
        return
    reason = running.process.exit_reason()
    log.warning(
        "jupyter-tunnels: %s: %s; log: %s", running.tunnel_name, reason, running.process.log_path
    )
    try:
        with running.backend.client() as client:
            client.update(running.tunnel_id, status="failed", last_error=reason)
    except TunnelError:  # closed meanwhile, or the server is gone: nothing left to mark
        log.exception("jupyter-tunnels: could not mark %s failed", running.tunnel_name)


def app_of(tunnel_id: str, ref: str) -> RunningApp:
    """The app this kernel started for the tunnel ``tunnel_id`` (named ``ref`` by the user).

    :raises UnknownTunnel: it was not started by ``run`` in this kernel.
    """
    with _lock:
        found = _apps.get(tunnel_id)
    if found is None:
        raise UnknownTunnel(f"tunnel {ref!r} was not started by %tunnel run in this kernel")
    return found


def stop_app(tunnel_id: str) -> None:
    """Stop the app of tunnel ``tunnel_id`` if this kernel started one (blocking, a few
    seconds at most); its log stays readable."""
    with _lock:
        running = _apps.get(tunnel_id)
    if running is not None and running.process.returncode is None:
        running.stopping = True
        running.process.stop()


def stop_all_apps() -> None:
    """Stop every app this kernel started (at exit, and by ``close_all``)."""
    with _lock:
        every = list(_apps)
    for tunnel_id in every:
        stop_app(tunnel_id)


atexit.register(_at_exit)
