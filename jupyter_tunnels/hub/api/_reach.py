"""The control API's handlers for reach: ``/v1/tunnels/{id}/connect`` and ``/v1/connections``.

Thin like every handler (``_routes.py`` lists them in :data:`~._routes.ROUTES`); the rules are
in ``services/_reach.py``.
"""

from __future__ import annotations

from ..._core.models import ReachCreate
from ..services._owners import OwnerService
from ..services._reach import ReachService
from ._base import ApiHandler

__all__ = ["ConnectionHandler", "ConnectionsHandler", "TunnelConnectHandler"]


class _ReachApi(ApiHandler):
    """A handler of the connections (reach) resource."""

    reach: ReachService

    def initialize(self, owners: OwnerService, reach: ReachService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.reach = reach


class TunnelConnectHandler(_ReachApi):
    """``/v1/tunnels/{tunnelId}/connect``."""

    async def post(self, tunnel_id: str) -> None:
        """Have one of the caller's agents bind a local port carried to the tunnel."""
        body = self.body_as(ReachCreate)
        self.send(await self.reach.connect(self.owner, tunnel_id, body), 201)


class ConnectionsHandler(_ReachApi):
    """``/v1/connections``."""

    async def get(self) -> None:
        """List the caller's connections (open ones, or every one with includeInactive)."""
        include = self.query_bool("includeInactive")
        self.send(await self.reach.list(self.owner, include_inactive=include))


class ConnectionHandler(_ReachApi):
    """``/v1/connections/{connectionId}``: get and close."""

    async def get(self, connection_id: str) -> None:
        """Get a connection."""
        self.send(await self.reach.get(self.owner, connection_id))

    async def delete(self, connection_id: str) -> None:
        """Close a connection: its port is released when this answers."""
        self.send(await self.reach.close(self.owner, connection_id))
