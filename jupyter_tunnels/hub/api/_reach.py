"""The control API's handlers for reach: ``/v1/tunnels/{id}/connect`` and ``/v1/connections``.

Thin like every handler (``_api.py`` lists them in :data:`~._api.ROUTES`); the rules are in
``_reach.py``.
"""

from __future__ import annotations

from ..._core.models import ReachCreate
from ._base import ApiHandler

__all__ = ["ConnectionHandler", "ConnectionsHandler", "TunnelConnectHandler"]


class TunnelConnectHandler(ApiHandler):
    """``/v1/tunnels/{tunnelId}/connect``."""

    async def post(self, tunnel_id: str) -> None:
        """Have one of the caller's agents bind a local port carried to the tunnel."""
        body = self.body_as(ReachCreate)
        self.send(await self.hub.reach.connect(self.owner, tunnel_id, body), 201)


class ConnectionsHandler(ApiHandler):
    """``/v1/connections``."""

    async def get(self) -> None:
        """List the caller's connections (open ones, or every one with includeInactive)."""
        include = self.query_bool("includeInactive")
        self.send(await self.hub.reach.list(self.owner, include_inactive=include))


class ConnectionHandler(ApiHandler):
    """``/v1/connections/{connectionId}``: get and close."""

    async def get(self, connection_id: str) -> None:
        """Get a connection."""
        self.send(await self.hub.reach.get(self.owner, connection_id))

    async def delete(self, connection_id: str) -> None:
        """Close a connection: its port is released when this answers."""
        self.send(await self.hub.reach.close(self.owner, connection_id))
