"""The in-kernel hub and connector of :class:`~jupyter_tunnels.kernel._backends.LocalBackend`.

They run on an event loop of their own in a daemon thread (:class:`LoopThread`): terminal
IPython has no loop between cells, and a kernel's loop must not be needed to serve visitors
while a cell runs. :func:`boot`, run on that loop, starts a connector against the hub named by
``JUPYTER_TUNNELS_HUB`` or, without one, against a hub started in the kernel on
``127.0.0.1:0`` with a store in a temporary directory.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._core.loop import run_forever_then_close

if TYPE_CHECKING:
    from ..connector import Connector
    from ..hub import HubServer

__all__ = ["START_TIMEOUT", "LoopThread", "Started", "boot"]

T = TypeVar("T")

log = logging.getLogger("jupyter_tunnels.kernel")

START_TIMEOUT = 30.0
"""Seconds the in-kernel hub and connector may take to start, or to stop."""


class LoopThread:
    """An event loop running forever in a daemon thread, to which coroutines are handed."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="jupyter-tunnels", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        run_forever_then_close(self.loop)

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``work`` on the thread's loop."""
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def call(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``work`` on the thread's loop and wait for its result (blocking)."""
        future = self.submit(work)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    async def acall(self, work: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``work`` on the thread's loop; the caller's loop awaits it without blocking."""
        future = self.submit(work)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        finally:
            future.cancel()

    def stop(self) -> None:
        """Stop the loop and wait for the thread to end."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(START_TIMEOUT)


@dataclasses.dataclass(frozen=True)
class Started:
    """What :func:`boot` started."""

    connector: Connector
    hub: HubServer | None
    store_dir: str | None
    hub_url: str
    token: str


async def boot(hub_url: str | None, token: str | None) -> Started:
    """Start a hub when there is no hub URL, then a connector on it; on the thread's loop."""
    from ..connector import Connector
    from ..hub import HubServer

    hub: HubServer | None = None
    store_dir: str | None = None
    if hub_url is None:
        store_dir = tempfile.mkdtemp(prefix="jupyter-tunnels-kernel-")
        try:
            hub = await HubServer.start(Path(store_dir) / "hub.db")
        except BaseException:
            shutil.rmtree(store_dir, ignore_errors=True)
            raise
        hub_url, token = hub.url, _admin_token(hub, token)
    connector = Connector(
        hub_url,
        token,
        # one lease per kernel process: two kernels must never share (and fight over) one
        client_instance_id=f"kernel-{socket.gethostname()}-{os.getpid()}",
        on_event=lambda message: log.info("jupyter-tunnels: %s", message),
    )
    try:
        await connector.start()
    except BaseException:
        await connector.close(release=False)
        if hub is not None:
            await hub.stop()
        if store_dir is not None:
            shutil.rmtree(store_dir, ignore_errors=True)
        raise
    assert token is not None, "the connector started, so it had a token"
    return Started(connector, hub, store_dir, connector.client.hub_url, token)


def _admin_token(hub: HubServer, env_token: str | None) -> str:
    """The in-kernel hub's admin token: written beside its store, or taken from the env."""
    bootstrap = hub.bootstrap
    if bootstrap is not None and bootstrap.token_file is not None:
        return bootstrap.token_file.read_text().strip()
    assert env_token, "a new hub's admin token is in its file or came from the environment"
    return env_token
