"""``/v1/relay-leases``: relay leases and their rotating worker tokens."""

from __future__ import annotations

from ..._core.models import RelayLeaseCreate
from ..services._owners import OwnerService
from ..services._relay_leases import RelayService
from ._base import ApiHandler

__all__ = ["RelayLeaseHandler", "RelayLeasesHandler", "WorkerTokenHandler"]


class _RelayApi(ApiHandler):
    """A handler of the relay-leases resource."""

    relay: RelayService

    def initialize(self, owners: OwnerService, relay: RelayService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.relay = relay


class RelayLeasesHandler(_RelayApi):
    """``/v1/relay-leases``."""

    async def post(self) -> None:
        """Create a relay lease."""
        grant = await self.relay.create(self.owner, self.body_as(RelayLeaseCreate))
        self.send(grant, 201)


class RelayLeaseHandler(_RelayApi):
    """``/v1/relay-leases/{relayLeaseId}``: get and close."""

    async def get(self, relay_lease_id: str) -> None:
        """Get a relay lease (without tokens)."""
        self.send(await self.relay.get(self.owner, relay_lease_id))

    async def delete(self, relay_lease_id: str) -> None:
        """Close a relay lease."""
        self.send(await self.relay.close(self.owner, relay_lease_id))


class WorkerTokenHandler(_RelayApi):
    """``/v1/relay-leases/{relayLeaseId}/worker-token``."""

    async def post(self, relay_lease_id: str) -> None:
        """Rotate the worker token."""
        self.send(await self.relay.refresh_worker_token(self.owner, relay_lease_id))
