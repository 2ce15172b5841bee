"""Run real hubs on 127.0.0.1:0 in a background thread, for tests of every kind.

The hub gets its own event loop in its own thread, so synchronous code (the sync SDK, the CLI
run in-process) and asynchronous tests alike talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from jupyter_tunnels._core.loop import run_forever_then_close
from jupyter_tunnels.hub import HubServer
from jupyter_tunnels.hub.store._owners import create_owner

T = TypeVar("T")

START_TIMEOUT = 30.0


@dataclasses.dataclass
class RunningHub:
    """A hub serving in a background thread."""

    server: HubServer
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    db_path: Path
    token: str
    """The admin token made at first start (or read back on a restart)."""

    @property
    def url(self) -> str:
        """The hub's base URL."""
        return self.server.url

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers for the admin token."""
        return {"Authorization": f"Bearer {self.token}"}

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the hub's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def new_owner(self, name: str) -> str:
        """Create another owner and return its API token."""

        async def make() -> str:
            async with self.server.hub.store.write() as conn:
                return await create_owner(conn, name)

        return self.call(make())

    def stop(self) -> None:
        """Stop the server and its loop, and wait for the thread."""
        if not self.loop.is_closed():
            self.call(self.server.stop())
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(START_TIMEOUT)


def start_hub(db_path: Path, **options: Any) -> RunningHub:
    """Start a hub on ``db_path`` in a new thread; options go to :meth:`HubServer.start`."""
    loop = asyncio.new_event_loop()
    started: concurrent.futures.Future[HubServer] = concurrent.futures.Future()

    def run() -> None:
        async def boot() -> None:
            try:
                started.set_result(await HubServer.start(db_path, **options))
            except BaseException as exc:
                started.set_exception(exc)

        booting = loop.create_task(boot())
        run_forever_then_close(loop)
        del booting

    thread = threading.Thread(target=run, name="test-hub", daemon=True)
    thread.start()
    server = started.result(START_TIMEOUT)
    token_file = db_path.parent / "admin-token"
    token = token_file.read_text().strip() if token_file.exists() else ""
    return RunningHub(server=server, loop=loop, thread=thread, db_path=db_path, token=token)
