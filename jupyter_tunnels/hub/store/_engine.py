"""The hub's store: an async SQLAlchemy engine over SQLite (default) or PostgreSQL.

Everything the hub knows lives here, so a restart loses nothing. SQLite runs in WAL mode with
foreign keys on; writes are serialised through one lock so concurrent requests never meet
``database is locked``. The services (``hub/services/``) hold the SQL; this module only owns the
engine and the transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..._core.models import StoreHealth
from ._tables import metadata, owners

__all__ = ["ChangeListener", "Store", "StoreClosed", "sqlite_url"]

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000
CLOSE_GRACE_SECONDS = 5.0
"""How long :meth:`Store.close` waits for transactions still running (a request that was in
flight when the hub stopped) before it closes the pool anyway."""

ChangeListener = Callable[[frozenset[str]], Awaitable[None]]
"""Called with the ids of the tunnels a committed write changed."""


STORE_DIR_MODE = 0o700
STORE_FILE_MODE = 0o600


def _create_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (SQLite's -wal and -shm files
    take the same mode)."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, STORE_FILE_MODE))


def sqlite_url(path: str | Path) -> str:
    """Return the SQLAlchemy URL of the SQLite file at ``path``."""
    return f"sqlite+aiosqlite:///{Path(path).expanduser().resolve()}"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class StoreClosed(RuntimeError):
    """A transaction was asked of a store that is closing (the hub is stopping)."""


class Store:
    """Owns the database engine; hands out read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.backend = self.url.get_backend_name()
        self._engine: AsyncEngine = create_async_engine(self.url)
        if self.backend == "sqlite":
            event.listen(self._engine.sync_engine, "connect", _on_sqlite_connect)
        self._write_lock = asyncio.Lock()
        self._changes: dict[int, set[str]] = {}
        self._listeners: list[ChangeListener] = []
        self._in_use = 0
        self._unused = asyncio.Event()
        self._unused.set()
        self._closing = False

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for other backends."""
        if self.backend != "sqlite" or not self.url.database:
            return None
        return Path(self.url.database)

    async def open(self) -> None:
        """Create the database file and the tables that are missing (a closed store may be
        opened again)."""
        self._closing = False
        if self.path is not None:
            # tokens are hashed, but names, targets and metadata are nobody else's business
            os.makedirs(self.path.parent, mode=STORE_DIR_MODE, exist_ok=True)
            _create_private(self.path)
        async with self._engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        """Refuse new transactions, let the running ones end, and close every connection.

        A connection is only closed by the pool once it is back in it: disposing while a
        request still holds one (or opening one afterwards) leaves it to the garbage
        collector, after the loop it needs has gone.
        """
        self._closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._unused.wait(), CLOSE_GRACE_SECONDS)
        await self._engine.dispose()

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        """Count a transaction as running, so :meth:`close` can wait for it."""
        if self._closing:
            raise StoreClosed("the hub's store is closed: the hub is stopping")
        self._in_use += 1
        self._unused.clear()
        try:
            yield
        finally:
            self._in_use -= 1
            if not self._in_use:
                self._unused.set()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads; nothing it does is committed."""
        async with self._held(), self._engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends and rolls back if it raises.

        Tunnels marked with :meth:`changed` inside the block are announced to the listeners
        once the transaction has committed (never for a rolled-back one), and the block ends
        only when they are done: the API answers after the ingress has seen the change, so a
        rotated worker token or a paused tunnel takes effect before the caller hears "done".
        """
        changed: set[str] = set()
        async with self._held(), self._write_lock, self._engine.begin() as conn:
            self._changes[id(conn)] = changed
            try:
                yield conn
            finally:
                del self._changes[id(conn)]
        if changed:
            ids = frozenset(changed)
            for listener in self._listeners:
                await listener(ids)

    def changed(self, conn: AsyncConnection, tunnel_ids: Iterable[str]) -> None:
        """Record, inside a :meth:`write` block, that these tunnels' rows changed."""
        self._changes[id(conn)].update(tunnel_ids)

    def on_change(self, listener: ChangeListener) -> None:
        """Await ``listener(tunnel_ids)`` after every committed write that changed tunnels."""
        self._listeners.append(listener)

    async def is_empty(self) -> bool:
        """Tell whether no owner exists yet (a brand-new store)."""
        async with self.read() as conn:
            row = (await conn.execute(select(owners.c.id).limit(1))).first()
        return row is None

    async def health(self) -> StoreHealth:
        """Check that the store answers a query."""
        try:
            async with self.read() as conn:
                await conn.execute(select(1))
        except Exception as exc:
            log.exception("store health check failed")
            return StoreHealth(status="error", backend=self.backend, error=str(exc))
        return StoreHealth(status="ok", backend=self.backend)
