"""The one backend of this process, chosen on first use and kept until :func:`shutdown`.

The choice, made once: the Jupyter server found by :mod:`._discovery`, else a connector in
this kernel against ``JUPYTER_TUNNELS_HUB`` (with ``JUPYTER_TUNNELS_TOKEN``), else a hub
started in this kernel. A fallback is announced with the reason no server was found, so the
user knows their tunnels end with the kernel. The magic and the Python API share the backend,
so ``%tunnel list`` shows what ``jupyter_tunnels.expose`` made.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Callable

from ..client import HUB_URL_ENV, TOKEN_ENV
from ._backends import Backend, LocalBackend, ServerBackend
from ._discovery import Discovery, afind_server, find_server

__all__ = ["acurrent_backend", "chosen_backend", "current_backend", "shutdown"]

Announce = Callable[[str], None]

log = logging.getLogger("jupyter_tunnels.kernel")

_backend: Backend | None = None
_lock = threading.Lock()
"""Guards :data:`_backend`; held while a blocking caller chooses it."""
_loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
"""One lock per event loop for async callers: a thread lock held across an ``await`` would
block the loop of a second coroutine waiting for it."""


def current_backend(announce: Announce | None = None) -> Backend:
    """The process's backend, chosen now if it is the first call (blocking).

    ``announce`` receives the one-line notice of a fallback when this call makes the choice.
    """
    global _backend
    with _lock:
        if _backend is None:
            discovery = find_server()
            if discovery.server is not None:
                _backend = ServerBackend(discovery.server)
            else:
                _backend = LocalBackend.start(*_hub_settings())
                _announce(discovery, _backend, announce)
        return _backend


async def acurrent_backend(announce: Announce | None = None) -> Backend:
    """:func:`current_backend` for async callers: the running loop is never blocked."""
    global _backend
    loop = asyncio.get_running_loop()
    loop_lock = _loop_locks.setdefault(loop, asyncio.Lock())
    async with loop_lock:
        if _backend is not None:
            return _backend
        discovery = await afind_server()
        chosen: Backend
        if discovery.server is not None:
            chosen = ServerBackend(discovery.server)
        else:
            chosen = await LocalBackend.astart(*_hub_settings())
        with _lock:
            if _backend is None:
                _backend = chosen
                if discovery.server is None:
                    _announce(discovery, chosen, announce)
                return chosen
            winner = _backend
        # another thread chose meanwhile: keep its backend, so there is only one
        chosen.close()
        return winner


def chosen_backend() -> Backend | None:
    """The backend if one was chosen, without choosing one."""
    return _backend


def shutdown() -> None:
    """Stop this process's backend (an in-kernel hub and connector end, with their tunnels);
    the next call chooses again. A server's tunnels are left as they are."""
    global _backend
    with _lock:
        backend, _backend = _backend, None
    if backend is not None:
        backend.close()


def _hub_settings() -> tuple[str | None, str | None]:
    hub_url = os.environ.get(HUB_URL_ENV, "").strip() or None
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    return hub_url, token


def _announce(discovery: Discovery, backend: Backend, announce: Announce | None) -> None:
    notice = f"jupyter-tunnels: {discovery.reason}; using {backend.where}"
    if announce is None:  # code, not the magic: a warning is what reaches a person
        log.warning("%s", notice)
    else:
        log.info("%s", notice)
        announce(notice)
