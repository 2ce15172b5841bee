"""The visitor side of the hub: ``/t/{slug}/...`` requests, checked before anything is relayed.

Access rules are applied to every request on its own: ``private`` tunnels need their owner's
API token, ``token`` tunnels (relay leases) their current worker token, ``public`` ones
nothing; a paused tunnel refuses visitors. Only then is the request handed to the tunnel's
connector; until a connector is attached the visitor gets a clear 503 at once.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tornado import web

from .._errors import HTTP_STATUS, ErrorCode
from .._models import Access, TunnelStatus
from ._exceptions import HubError

if TYPE_CHECKING:
    from ._hub import Hub

__all__ = ["IngressHandler"]


class IngressHandler(web.RequestHandler):
    """Serves ``/t/{slug}`` and everything under it, for any method."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    hub: Hub

    def initialize(self, hub: Hub) -> None:
        """Receive the hub (tornado calls this per request)."""
        self.hub = hub

    async def prepare(self) -> None:
        """Find the tunnel, apply its access rules, then hand the request on."""
        slug = self.path_kwargs["slug"]
        tunnel = await self.hub.tunnels.live_by_slug(slug)
        if tunnel is None:
            raise HubError(ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel is open at {slug!r}")
        await self._check_access(tunnel.id, tunnel.access)
        if tunnel.status is TunnelStatus.PAUSED:
            raise HubError(ErrorCode.AGENT_UNAVAILABLE, f"tunnel {slug!r} is paused by its owner")
        raise HubError(
            ErrorCode.AGENT_UNAVAILABLE,
            f"tunnel {slug!r} has no connector attached: start it with "
            "'jupyter-tunnels expose' or check the agent",
            {"status": tunnel.status.value, "lastError": tunnel.readiness.last_error},
        )

    async def _check_access(self, tunnel_id: str, access: Access) -> None:
        if access is Access.PUBLIC:
            return
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if access is Access.TOKEN:
            allowed = bool(token) and await self.hub.relay.tunnel_accepts_worker_token(
                tunnel_id, token
            )
        else:
            allowed = await self.authorize_private(tunnel_id, token)
        if not allowed:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-tunnels"')
            code = ErrorCode.INVALID_TOKEN if token else ErrorCode.MISSING_AUTH
            raise HubError(code, f"this tunnel is {access.value}: send its token as a bearer")

    async def authorize_private(self, tunnel_id: str, token: str) -> bool:
        """Whether this request may reach a private tunnel: its owner's API token as a bearer.

        The Jupyter mount overrides this to accept Jupyter's own authentication too.
        """
        owner = await self.hub.owner_for_token(token) if token else None
        return owner is not None and owner == await self.hub.tunnels.owner_of(tunnel_id)

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, HubError) and not self._finished:
            self.set_status(HTTP_STATUS[e.code])
            self.set_header("Content-Type", "application/json; charset=utf-8")
            body: dict[str, Any] = {
                "code": e.code.value,
                "message": e.message,
                "details": e.details,
            }
            self.finish(json.dumps(body))
            return
        super()._handle_request_exception(e)
