"""Running the hub and the connector: on uvloop when it is installed, else on asyncio.

uvloop (the ``fast`` extra: ``pip install 'jupyter-tunnels[fast]'``) implements the same
event loop API in C over libuv, so accepting, connecting and relaying cost less CPU; how much
that changes each figure is measured side by side in docs/benchmarks.md.
Everything also runs on the standard loop, which stays the default when uvloop is absent;
``JUPYTER_TUNNELS_LOOP=asyncio`` forces it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LOOP_ENV", "loop_name", "run", "run_forever_then_close"]

T = TypeVar("T")

CANCEL_GRACE_SECONDS = 5.0
"""How long :func:`run_forever_then_close` lets cancelled tasks finish."""

LOOP_ENV = "JUPYTER_TUNNELS_LOOP"
"""``asyncio`` to use the standard loop even when uvloop is installed; ``uvloop`` (or unset)
to use uvloop when it is."""


def _uvloop() -> Any:
    choice = os.environ.get(LOOP_ENV, "").strip().lower()
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: what :func:`run` will use."""
    return "uvloop" if _uvloop() is not None else "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new event loop (uvloop when available)."""
    uvloop = _uvloop()
    if uvloop is None:
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result


def run_forever_then_close(loop: asyncio.AbstractEventLoop) -> None:
    """Run ``loop`` until :meth:`~asyncio.AbstractEventLoop.stop`, then end it as
    :func:`asyncio.run` ends its loop: cancel the tasks still pending and let them finish, so
    their ``finally`` blocks close what they hold (sockets, database connections) instead of
    leaving it to the garbage collector; then async generators, the default executor, the loop.

    For a loop living in a thread of its own (a kernel's, a test's).
    """
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            # bounded: a task that ignores cancellation must not keep the thread forever
            loop.run_until_complete(asyncio.wait(pending, timeout=CANCEL_GRACE_SECONDS))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
