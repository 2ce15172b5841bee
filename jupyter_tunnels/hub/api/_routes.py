"""The control API's route table, which also feeds the OpenAPI document.

:data:`ROUTES` lists every path with its handler (one module per resource: ``_tunnels.py``,
``_leases.py``, ...), its operations, request and response models; ``_openapi.py`` turns it
into the OpenAPI document and the composition root (``hub/_app.py``) into tornado rules, so
documentation and routing cannot drift. Each handler is a few lines: parse, call a service,
send.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pydantic

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
from ..services._traffic import RECENT_REQUESTS
from ._base import ApiHandler
from ._health import HealthHandler, OpenApiHandler
from ._leases import (
    AgentsHandler,
    HeartbeatHandler,
    LeaseHandler,
    LeaseRefreshHandler,
    LeaseReleaseHandler,
    LeasesHandler,
)
from ._reach import ConnectionHandler, ConnectionsHandler, TunnelConnectHandler
from ._relay_leases import RelayLeaseHandler, RelayLeasesHandler, WorkerTokenHandler
from ._shares import ShareHandler, TunnelSharesHandler
from ._traffic import DEFAULT_LIMIT, TunnelMetricsHandler, TunnelRequestsHandler
from ._tunnels import TunnelHandler, TunnelRotateHandler, TunnelsHandler
from ._webhooks import (
    WebhookDeliveriesHandler,
    WebhookHandler,
    WebhooksHandler,
    WebhookTestHandler,
)

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
