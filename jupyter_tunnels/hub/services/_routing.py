"""The ingress's view of the store: live tunnels by slug, id and hub port, kept in memory.

Every visitor request is routed and authorised here without touching the database: the table
is loaded at start and reloaded for the tunnels a committed write names (see
``Store.changed``). API tokens presented to private tunnels are checked against the store once
and then remembered for :data:`TOKEN_CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select

from ..._core.models import Access, RelayLeaseStatus, TunnelStatus
from ..._core.status import LIVE_STATUSES
from .._config import HubConfig
from ..store import _tables as t
from ..store._engine import Store
from ..store._owners import hash_token, owner_for_token, tokens_equal
from ._share_rules import ShareRule
from ._tunnel_rows import LIVE_VALUES

__all__ = ["Route", "Router"]

log = logging.getLogger("jupyter_tunnels.hub")

TOKEN_CACHE_SECONDS = 30.0
"""How long the ingress remembers what the store said about an API token (its owner, or that
it is unknown): requests to private tunnels touch the store at most once per token in that
time."""
MAX_OFFLINE = 10_000
"""The most slugs remembered in :attr:`Router.offline`, so that memory stays bounded however
many tunnels end."""


Destination = tuple[str | None, str, int]
"""Where a tunnel's connections lead: the connector's lease id, the target host and port."""


@dataclasses.dataclass(frozen=True)
class Route:
    """A live tunnel as the ingress needs it."""

    tunnel_id: str
    owner_id: str
    slug: str
    protocol: str
    access: Access
    status: TunnelStatus
    lease_id: str | None
    hub_port: int | None
    target_host: str
    target_port: int
    worker_token_hash: str | None

    @property
    def accepting(self) -> bool:
        """Whether new visitor connections are let through (not paused, not stopping)."""
        return self.status not in (TunnelStatus.PAUSED, TunnelStatus.STOPPING)

    @property
    def destination(self) -> Destination:
        """Where a connection opened for this route leads: the connector's lease and the
        target. A kept-alive upstream serves a later request only while this is unchanged
        (a rotation or another connector means new connections)."""
        return (self.lease_id, self.target_host, self.target_port)


RouteListener = Callable[[dict[str, Route | None]], None]


class Router:
    """Live tunnels in memory, and the access rules applied to each visitor request."""

    def __init__(self, store: Store, config: HubConfig) -> None:
        self.store = store
        self.config = config
        self.by_id: dict[str, Route] = {}
        self.by_slug: dict[str, Route] = {}
        self.by_port: dict[int, Route] = {}
        self.offline: dict[str, str] = {}
        """Slugs whose tunnel ended by an error (a lease expired), with the reason: their
        visitors get a 503 saying so rather than a 404 while the owner may come back."""
        self._listeners: list[RouteListener] = []
        self._tokens: dict[str, tuple[str | None, float]] = {}
        self.shares: dict[str, ShareRule] = {}
        """Share rules of live tunnels by token hash (revoked and expired ones too, so their
        visitors hear why)."""
        self._shares_of: dict[str, list[ShareRule]] = {}
        self._reloads: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()
        """Reloads read and apply one at a time, in order, so an older view never wins."""

    def on_change(self, listener: RouteListener) -> None:
        """Call ``listener({tunnel_id: route or None})`` after routes change."""
        self._listeners.append(listener)

    async def load(self) -> None:
        """Load every live tunnel."""
        await self._reload(None)

    def schedule_reload(self, tunnel_ids: frozenset[str]) -> asyncio.Task[None]:
        """Reload these tunnels soon; return the reload's task."""
        task = asyncio.get_running_loop().create_task(self._reload(tunnel_ids))
        self._reloads.add(task)
        task.add_done_callback(self._reload_done)
        return task

    async def reload(self, tunnel_ids: frozenset[str]) -> None:
        """Reload these tunnels and wait until the routes show them (after a committed write).

        A failed reload is logged, not raised: the write it follows has committed. Cancelling
        the caller does not cancel the reload.
        """
        await asyncio.wait({self.schedule_reload(tunnel_ids)})

    def _reload_done(self, task: asyncio.Task[None]) -> None:
        self._reloads.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("reloading routes failed", exc_info=task.exception())

    async def settle(self) -> None:
        """Wait for scheduled reloads (tests and shutdown)."""
        while self._reloads:
            await asyncio.gather(*self._reloads, return_exceptions=True)

    async def _reload(self, tunnel_ids: Iterable[str] | None) -> None:
        query = select(
            t.tunnels.c.id,
            t.tunnels.c.owner_id,
            t.tunnels.c.slug,
            t.tunnels.c.protocol,
            t.tunnels.c.access,
            t.tunnels.c.status,
            t.tunnels.c.lease_id,
            t.tunnels.c.hub_port,
            t.tunnels.c.target_host,
            t.tunnels.c.target_port,
            t.relay_leases.c.worker_token_hash,
            t.tunnels.c.last_error,
        ).select_from(
            t.tunnels.outerjoin(
                t.relay_leases,
                (t.relay_leases.c.tunnel_id == t.tunnels.c.id)
                & (t.relay_leases.c.status == RelayLeaseStatus.ACTIVE.value),
            )
        )
        wanted = None if tunnel_ids is None else set(tunnel_ids)
        if wanted is None:
            query = query.where(t.tunnels.c.status.in_(LIVE_VALUES))
        else:
            query = query.where(t.tunnels.c.id.in_(wanted))
        async with self._reload_lock:
            async with self.store.read() as conn:
                rows = (await conn.execute(query)).all()
                share_rows = (await conn.execute(_share_query(wanted))).all()
            changes: dict[str, Route | None] = dict.fromkeys(wanted or (), None)
            for row in rows:
                loaded = _route(row)
                live = loaded.status in LIVE_STATUSES
                changes[loaded.tunnel_id] = loaded if live else None
                if live:
                    self.offline.pop(loaded.slug, None)
                elif row.last_error and len(self.offline) < MAX_OFFLINE:
                    self.offline[loaded.slug] = row.last_error
            for tunnel_id, route in changes.items():
                self._replace(tunnel_id, route)
            self._replace_shares(changes, share_rows)
            for listener in self._listeners:
                listener(changes)

    def _replace(self, tunnel_id: str, route: Route | None) -> None:
        old = self.by_id.pop(tunnel_id, None)
        if old is not None:
            if self.by_slug.get(old.slug) is old:
                del self.by_slug[old.slug]
            if old.hub_port is not None and self.by_port.get(old.hub_port) is old:
                del self.by_port[old.hub_port]
        if route is not None:
            self.by_id[tunnel_id] = route
            self.by_slug[route.slug] = route
            if route.hub_port is not None:
                self.by_port[route.hub_port] = route

    def _replace_shares(self, changes: dict[str, Route | None], rows: Iterable[Any]) -> None:
        fresh: dict[str, list[ShareRule]] = {}
        for row in rows:
            if changes.get(row.tunnel_id) is not None:
                fresh.setdefault(row.tunnel_id, []).append(_share_rule(row))
        for tunnel_id in changes:
            for old in self._shares_of.pop(tunnel_id, ()):
                self.shares.pop(old.token_hash, None)
                for rule in fresh.get(tunnel_id, ()):
                    if rule.share_id == old.share_id:
                        rule.carry_counters(old)
            if fresh.get(tunnel_id):
                self._shares_of[tunnel_id] = fresh[tunnel_id]
                for rule in fresh[tunnel_id]:
                    self.shares[rule.token_hash] = rule

    def share_for_token(self, token: str) -> ShareRule | None:
        """The share rule of a live tunnel for a share token, or None."""
        return self.shares.get(hash_token(token))

    def share_counters(self) -> list[ShareRule]:
        """Rules with accesses the store has not heard of yet."""
        return [rule for rule in self.shares.values() if rule.unflushed]

    # --- access --------------------------------------------------------------------------

    def cached_owner(self, token: str) -> tuple[bool, str | None]:
        """``(known, owner_id)`` for an API token from the cache, without I/O."""
        cached = self._tokens.get(token)
        if cached is None or cached[1] < time.monotonic():
            return False, None
        return True, cached[0]

    async def owner_for_token(self, token: str) -> str | None:
        """The owner of an API token (from the store, then cached)."""
        known, owner = self.cached_owner(token)
        if known:
            return owner
        async with self.store.read() as conn:
            owner = await owner_for_token(conn, token)
        self._tokens[token] = (owner, time.monotonic() + TOKEN_CACHE_SECONDS)
        return owner

    @staticmethod
    def worker_token_matches(route: Route, token: str) -> bool:
        """Whether ``token`` is the route's current worker token."""
        return route.worker_token_hash is not None and tokens_equal(token, route.worker_token_hash)


def _route(row: Any) -> Route:
    return Route(
        tunnel_id=row.id,
        owner_id=row.owner_id,
        slug=row.slug,
        protocol=row.protocol,
        access=Access(row.access),
        status=TunnelStatus(row.status),
        lease_id=row.lease_id,
        hub_port=row.hub_port,
        target_host=row.target_host,
        target_port=row.target_port,
        worker_token_hash=row.worker_token_hash,
    )


def _share_query(wanted: set[str] | None) -> Any:
    if wanted is not None:
        return select(t.shares).where(t.shares.c.tunnel_id.in_(wanted))
    live = select(t.tunnels.c.id).where(t.tunnels.c.status.in_(LIVE_VALUES))
    return select(t.shares).where(t.shares.c.tunnel_id.in_(live))


def _share_rule(row: Any) -> ShareRule:
    return ShareRule(
        share_id=row.id,
        tunnel_id=row.tunnel_id,
        token_hash=row.token_hash,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
        methods=frozenset(row.allowed_methods) if row.allowed_methods is not None else None,
        rate=row.rate_limit_per_minute,
        path_prefix=row.path_prefix,
    )
