"""``/v1/tunnels/{tunnelId}/shares`` and ``/v1/shares/{shareId}``: share links."""

from __future__ import annotations

from ..._core.models import ShareCreate
from ..services._owners import OwnerService
from ..services._shares import ShareService
from ._base import ApiHandler

__all__ = ["ShareHandler", "TunnelSharesHandler"]


class _ShareApi(ApiHandler):
    """A handler of the shares resource."""

    shares: ShareService

    def initialize(self, owners: OwnerService, shares: ShareService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.shares = shares


class TunnelSharesHandler(_ShareApi):
    """``/v1/tunnels/{tunnelId}/shares``: list and create."""

    async def get(self, tunnel_id: str) -> None:
        """List the tunnel's shares (revoked and expired ones too)."""
        self.send(await self.shares.list(self.owner, tunnel_id))

    async def post(self, tunnel_id: str) -> None:
        """Create a share link; its token is in this answer only."""
        body = self.body_as(ShareCreate)
        self.send(await self.shares.create(self.owner, tunnel_id, body), 201)


class ShareHandler(_ShareApi):
    """``/v1/shares/{shareId}``: get and revoke."""

    async def get(self, share_id: str) -> None:
        """Get a share (without its token)."""
        self.send(await self.shares.get(self.owner, share_id))

    async def delete(self, share_id: str) -> None:
        """Revoke a share; its link stops working at once."""
        self.send(await self.shares.revoke(self.owner, share_id))
