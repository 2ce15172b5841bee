"""The hub's composition root: it builds the services, the API's tornado rules and the ingress.

``Hub`` is what both hostings share. The standalone server (``_server.py``) serves its rules
on a private socket behind the front; the Jupyter extension mounts the same rules under
``{base_url}tunnels/``. Each hosting asks :meth:`Hub.ingress` for its ingress: the one policy,
with the hosting's identities, dialer and way back to the hub's host.

Handlers receive the services they need, by name: the parameters of a handler's
``initialize`` (``tunnels``, ``leases``, ...) are looked up in :meth:`Hub.services`, so a
handler states its dependencies in its signature and never sees the hub itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import re
from typing import Any

from .._core.tasks import TaskSet
from .._wire.protocol import CONTROL_PATH, REACH_PATH
from ._config import HubConfig
from .api._base import NotFoundHandler
from .api._control import ControlHandler
from .api._openapi import OpenApiDocument
from .api._routes import OPENAPI_HANDLER, OPENAPI_PATH, ROUTES
from .api._traffic import METRICS_PATH, MetricsHandler
from .ingress._dialers import AgentDialer, Dialer
from .ingress._engine import HubSide, Ingress
from .ingress._policy import BearerOwners, Identities, IngressPolicy, PolicySettings
from .ingress._reach_streams import ReachStreamHandler
from .ingress._upstream import UpstreamPool
from .services._agents import AgentRegistry
from .services._deliveries import DeliveryWorker
from .services._health import HealthService
from .services._leases import LeaseService
from .services._owners import OwnerService
from .services._reach import ReachService
from .services._relay_leases import RelayService
from .services._routing import Router
from .services._shares import ShareService
from .services._traffic import TrafficLog
from .services._tunnels import TunnelService
from .services._webhooks import WebhookService
from .store._engine import Store

__all__ = ["Hub", "Rule"]

log = logging.getLogger("jupyter_tunnels.hub")

Rule = tuple[str, Any, dict[str, Any]]
"""A tornado rule: pattern, handler class, the handler's ``initialize`` arguments."""
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
        self.tasks = TaskSet(log, "hub background task")
        self.deliveries = DeliveryWorker(self.store, config)
        self.webhooks = WebhookService(self.store, self.deliveries.wake, config.webhook_hosts)
        self.tunnels = TunnelService(self.store, config, self.webhooks)
        self.leases = LeaseService(self.store, config, self.tunnels, self.webhooks)
        self.relay = RelayService(self.store, config, self.leases, self.tunnels)
        self.router = Router(self.store, config)
        self.shares = ShareService(self.store, config, self.tunnels, self.webhooks, self.router)
        self.agents = AgentRegistry(self.leases.set_connected)
        self.owners = OwnerService(self.store)
        self.health = HealthService(self.store)
        self.traffic = TrafficLog()
        """Recent requests and counters per tunnel, in memory (``services/_traffic.py``)."""
        self.reach = ReachService(self.store, config, self.tunnels, self.router, self.agents)
        self.openapi = OpenApiDocument(config.base, config.tcp_ports)
        self.dialer: Dialer = AgentDialer(self.agents)
        """How the hub reaches tunnels' targets (a hosting may set its own before
        :meth:`rules` and :meth:`ingress`)."""
        self._reaper: asyncio.Task[None] | None = None
        self._pools: list[UpstreamPool] = []
        self.store.on_change(self.router.reload)
        self.router.on_change(
            lambda changes: self.agents.routes_changed(changes, self.router.by_id)
        )
        self.router.on_change(self.reach.routes_changed)

    def services(self) -> dict[str, Any]:
        """The services handlers may ask for, by the name of their ``initialize`` parameter."""
        return {
            "config": self.config,
            "owners": self.owners,
            "health": self.health,
            "openapi": self.openapi,
            "tunnels": self.tunnels,
            "leases": self.leases,
            "relay": self.relay,
            "shares": self.shares,
            "webhooks": self.webhooks,
            "reach": self.reach,
            "traffic": self.traffic,
            "router": self.router,
            "agents": self.agents,
            "dialer": self.dialer,
            "tasks": self.tasks,
        }

    def set_public_url(self, public_url: str) -> None:
        """Serve at another public URL (a Jupyter server that moved to another port after
        its rules were built): every service gets the new configuration."""
        config = dataclasses.replace(self.config, public_url=public_url)
        self.config = config
        self.tunnels.config = config
        self.leases.config = config
        self.relay.config = config
        self.router.config = config
        self.shares.config = config
        self.reach.config = config
        self.deliveries.config = config
        self.openapi.server_url = config.base

    async def start(self) -> None:
        """Open the store, load the routes, start the reaper and the webhook worker."""
        await self.store.open()
        await self.leases.reset_connections()
        # leases that ran out while the hub was down end now, before anything is served:
        # their tunnels must not be listed (or routed) as live until the first reaper pass
        await self.leases.expire_due()
        await self.router.load()
        await self.reach.start()
        self.health.started()
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
        for pool in self._pools:
            pool.close()
        await self.reach.stop()
        await self.agents.close()
        await self.router.settle()
        try:
            await self.shares.flush()
        except Exception:
            log.exception("could not save the share links' last access counts")
        await self.tasks.close()
        await self.deliveries.close()
        await self.store.close()

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

    # --- what the hostings serve ---------------------------------------------------------

    def rules(self, prefix: str = "") -> list[Rule]:
        """Tornado rules for the API, the control channel and reach streams, under ``prefix``
        (e.g. ``/tunnels``). Tunnel traffic is the ingress's (:meth:`ingress`)."""
        prefix = prefix.rstrip("/")
        handlers: list[tuple[str, Any]] = [
            (_pattern(route.path), route.handler) for route in ROUTES
        ]
        handlers += [
            (OPENAPI_PATH, OPENAPI_HANDLER),
            (CONTROL_PATH, ControlHandler),
            (REACH_PATH, ReachStreamHandler),
            (METRICS_PATH, MetricsHandler),
            (r"/v1/.*", NotFoundHandler),
        ]
        return [(prefix + path, handler, self.arguments_for(handler)) for path, handler in handlers]

    def arguments_for(self, handler: type[Any]) -> dict[str, Any]:
        """The services a handler's ``initialize`` names, as its route's arguments."""
        services = self.services()
        names = list(inspect.signature(handler.initialize).parameters)[1:]
        unknown = [name for name in names if name not in services]
        if unknown:
            raise TypeError(f"{handler.__name__}.initialize wants unknown services {unknown}")
        return {name: services[name] for name in names}

    def ingress(
        self,
        hub_side: HubSide,
        *,
        identities: Identities | None = None,
        settings: PolicySettings | None = None,
    ) -> Ingress:
        """The ingress of one hosting: the one policy, with the hosting's ``identities`` (the
        owner's API token by default), settings and way to the hub's host."""
        policy = IngressPolicy(
            self.router,
            self.agents,
            identities if identities is not None else BearerOwners(self.router),
            settings if settings is not None else PolicySettings.of(self.config),
        )
        pool = UpstreamPool()
        self._pools.append(pool)
        self.router.on_change(lambda changes: pool.drop(changes))
        return Ingress(policy, self.dialer, hub_side, pool, self.traffic)
