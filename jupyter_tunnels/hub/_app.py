"""The hub: store, services, reaper and HTTP rules, mountable under any URL prefix.

``Hub`` is what both hostings share. The standalone server (``_server.py``) serves its rules
at the root of its own port; the Jupyter extension mounts the same rules under
``{base_url}tunnels/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Coroutine
from typing import Any

from sqlalchemy import func, select

from .._core.models import Health, HealthCounts, LeaseStatus, TunnelStatus
from .._core.status import LIVE_STATUSES
from .._core.tasks import TaskSet
from .._version import __version__
from .._wire.protocol import CONTROL_PATH, DATA_PATH, REACH_PATH
from ._config import HubConfig
from .api._base import NotFoundHandler
from .api._control import ControlHandler
from .api._openapi import build_openapi
from .api._routes import OPENAPI_HANDLER, OPENAPI_PATH, ROUTES
from .api._traffic import METRICS_PATH, MetricsHandler
from .ingress._reach_streams import ReachStreamHandler
from .ingress._tornado import DataConnectionHandler, IngressHandler
from .ingress._upstream import UpstreamPool
from .services._agents import AgentRegistry
from .services._deliveries import DeliveryWorker
from .services._leases import LeaseService
from .services._reach import ReachService
from .services._relay_leases import RelayService
from .services._routing import Router
from .services._shares import ShareService
from .services._traffic import TrafficLog
from .services._tunnels import TunnelService
from .services._webhooks import WebhookService
from .store import _tables as t
from .store._clock import now
from .store._engine import Store
from .store._owners import owner_for_token

__all__ = ["Hub"]

log = logging.getLogger("jupyter_tunnels.hub")

_PARAM = re.compile(r"\{(\w+)\}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _pattern(template: str) -> str:
    """``/v1/tunnels/{tunnelId}`` → ``/v1/tunnels/(?P<tunnel_id>[^/]+)``."""
    return _PARAM.sub(lambda m: f"(?P<{_snake(m.group(1))}>[^/]+)", template)


class Hub:
    """One hub: its store, its services and the reaper that expires leases."""

    def __init__(self, config: HubConfig) -> None:
        self.config = config
        self.store = Store(config.db_url)
        self.deliveries = DeliveryWorker(self.store, config)
        self.webhooks = WebhookService(self.store, self.deliveries.wake, config.webhook_hosts)
        self.tunnels = TunnelService(self.store, config, self.webhooks)
        self.leases = LeaseService(self.store, config, self.tunnels, self.webhooks)
        self.relay = RelayService(self.store, config, self.leases, self.tunnels)
        self.router = Router(self.store, config)
        self.shares = ShareService(self.store, config, self.tunnels, self.webhooks, self.router)
        self.agents = AgentRegistry(self.leases.set_connected)
        self.started_at = time.monotonic()
        self.internal_address: str | None = None
        """Unix socket of the tornado application, when a front server sits before it."""
        self._reaper: asyncio.Task[None] | None = None
        self._tasks = TaskSet(log, "hub background task")
        self._openapi: str | None = None
        self.open_visitors = 0
        """Visitor connections the tornado ingress (inside Jupyter) is relaying now."""
        self.store.on_change(self.router.reload)
        self.upstreams = UpstreamPool()
        self.traffic = TrafficLog()
        """Recent requests and counters per tunnel, in memory (``_traffic.py``)."""
        self.router.on_change(
            lambda changes: self.agents.routes_changed(changes, self.router.by_id)
        )
        self.router.on_change(lambda changes: self.upstreams.drop(changes))
        # --- connections (reach) ---
        self.reach = ReachService(self.store, config, self.tunnels, self.router, self.agents)
        self.router.on_change(self.reach.routes_changed)

    async def start(self) -> None:
        """Open the store, load the routes, start the reaper and the webhook worker."""
        await self.store.open()
        await self.leases.reset_connections()
        # leases that ran out while the hub was down end now, before anything is served:
        # their tunnels must not be listed (or routed) as live until the first reaper pass
        await self.leases.expire_due()
        await self.router.load()
        await self.reach.start()
        self.started_at = time.monotonic()
        self._reaper = asyncio.create_task(self._reap_forever(), name="jupyter-tunnels-reaper")
        self.deliveries.start()

    async def stop(self) -> None:
        """Stop the reaper, agent sessions and tasks, and close the store.

        Safe to call when the hub never started.
        """
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        self.upstreams.close()
        await self.reach.stop()
        await self.agents.close()
        await self.router.settle()
        try:
            await self.shares.flush()
        except Exception:
            log.exception("could not save the share links' last access counts")
        await self._tasks.close()
        await self.deliveries.close()
        await self.store.close()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run background work owned by the hub (cancelled on stop; failures logged)."""
        self._tasks.spawn(work)

    async def internal_connection(self) -> asyncio.Transport:
        """A new connection to the hub's own tornado application (API, control channel)."""
        if self.internal_address is None:
            raise RuntimeError("this hub has no internal listener")
        transport, _ = await asyncio.get_running_loop().create_unix_connection(
            asyncio.Protocol, self.internal_address
        )
        return transport

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.reaper_interval)
            try:
                expired = await self.leases.expire_due()
                await self.shares.flush()
            except Exception:
                log.exception("the lease reaper failed; it will try again")
            else:
                if expired:
                    log.info("expired %d lease(s) with no heartbeat", expired)

    def rules(self, prefix: str = "") -> list[tuple[str, Any, dict[str, Any]]]:
        """Tornado rules for the API and the ingress, under ``prefix`` (e.g. ``/tunnels``)."""
        prefix = prefix.rstrip("/")
        kwargs = {"hub": self}
        rules: list[tuple[str, Any, dict[str, Any]]] = [
            (prefix + _pattern(route.path), route.handler, kwargs) for route in ROUTES
        ]
        rules.append((prefix + OPENAPI_PATH, OPENAPI_HANDLER, kwargs))
        rules.append((prefix + CONTROL_PATH, ControlHandler, kwargs))
        rules.append((prefix + DATA_PATH, DataConnectionHandler, kwargs))
        rules.append((prefix + REACH_PATH, ReachStreamHandler, kwargs))
        rules.append((prefix + r"/t/(?P<slug>[^/]+)(?:/.*)?", IngressHandler, kwargs))
        rules.append((prefix + METRICS_PATH, MetricsHandler, kwargs))
        rules.append((prefix + r"/v1/.*", NotFoundHandler, kwargs))
        return rules

    async def owner_for_token(self, token: str) -> str | None:
        """Return the owner of an API token, or None."""
        async with self.store.read() as conn:
            return await owner_for_token(conn, token)

    def openapi_document(self) -> str:
        """The OpenAPI document as JSON text (built once)."""
        if self._openapi is None:
            self._openapi = json.dumps(build_openapi(self.config.base, self.config.tcp_ports))
        return self._openapi

    async def health(self, owner_id: str | None) -> Health:
        """Status, version, uptime, store state and the owner's counts."""
        store = await self.store.health()
        counts = None
        if owner_id is not None and store.status == "ok":
            counts = await self._counts(owner_id)
        return Health(
            status="ok" if store.status == "ok" else "degraded",
            version=__version__,
            uptime_seconds=round(time.monotonic() - self.started_at, 3),
            store=store,
            counts=counts,
        )

    async def _counts(self, owner_id: str) -> HealthCounts:
        live = [s.value for s in LIVE_STATUSES]
        mine = t.tunnels.c.owner_id == owner_id
        current = now()
        active_lease = (
            (t.leases.c.owner_id == owner_id)
            & (t.leases.c.status == LeaseStatus.ACTIVE.value)
            & (t.leases.c.expires_at > current)
        )
        async with self.store.read() as conn:

            async def count(table: Any, condition: Any, column: Any = None) -> int:
                what = func.count(func.distinct(column)) if column is not None else func.count()
                result = await conn.execute(select(what).select_from(table).where(condition))
                return int(result.scalar_one())

            return HealthCounts(
                tunnels=await count(t.tunnels, mine),
                live_tunnels=await count(t.tunnels, mine & t.tunnels.c.status.in_(live)),
                active_tunnels=await count(
                    t.tunnels, mine & (t.tunnels.c.status == TunnelStatus.ACTIVE.value)
                ),
                agents=await count(t.agents, t.agents.c.owner_id == owner_id),
                online_agents=await count(t.leases, active_lease, t.leases.c.agent_id),
                active_leases=await count(t.leases, active_lease),
            )
