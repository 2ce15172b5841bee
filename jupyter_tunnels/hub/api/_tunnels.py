"""``/v1/tunnels``: list, create, get, update, close and rotate tunnels."""

from __future__ import annotations

from ..._core.errors import ErrorCode
from ..._core.models import TunnelCreate, TunnelRotate, TunnelStatus, TunnelUpdate
from .._exceptions import HubError
from ..services._owners import OwnerService
from ..services._tunnels import TunnelService
from ._base import ApiHandler

__all__ = ["TunnelHandler", "TunnelRotateHandler", "TunnelsHandler"]


class _TunnelApi(ApiHandler):
    """A handler of the tunnels resource."""

    tunnels: TunnelService

    def initialize(self, owners: OwnerService, tunnels: TunnelService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.tunnels = tunnels


class TunnelsHandler(_TunnelApi):
    """``/v1/tunnels``: list and create."""

    async def get(self) -> None:
        """List the caller's tunnels."""
        status_text = self.get_query_argument("status", None, strip=False)
        try:
            status = TunnelStatus(status_text) if status_text is not None else None
        except ValueError:
            allowed = ", ".join(s.value for s in TunnelStatus)
            raise HubError(
                ErrorCode.INVALID_INPUT,
                f"status must be one of {allowed}, not {status_text!r}",
                {"field": "status"},
            ) from None
        tunnels = await self.tunnels.list(
            self.owner,
            include_inactive=self.query_bool("includeInactive"),
            status=status,
            lease_id=self.get_query_argument("leaseId", None),
        )
        self.send(tunnels)

    async def post(self) -> None:
        """Create a tunnel."""
        self.send(await self.tunnels.create(self.owner, self.body_as(TunnelCreate)), 201)


class TunnelHandler(_TunnelApi):
    """``/v1/tunnels/{tunnelId}``: get, update, close."""

    async def get(self, tunnel_id: str) -> None:
        """Get a tunnel by id or slug."""
        self.send(await self.tunnels.get(self.owner, tunnel_id))

    async def patch(self, tunnel_id: str) -> None:
        """Update a tunnel's name, status or metadata."""
        body = self.body_as(TunnelUpdate)
        self.send(await self.tunnels.update(self.owner, tunnel_id, body))

    async def delete(self, tunnel_id: str) -> None:
        """Close a tunnel (it stays listed with includeInactive)."""
        self.send(await self.tunnels.close(self.owner, tunnel_id))


class TunnelRotateHandler(_TunnelApi):
    """``/v1/tunnels/{tunnelId}/rotate``."""

    async def post(self, tunnel_id: str) -> None:
        """Point the tunnel at a new local target."""
        body = self.body_as(TunnelRotate)
        self.send(await self.tunnels.rotate(self.owner, tunnel_id, body))
