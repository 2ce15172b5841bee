"""A connector's lease and the tunnels it was asked to serve on it, kept through the API.

Every tunnel asked for is remembered (target, name, protocol, access, and the slug and hub port
the hub gave it), so that a lease that expired under the connector (a laptop asleep) is
replaced by a new one that gets every tunnel back at the same URL, which the hub kept reserved
for its owner. This part of the connector only calls the API; the control channel, the
heartbeats and the data streams are :class:`~jupyter_tunnels.connector.Connector`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from .._core.errors import ErrorCode
from .._core.models import Target, Tunnel
from .._core.timeouts import within
from .._wire.protocol import TunnelSpec
from ..client import APIError, AsyncTunnelsClient, LeaseExpired, SlugTaken
from ._dial import check_target

__all__ = ["ACTIVE_WAIT_TIMEOUT", "LeaseTunnels"]

ACTIVE_WAIT_TIMEOUT = 15.0
"""Seconds ``expose`` waits for a new tunnel to be served (it then returns the tunnel as it is),
and ``Connector.start`` by default for the control channel to come up."""
SERVED_STATUSES = frozenset({"active", "paused", "stopped", "failed"})
"""Statuses ``expose`` stops waiting at: the tunnel is served, or will not be by waiting."""
LEASE_RECOVERY_WAIT = 30.0
"""How long ``expose`` waits for a new lease when the current one expired under it."""
_HUB_PORT_LOST = frozenset({ErrorCode.HUB_PORT_TAKEN, ErrorCode.INVALID_PORT})
"""Answers to a re-creation at the old hub port that another port would avoid."""


@dataclasses.dataclass
class _Wanted:
    """A tunnel this connector was asked to serve, remembered so it can be re-created."""

    target: Target
    name: str | None
    protocol: str
    access: str
    slug: str | None = None
    hub_port: int | None = None
    tunnel_id: str | None = None


class LeaseTunnels:
    """The lease of a connector and the tunnels wanted on it (the base of ``Connector``).

    ``client`` is an API client with a token of the tunnels' owner; ``client_instance_id``
    identifies the connector across restarts, so the same one gets the same lease back.
    """

    def __init__(
        self,
        client: AsyncTunnelsClient,
        client_instance_id: str,
        allowed_hosts: tuple[str, ...],
        on_event: Callable[[str], None],
    ) -> None:
        self.client = client
        self.client_instance_id = client_instance_id
        self.allowed_hosts = allowed_hosts
        self.on_event = on_event
        self.lease_id: str | None = None
        self.agent_id: str | None = None
        """This connector's agent id at the hub (once started): what reach binds on."""
        self.agent_token: str | None = None
        self.last_error: str | None = None
        self._wanted: dict[str, _Wanted] = {}
        self._unrestored: set[str] = set()
        """Keys of wanted tunnels not yet re-created on the current lease."""
        self._closing = False
        """Set when the connector closes or stops by itself: nothing is waited for any more."""
        self.specs: dict[str, TunnelSpec] = {}
        """The tunnels this connector serves, by id, as the hub's last tunnels message said."""
        self._specs_changed = asyncio.Event()
        """Set (and replaced) whenever :attr:`specs` changes, to wake :meth:`served`."""

    async def expose(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        name: str | None = None,
        slug: str | None = None,
        protocol: str = "auto",
        public: bool = False,
        wait: bool = True,
    ) -> Tunnel:
        """Expose ``host:port`` through a tunnel of this connector's lease and return it.

        Exposing the same target again returns the tunnel that already serves it. With
        ``wait`` the call returns once the tunnel is active (its connector attached).
        """
        check_target(host, self.allowed_hosts)
        target = Target(host=host, port=port)
        key = f"{protocol}:{target}"
        fresh = _Wanted(target, name, protocol, "public" if public else "private", slug)
        wanted = self._wanted.setdefault(key, fresh)
        expired = self.lease_id
        try:
            try:
                tunnel = await self._ensure_tunnel(wanted, fresh)
            except LeaseExpired:
                # the lease ran out just now (a laptop waking up): the control loop is taking
                # a new one and re-creating every wanted tunnel, this one included
                if not await self._lease_replaced(expired):
                    raise
                tunnel = await self._ensure_tunnel(wanted)
        except BaseException:
            if wanted is fresh and wanted.tunnel_id is None:
                self._forget(key)  # a refused request is not remembered for re-creation
            raise
        self._unrestored.discard(key)
        if wait:
            tunnel = await self._wait_active(tunnel.id)
        return tunnel

    async def served(self, tunnel_id: str, timeout: float) -> TunnelSpec | None:
        """The tunnel ``tunnel_id`` as this connector serves it; if the hub has not named it
        yet, wait up to ``timeout`` seconds for a tunnels message that does (None if none
        does).

        The hub sends that message on the control channel before it routes any visitor to the
        tunnel, but visitors come on data connections, which may be read first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        spec = self.specs.get(tunnel_id)
        while spec is None and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            # (not asyncio.wait_for: see Connector._heartbeat_forever)
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await within(remaining, self._specs_changed.wait())
            spec = self.specs.get(tunnel_id)
        return spec

    def _learn_specs(self, specs: Iterable[TunnelSpec]) -> dict[str, TunnelSpec]:
        """Take the hub's word on the tunnels served now; return the previous ones.

        A wanted tunnel the hub no longer names was closed through the API while served: it
        is not one to re-create after a lease loss.
        """
        previous, self.specs = self.specs, {spec.id: spec for spec in specs}
        gone = previous.keys() - self.specs.keys()
        for key, wanted in list(self._wanted.items()):
            if wanted.tunnel_id in gone:
                del self._wanted[key]
        self._specs_changed.set()
        self._specs_changed = asyncio.Event()
        return previous

    async def unexpose(self, tunnel_id: str) -> Tunnel:
        """Close one of this connector's tunnels."""
        for key, wanted in list(self._wanted.items()):
            if wanted.tunnel_id == tunnel_id:
                self._forget(key)
        return await self.client.delete(tunnel_id)

    def _forget(self, key: str) -> None:
        self._wanted.pop(key, None)
        self._unrestored.discard(key)

    async def _take_lease(self) -> None:
        grant = await self.client.create_lease(self.client_instance_id)
        self.lease_id = grant.id
        self.agent_id = grant.agent_id
        self.agent_token = grant.agent_token

    async def _ensure_tunnel(self, wanted: _Wanted, fresh: _Wanted | None = None) -> Tunnel:
        """The live tunnel ``wanted`` describes, created if there is none.

        With ``fresh`` (a new request for the same target), a wanted tunnel that was closed
        since (through the API, by anyone) is not brought back: ``fresh`` replaces it.
        """
        assert self.lease_id is not None
        live = await self.client.list(lease_id=self.lease_id)
        for tunnel in live:
            same_protocol = wanted.protocol in ("auto", tunnel.protocol.value)
            same_name = wanted.name in (None, tunnel.name)
            if tunnel.target == wanted.target and same_protocol and same_name:
                self._remember(wanted, tunnel)
                return tunnel
        if fresh is not None and wanted is not fresh and wanted.tunnel_id is not None:
            wanted.__dict__.update(fresh.__dict__)
        try:
            tunnel = await self._create(wanted)
        except SlugTaken:
            self.on_event(f"slug {wanted.slug!r} is no longer ours; the URL will change")
            wanted.slug = None
            tunnel = await self._create(wanted)
        self._remember(wanted, tunnel)
        return tunnel

    async def _create(self, wanted: _Wanted) -> Tunnel:
        """Create ``wanted`` on the current lease, at its old hub port when it had one; if
        that port is taken or outside the hub's range now, at another one."""
        assert self.lease_id is not None
        options: dict[str, Any] = {
            "name": wanted.name,
            "slug": wanted.slug,
            "protocol": wanted.protocol,
            "access": wanted.access,
            "lease_id": self.lease_id,
        }
        try:
            return await self.client.create(wanted.target, hub_port=wanted.hub_port, **options)
        except APIError as exc:
            if wanted.hub_port is None or exc.code not in _HUB_PORT_LOST:
                raise
            self.on_event(f"hub port {wanted.hub_port} is no longer ours; the address will change")
            wanted.hub_port = None
            return await self.client.create(wanted.target, **options)

    @staticmethod
    def _remember(wanted: _Wanted, tunnel: Tunnel) -> None:
        wanted.slug = tunnel.slug
        wanted.hub_port = tunnel.hub_port
        wanted.tunnel_id = tunnel.id

    async def _lease_replaced(self, expired: str | None) -> bool:
        """Wait (bounded) until the control loop has replaced the expired lease; whether it
        has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LEASE_RECOVERY_WAIT
        while self.lease_id == expired:
            if self._closing or loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _wait_active(self, tunnel_id: str) -> Tunnel:
        """Wait until the tunnel is active and served here (bounded); return it as it is."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACTIVE_WAIT_TIMEOUT
        while True:
            tunnel = await self.client.get(tunnel_id)
            if tunnel.status.value in SERVED_STATUSES or loop.time() > deadline:
                break
            await asyncio.sleep(0.05)
        if tunnel.status.value == "active":  # the hub routes visitors to it from now on
            await self.served(tunnel_id, max(0.0, deadline - loop.time()))
        return tunnel

    async def _restore_tunnels(self) -> None:
        """Re-create, on the current lease, the wanted tunnels not yet back.

        A tunnel the hub refuses (its answer, say no TCP ports any more) stays pending and is
        tried again at the next session and heartbeat, without holding the others back; a hub
        that cannot be reached raises, and the control loop retries after its backoff.
        """
        for key in sorted(self._unrestored):
            wanted = self._wanted.get(key)
            if wanted is None:
                self._unrestored.discard(key)
                continue
            try:
                tunnel = await self._ensure_tunnel(wanted)
            except APIError as exc:
                if isinstance(exc, LeaseExpired):
                    raise
                self.last_error = f"cannot re-create the tunnel to {wanted.target}: {exc}"
                self.on_event(f"{self.last_error}; will retry")
                continue
            self._unrestored.discard(key)
            self.on_event(f"tunnel {tunnel.name} is back at {tunnel.url}")
