"""The control API's handlers and their route table (which also feeds the OpenAPI document).

Each handler is a few lines: parse, call a service, send. :data:`ROUTES` lists every path with
its operations, request and response models; ``_openapi.py`` turns it into the OpenAPI
document and ``_hub.py`` into tornado rules, so documentation and routing cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pydantic

from ..._core.errors import ErrorCode
from ..._core.models import (
    Agent,
    Health,
    HeartbeatRequest,
    HeartbeatResponse,
    Lease,
    LeaseCreate,
    LeaseGrant,
    LeaseRefresh,
    ReachConnection,
    ReachCreate,
    RelayLease,
    RelayLeaseCreate,
    RelayLeaseGrant,
    RequestLogEntry,
    Share,
    ShareCreate,
    ShareGrant,
    Tunnel,
    TunnelCreate,
    TunnelMetrics,
    TunnelRotate,
    TunnelStatus,
    TunnelUpdate,
    Webhook,
    WebhookCreate,
    WebhookDelivery,
    WebhookGrant,
    WorkerToken,
)
from .._exceptions import HubError
from ..services._traffic import RECENT_REQUESTS
from ._base import ApiHandler
from ._reach import ConnectionHandler, ConnectionsHandler, TunnelConnectHandler
from ._traffic import DEFAULT_LIMIT, TunnelMetricsHandler, TunnelRequestsHandler

__all__ = ["ROUTES", "Operation", "QueryParam", "Route"]


@dataclasses.dataclass(frozen=True)
class QueryParam:
    """A documented query argument."""

    name: str
    description: str
    schema: Mapping[str, object]


@dataclasses.dataclass(frozen=True)
class Operation:
    """One method on one path, as documented in the OpenAPI document."""

    method: str
    operation_id: str
    summary: str
    response: type[pydantic.BaseModel]
    status: int = 200
    many: bool = False
    body: type[pydantic.BaseModel] | None = None
    query: tuple[QueryParam, ...] = ()
    public: bool = False
    also: tuple[int, ...] = ()
    """Other success statuses (create-or-attach answers 200 when it attaches)."""


@dataclasses.dataclass(frozen=True)
class Route:
    """A path template (``/v1/tunnels/{tunnelId}``), its handler and its operations."""

    path: str
    handler: type[ApiHandler]
    operations: tuple[Operation, ...]


_BOOL: dict[str, object] = {"type": "string", "enum": ["true", "1", "false", "0"]}


# --- hub -----------------------------------------------------------------------------------


class HealthHandler(ApiHandler):
    """``GET /v1/health``."""

    public = True

    async def get(self) -> None:
        """Report status, version, uptime, store state and (with a token) the caller's counts."""
        self.send(await self.hub.health(self.owner_id))


class OpenApiHandler(ApiHandler):
    """``GET /v1/openapi.json``."""

    public = True

    async def get(self) -> None:
        """Send the OpenAPI document of this API."""
        self.finish(self.hub.openapi_document())


# --- tunnels -------------------------------------------------------------------------------


class TunnelsHandler(ApiHandler):
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
        tunnels = await self.hub.tunnels.list(
            self.owner,
            include_inactive=self.query_bool("includeInactive"),
            status=status,
            lease_id=self.get_query_argument("leaseId", None),
        )
        self.send(tunnels)

    async def post(self) -> None:
        """Create a tunnel."""
        self.send(await self.hub.tunnels.create(self.owner, self.body_as(TunnelCreate)), 201)


class TunnelHandler(ApiHandler):
    """``/v1/tunnels/{tunnelId}``: get, update, close."""

    async def get(self, tunnel_id: str) -> None:
        """Get a tunnel by id or slug."""
        self.send(await self.hub.tunnels.get(self.owner, tunnel_id))

    async def patch(self, tunnel_id: str) -> None:
        """Update a tunnel's name, status or metadata."""
        body = self.body_as(TunnelUpdate)
        self.send(await self.hub.tunnels.update(self.owner, tunnel_id, body))

    async def delete(self, tunnel_id: str) -> None:
        """Close a tunnel (it stays listed with includeInactive)."""
        self.send(await self.hub.tunnels.close(self.owner, tunnel_id))


class TunnelRotateHandler(ApiHandler):
    """``/v1/tunnels/{tunnelId}/rotate``."""

    async def post(self, tunnel_id: str) -> None:
        """Point the tunnel at a new local target."""
        body = self.body_as(TunnelRotate)
        self.send(await self.hub.tunnels.rotate(self.owner, tunnel_id, body))


# --- shares --------------------------------------------------------------------------------


class TunnelSharesHandler(ApiHandler):
    """``/v1/tunnels/{tunnelId}/shares``: list and create."""

    async def get(self, tunnel_id: str) -> None:
        """List the tunnel's shares (revoked and expired ones too)."""
        self.send(await self.hub.shares.list(self.owner, tunnel_id))

    async def post(self, tunnel_id: str) -> None:
        """Create a share link; its token is in this answer only."""
        body = self.body_as(ShareCreate)
        self.send(await self.hub.shares.create(self.owner, tunnel_id, body), 201)


class ShareHandler(ApiHandler):
    """``/v1/shares/{shareId}``: get and revoke."""

    async def get(self, share_id: str) -> None:
        """Get a share (without its token)."""
        self.send(await self.hub.shares.get(self.owner, share_id))

    async def delete(self, share_id: str) -> None:
        """Revoke a share; its link stops working at once."""
        self.send(await self.hub.shares.revoke(self.owner, share_id))


# --- agents and leases ---------------------------------------------------------------------


class LeasesHandler(ApiHandler):
    """``/v1/leases``: list and create-or-attach."""

    async def get(self) -> None:
        """List the caller's leases."""
        leases = await self.hub.leases.list(
            self.owner,
            client_instance_id=self.get_query_argument("clientInstanceId", None),
            include_expired=self.query_bool("includeExpired"),
        )
        self.send(leases)

    async def post(self) -> None:
        """Create a lease, or attach to the agent's live one."""
        grant = await self.hub.leases.create_or_attach(self.owner, self.body_as(LeaseCreate))
        self.send(grant, 201 if grant.created else 200)


class LeaseHandler(ApiHandler):
    """``/v1/leases/{leaseId}``: get and delete."""

    async def get(self, lease_id: str) -> None:
        """Get a lease."""
        self.send(await self.hub.leases.get(self.owner, lease_id))

    async def delete(self, lease_id: str) -> None:
        """Delete a lease; its tunnels stop."""
        self.send(await self.hub.leases.delete(self.owner, lease_id))


class HeartbeatHandler(ApiHandler):
    """``/v1/leases/{leaseId}/heartbeat``: accepts the owner's API token or the agent token."""

    async def authorize_other(self, token: str | None) -> bool:
        """Let the lease's own agent token in, for this lease only."""
        if token is None:
            return False
        found = await self.hub.leases.lease_for_agent_token(token)
        lease_id = self.path_kwargs.get("lease_id")
        if found is None or found[1] != lease_id:
            return False
        self.owner_id = found[0]
        return True

    async def post(self, lease_id: str) -> None:
        """Report readiness; the answer says when to beat next and what to do."""
        body = self.body_as(HeartbeatRequest)
        self.send(await self.hub.leases.heartbeat(self.owner, lease_id, body))


class LeaseRefreshHandler(ApiHandler):
    """``/v1/leases/{leaseId}/refresh``."""

    async def post(self, lease_id: str) -> None:
        """Extend the lease's TTL from now."""
        body = self.body_as(LeaseRefresh)
        self.send(await self.hub.leases.refresh(self.owner, lease_id, body))


class LeaseReleaseHandler(ApiHandler):
    """``/v1/leases/{leaseId}/release``."""

    async def post(self, lease_id: str) -> None:
        """Release the lease; its record stays."""
        self.send(await self.hub.leases.release(self.owner, lease_id))


class AgentsHandler(ApiHandler):
    """``/v1/agents``."""

    async def get(self) -> None:
        """List the caller's agents."""
        self.send(await self.hub.leases.list_agents(self.owner))


# --- relay leases --------------------------------------------------------------------------


class RelayLeasesHandler(ApiHandler):
    """``/v1/relay-leases``."""

    async def post(self) -> None:
        """Create a relay lease."""
        grant = await self.hub.relay.create(self.owner, self.body_as(RelayLeaseCreate))
        self.send(grant, 201)


class RelayLeaseHandler(ApiHandler):
    """``/v1/relay-leases/{relayLeaseId}``: get and close."""

    async def get(self, relay_lease_id: str) -> None:
        """Get a relay lease (without tokens)."""
        self.send(await self.hub.relay.get(self.owner, relay_lease_id))

    async def delete(self, relay_lease_id: str) -> None:
        """Close a relay lease."""
        self.send(await self.hub.relay.close(self.owner, relay_lease_id))


class WorkerTokenHandler(ApiHandler):
    """``/v1/relay-leases/{relayLeaseId}/worker-token``."""

    async def post(self, relay_lease_id: str) -> None:
        """Rotate the worker token."""
        self.send(await self.hub.relay.refresh_worker_token(self.owner, relay_lease_id))


# --- webhooks ------------------------------------------------------------------------------


class WebhooksHandler(ApiHandler):
    """``/v1/webhooks``: list and create."""

    async def get(self) -> None:
        """List the caller's webhooks (never their secrets)."""
        self.send(await self.hub.webhooks.list(self.owner))

    async def post(self) -> None:
        """Create a webhook; its secret is in this answer only."""
        self.send(await self.hub.webhooks.create(self.owner, self.body_as(WebhookCreate)), 201)


class WebhookHandler(ApiHandler):
    """``/v1/webhooks/{webhookId}``: get and delete."""

    async def get(self, webhook_id: str) -> None:
        """Get a webhook (without its secret)."""
        self.send(await self.hub.webhooks.get(self.owner, webhook_id))

    async def delete(self, webhook_id: str) -> None:
        """Delete a webhook; its pending deliveries are dropped."""
        self.send(await self.hub.webhooks.delete(self.owner, webhook_id))


class WebhookTestHandler(ApiHandler):
    """``/v1/webhooks/{webhookId}/test``."""

    async def post(self, webhook_id: str) -> None:
        """Queue a ``webhook.test`` delivery."""
        self.send(await self.hub.webhooks.test(self.owner, webhook_id), 202)


class WebhookDeliveriesHandler(ApiHandler):
    """``/v1/webhooks/{webhookId}/deliveries``."""

    async def get(self, webhook_id: str) -> None:
        """The webhook's last deliveries, newest first."""
        self.send(await self.hub.webhooks.deliveries(self.owner, webhook_id))


# --- the table -----------------------------------------------------------------------------

_TUNNEL_QUERY = (
    QueryParam("includeInactive", "Also list stopped and failed tunnels.", _BOOL),
    QueryParam(
        "status",
        "Only tunnels in this status.",
        {"type": "string", "enum": [s.value for s in TunnelStatus]},
    ),
    QueryParam("leaseId", "Only tunnels served by this lease.", {"type": "string"}),
)
_LEASE_QUERY = (
    QueryParam("clientInstanceId", "Only this agent's leases.", {"type": "string"}),
    QueryParam("includeExpired", "Also list released and expired leases.", _BOOL),
)

ROUTES: tuple[Route, ...] = (
    Route(
        "/v1/health",
        HealthHandler,
        (Operation("get", "health", "Hub health", Health, public=True),),
    ),
    Route(
        "/v1/tunnels",
        TunnelsHandler,
        (
            Operation("get", "listTunnels", "List tunnels", Tunnel, many=True, query=_TUNNEL_QUERY),
            Operation("post", "createTunnel", "Create a tunnel", Tunnel, 201, body=TunnelCreate),
        ),
    ),
    Route(
        "/v1/tunnels/{tunnelId}",
        TunnelHandler,
        (
            Operation("get", "getTunnel", "Get a tunnel by id or slug", Tunnel),
            Operation("patch", "updateTunnel", "Update a tunnel", Tunnel, body=TunnelUpdate),
            Operation("delete", "deleteTunnel", "Close a tunnel", Tunnel),
        ),
    ),
    Route(
        "/v1/tunnels/{tunnelId}/rotate",
        TunnelRotateHandler,
        (Operation("post", "rotateTunnel", "Rotate to a new target", Tunnel, body=TunnelRotate),),
    ),
    Route(
        "/v1/tunnels/{tunnelId}/requests",
        TunnelRequestsHandler,
        (
            Operation(
                "get",
                "listTunnelRequests",
                "A tunnel's recent requests, newest first",
                RequestLogEntry,
                many=True,
                query=(
                    QueryParam(
                        "limit",
                        f"At most this many (default {DEFAULT_LIMIT}).",
                        {"type": "integer", "minimum": 1, "maximum": RECENT_REQUESTS},
                    ),
                ),
            ),
        ),
    ),
    Route(
        "/v1/tunnels/{tunnelId}/metrics",
        TunnelMetricsHandler,
        (Operation("get", "getTunnelMetrics", "A tunnel's traffic counters", TunnelMetrics),),
    ),
    Route(
        "/v1/tunnels/{tunnelId}/shares",
        TunnelSharesHandler,
        (
            Operation("get", "listShares", "List a tunnel's shares", Share, many=True),
            Operation(
                "post", "createShare", "Create a share link", ShareGrant, 201, body=ShareCreate
            ),
        ),
    ),
    Route(
        "/v1/shares/{shareId}",
        ShareHandler,
        (
            Operation("get", "getShare", "Get a share", Share),
            Operation("delete", "revokeShare", "Revoke a share", Share),
        ),
    ),
    Route(
        "/v1/leases",
        LeasesHandler,
        (
            Operation("get", "listLeases", "List leases", Lease, many=True, query=_LEASE_QUERY),
            Operation(
                "post",
                "createLease",
                "Create or attach a lease",
                LeaseGrant,
                201,
                body=LeaseCreate,
                also=(200,),
            ),
        ),
    ),
    Route(
        "/v1/leases/{leaseId}",
        LeaseHandler,
        (
            Operation("get", "getLease", "Get a lease", Lease),
            Operation("delete", "deleteLease", "Delete a lease", Lease),
        ),
    ),
    Route(
        "/v1/leases/{leaseId}/heartbeat",
        HeartbeatHandler,
        (Operation("post", "heartbeat", "Heartbeat", HeartbeatResponse, body=HeartbeatRequest),),
    ),
    Route(
        "/v1/leases/{leaseId}/refresh",
        LeaseRefreshHandler,
        (Operation("post", "refreshLease", "Extend a lease", Lease, body=LeaseRefresh),),
    ),
    Route(
        "/v1/leases/{leaseId}/release",
        LeaseReleaseHandler,
        (Operation("post", "releaseLease", "Release a lease", Lease),),
    ),
    Route(
        "/v1/agents",
        AgentsHandler,
        (Operation("get", "listAgents", "List agents", Agent, many=True),),
    ),
    Route(
        "/v1/relay-leases",
        RelayLeasesHandler,
        (
            Operation(
                "post",
                "createRelayLease",
                "Create a relay lease",
                RelayLeaseGrant,
                201,
                body=RelayLeaseCreate,
            ),
        ),
    ),
    Route(
        "/v1/relay-leases/{relayLeaseId}",
        RelayLeaseHandler,
        (
            Operation("get", "getRelayLease", "Get a relay lease", RelayLease),
            Operation("delete", "closeRelayLease", "Close a relay lease", RelayLease),
        ),
    ),
    Route(
        "/v1/relay-leases/{relayLeaseId}/worker-token",
        WorkerTokenHandler,
        (Operation("post", "refreshWorkerToken", "Rotate the worker token", WorkerToken),),
    ),
    Route(
        "/v1/webhooks",
        WebhooksHandler,
        (
            Operation("get", "listWebhooks", "List webhooks", Webhook, many=True),
            Operation(
                "post", "createWebhook", "Create a webhook", WebhookGrant, 201, body=WebhookCreate
            ),
        ),
    ),
    Route(
        "/v1/webhooks/{webhookId}",
        WebhookHandler,
        (
            Operation("get", "getWebhook", "Get a webhook", Webhook),
            Operation("delete", "deleteWebhook", "Delete a webhook", Webhook),
        ),
    ),
    Route(
        "/v1/webhooks/{webhookId}/test",
        WebhookTestHandler,
        (Operation("post", "testWebhook", "Send a test delivery", WebhookDelivery, 202),),
    ),
    Route(
        "/v1/webhooks/{webhookId}/deliveries",
        WebhookDeliveriesHandler,
        (
            Operation(
                "get",
                "listWebhookDeliveries",
                "The last deliveries, newest first",
                WebhookDelivery,
                many=True,
            ),
        ),
    ),
    # --- connections (reach) ---
    Route(
        "/v1/tunnels/{tunnelId}/connect",
        TunnelConnectHandler,
        (
            Operation(
                "post",
                "connectTunnel",
                "Reach a tunnel as a local port of an agent",
                ReachConnection,
                201,
                body=ReachCreate,
            ),
        ),
    ),
    Route(
        "/v1/connections",
        ConnectionsHandler,
        (
            Operation(
                "get",
                "listConnections",
                "List connections",
                ReachConnection,
                many=True,
                query=(QueryParam("includeInactive", "Also list closed and failed ones.", _BOOL),),
            ),
        ),
    ),
    Route(
        "/v1/connections/{connectionId}",
        ConnectionHandler,
        (
            Operation("get", "getConnection", "Get a connection", ReachConnection),
            Operation("delete", "closeConnection", "Close a connection", ReachConnection),
        ),
    ),
)
"""Every documented route of the control API."""

OPENAPI_PATH = "/v1/openapi.json"
OPENAPI_HANDLER = OpenApiHandler
