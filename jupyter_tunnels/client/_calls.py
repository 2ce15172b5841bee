"""The SDK's side of the route table: what each operation sends and what it gets back.

One function per API operation (named after its ``operationId``) turns Python arguments into a
:class:`Call`: method, path under ``/v1``, query, JSON body, and the model that reads the
answer. Nothing here does I/O, and nothing here validates what the hub validates: bad input
goes to the hub, which answers with a clear 400 (:class:`~._exceptions.BadRequest`) and
changes nothing, so the SDK and the hub can never disagree on the rules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import pydantic
from pydantic.alias_generators import to_camel

from .._core.models import (
    Access,
    Agent,
    Health,
    HeartbeatResponse,
    Lease,
    LeaseGrant,
    Protocol,
    ReachConnection,
    RelayLease,
    RelayLeaseGrant,
    RequestLogEntry,
    Share,
    ShareExpiration,
    ShareGrant,
    Target,
    Tunnel,
    TunnelMetrics,
    TunnelReadiness,
    TunnelStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookGrant,
    WorkerToken,
)

__all__ = ["DEFAULT_TARGET_HOST", "Call", "TargetLike"]

T = TypeVar("T")
M = TypeVar("M", bound=pydantic.BaseModel)

DEFAULT_TARGET_HOST = "127.0.0.1"
"""The host of a target given as a bare port."""

TargetLike = int | str | Target
"""A local target: a port (``8050``), ``"host:port"``, ``"8050"``, or a :class:`Target`."""


@dataclasses.dataclass(frozen=True)
class Call(Generic[T]):
    """One API operation, ready to be turned into a request."""

    method: str
    path: str
    """The path under the API prefix, with its segments already quoted."""
    parse: Callable[[Any], T]
    """Reads the JSON answer of a success; raises ``ValueError`` when it cannot."""
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    json: Mapping[str, Any] | None = None
    token: str | None = None
    """A bearer token to send instead of the client's own (an agent token)."""
    public: bool = False
    """Whether the operation works without a token (the token is still sent when known)."""


def _many(model: type[M]) -> Callable[[Any], list[M]]:
    """A parser for a JSON array of ``model``."""

    def parse(data: Any) -> list[M]:
        if not isinstance(data, list):
            raise ValueError(f"expected a JSON array, got {type(data).__name__}")
        return [model.model_validate(item) for item in data]

    return parse


def _segment(value: str, what: str) -> str:
    """Quote one path segment, so an id can never change the path."""
    if not value:
        raise ValueError(f"{what} must not be empty")
    return quote(value, safe="")


def _body(**fields: Any) -> dict[str, Any]:
    """A JSON body with camelCase keys; fields left as None are not sent."""
    return {to_camel(name): value for name, value in fields.items() if value is not None}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _text(value: str | None) -> str | None:
    """An enum member's value (every API enum's ``str()``), or a plain string unchanged."""
    return None if value is None else str(value)


def target_json(target: TargetLike, host: str | None) -> Any:
    """The JSON form of a target; ``host`` applies to a bare port."""
    if isinstance(target, Target):
        if host is not None:
            raise ValueError("give the host inside the Target, not as host=")
        return target.to_json()
    if isinstance(target, bool) or not isinstance(target, int | str):
        raise TypeError(f"target must be a port, 'host:port' or a Target, not {target!r}")
    if isinstance(target, int):
        return {"host": host or DEFAULT_TARGET_HOST, "port": target}
    if host is None:
        return target
    if target.strip().isdigit():
        return {"host": host, "port": int(target)}
    raise ValueError(f"target {target!r} names its host already: do not pass host= too")


# --- hub -----------------------------------------------------------------------------------


def health() -> Call[Health]:
    """``GET /v1/health``."""
    return Call("GET", "/health", Health.model_validate, public=True)


# --- tunnels -------------------------------------------------------------------------------


def list_tunnels(
    include_inactive: bool, status: TunnelStatus | str | None, lease_id: str | None
) -> Call[list[Tunnel]]:
    """``GET /v1/tunnels``."""
    params = {"includeInactive": _flag(include_inactive)}
    if status is not None:
        params["status"] = str(status)
    if lease_id is not None:
        params["leaseId"] = lease_id
    return Call("GET", "/tunnels", _many(Tunnel), params=params)


def create_tunnel(
    target: TargetLike,
    *,
    host: str | None,
    name: str | None,
    slug: str | None,
    protocol: Protocol | str,
    access: Access | str,
    lease_id: str | None,
    hub_port: int | None,
    metadata: Mapping[str, Any] | None,
) -> Call[Tunnel]:
    """``POST /v1/tunnels``."""
    body = _body(
        target=target_json(target, host),
        name=name,
        slug=slug,
        protocol=_text(protocol),
        access=_text(access),
        lease_id=lease_id,
        hub_port=hub_port,
        metadata=None if metadata is None else dict(metadata),
    )
    return Call("POST", "/tunnels", Tunnel.model_validate, json=body)


def get_tunnel(tunnel_id: str) -> Call[Tunnel]:
    """``GET /v1/tunnels/{tunnelId}`` (an id or a slug)."""
    return Call("GET", f"/tunnels/{_segment(tunnel_id, 'tunnel_id')}", Tunnel.model_validate)


def update_tunnel(
    tunnel_id: str,
    *,
    name: str | None,
    status: TunnelStatus | str | None,
    metadata: Mapping[str, Any] | None,
    lease_id: str | None,
    last_error: str | None = None,
) -> Call[Tunnel]:
    """``PATCH /v1/tunnels/{tunnelId}``."""
    body = _body(
        name=name,
        status=_text(status),
        last_error=last_error,
        metadata=None if metadata is None else dict(metadata),
        lease_id=lease_id,
    )
    path = f"/tunnels/{_segment(tunnel_id, 'tunnel_id')}"
    return Call("PATCH", path, Tunnel.model_validate, json=body)


def delete_tunnel(tunnel_id: str) -> Call[Tunnel]:
    """``DELETE /v1/tunnels/{tunnelId}``."""
    return Call("DELETE", f"/tunnels/{_segment(tunnel_id, 'tunnel_id')}", Tunnel.model_validate)


def rotate_tunnel(
    tunnel_id: str, target: TargetLike, *, host: str | None, reason: str | None
) -> Call[Tunnel]:
    """``POST /v1/tunnels/{tunnelId}/rotate``."""
    body = _body(target=target_json(target, host), reason=reason)
    path = f"/tunnels/{_segment(tunnel_id, 'tunnel_id')}/rotate"
    return Call("POST", path, Tunnel.model_validate, json=body)


def list_tunnel_requests(tunnel_id: str, limit: int | None) -> Call[list[RequestLogEntry]]:
    """``GET /v1/tunnels/{tunnelId}/requests``."""
    params = {} if limit is None else {"limit": str(limit)}
    path = f"/tunnels/{_segment(tunnel_id, 'tunnel_id')}/requests"
    return Call("GET", path, _many(RequestLogEntry), params=params)


def get_tunnel_metrics(tunnel_id: str) -> Call[TunnelMetrics]:
    """``GET /v1/tunnels/{tunnelId}/metrics``."""
    path = f"/tunnels/{_segment(tunnel_id, 'tunnel_id')}/metrics"
    return Call("GET", path, TunnelMetrics.model_validate)


# --- agents and leases ---------------------------------------------------------------------


def list_leases(client_instance_id: str | None, include_expired: bool) -> Call[list[Lease]]:
    """``GET /v1/leases``."""
    params = {"includeExpired": _flag(include_expired)}
    if client_instance_id is not None:
        params["clientInstanceId"] = client_instance_id
    return Call("GET", "/leases", _many(Lease), params=params)


def create_lease(
    client_instance_id: str,
    *,
    idempotency_key: str | None,
    ttl_seconds: int | None,
    metadata: Mapping[str, Any] | None,
) -> Call[LeaseGrant]:
    """``POST /v1/leases``."""
    body = _body(
        client_instance_id=client_instance_id,
        idempotency_key=idempotency_key,
        ttl_seconds=ttl_seconds,
        metadata=None if metadata is None else dict(metadata),
    )
    return Call("POST", "/leases", LeaseGrant.model_validate, json=body)


def get_lease(lease_id: str) -> Call[Lease]:
    """``GET /v1/leases/{leaseId}``."""
    return Call("GET", f"/leases/{_segment(lease_id, 'lease_id')}", Lease.model_validate)


def delete_lease(lease_id: str) -> Call[Lease]:
    """``DELETE /v1/leases/{leaseId}``."""
    return Call("DELETE", f"/leases/{_segment(lease_id, 'lease_id')}", Lease.model_validate)


def heartbeat(
    lease_id: str,
    *,
    connected_to_hub: bool,
    local_ready: bool,
    last_error: str | None,
    tunnels: Mapping[str, TunnelReadiness] | None,
    agent_token: str | None,
) -> Call[HeartbeatResponse]:
    """``POST /v1/leases/{leaseId}/heartbeat``, with the agent token when one is given."""
    body = _body(
        connected_to_hub=connected_to_hub,
        local_ready=local_ready,
        last_error=last_error,
        tunnels=None
        if tunnels is None
        else {
            tunnel_id: readiness.model_dump(mode="json", by_alias=True)
            for tunnel_id, readiness in tunnels.items()
        },
    )
    path = f"/leases/{_segment(lease_id, 'lease_id')}/heartbeat"
    return Call(
        "POST", path, HeartbeatResponse.model_validate, json=body, token=agent_token or None
    )


def refresh_lease(lease_id: str, *, ttl_seconds: int | None) -> Call[Lease]:
    """``POST /v1/leases/{leaseId}/refresh``."""
    path = f"/leases/{_segment(lease_id, 'lease_id')}/refresh"
    return Call("POST", path, Lease.model_validate, json=_body(ttl_seconds=ttl_seconds))


def release_lease(lease_id: str) -> Call[Lease]:
    """``POST /v1/leases/{leaseId}/release``."""
    path = f"/leases/{_segment(lease_id, 'lease_id')}/release"
    return Call("POST", path, Lease.model_validate)


def list_agents() -> Call[list[Agent]]:
    """``GET /v1/agents``."""
    return Call("GET", "/agents", _many(Agent))


# --- relay leases --------------------------------------------------------------------------


def create_relay_lease(
    client_instance_id: str,
    target: TargetLike,
    *,
    host: str | None,
    name: str | None,
    ttl_seconds: int | None,
    metadata: Mapping[str, Any] | None,
) -> Call[RelayLeaseGrant]:
    """``POST /v1/relay-leases``."""
    body = _body(
        client_instance_id=client_instance_id,
        target=target_json(target, host),
        name=name,
        ttl_seconds=ttl_seconds,
        metadata=None if metadata is None else dict(metadata),
    )
    return Call("POST", "/relay-leases", RelayLeaseGrant.model_validate, json=body)


def get_relay_lease(relay_lease_id: str) -> Call[RelayLease]:
    """``GET /v1/relay-leases/{relayLeaseId}``."""
    path = f"/relay-leases/{_segment(relay_lease_id, 'relay_lease_id')}"
    return Call("GET", path, RelayLease.model_validate)


def close_relay_lease(relay_lease_id: str) -> Call[RelayLease]:
    """``DELETE /v1/relay-leases/{relayLeaseId}``."""
    path = f"/relay-leases/{_segment(relay_lease_id, 'relay_lease_id')}"
    return Call("DELETE", path, RelayLease.model_validate)


def refresh_worker_token(relay_lease_id: str) -> Call[WorkerToken]:
    """``POST /v1/relay-leases/{relayLeaseId}/worker-token``."""
    path = f"/relay-leases/{_segment(relay_lease_id, 'relay_lease_id')}/worker-token"
    return Call("POST", path, WorkerToken.model_validate)


# --- shares --------------------------------------------------------------------------------


def create_share(
    tunnel: str,
    name: str,
    *,
    expiration: ShareExpiration | str,
    allowed_methods: Sequence[str] | None,
    rate_limit_per_minute: int | None,
    path_prefix: str | None,
    description: str | None,
) -> Call[ShareGrant]:
    """``POST /v1/tunnels/{tunnelId}/shares``."""
    body = _body(
        name=name,
        description=description,
        expiration=str(expiration),
        allowed_methods=None if allowed_methods is None else list(allowed_methods),
        rate_limit_per_minute=rate_limit_per_minute,
        path_prefix=path_prefix,
    )
    path = f"/tunnels/{_segment(tunnel, 'tunnel')}/shares"
    return Call("POST", path, ShareGrant.model_validate, json=body)


def list_shares(tunnel: str) -> Call[list[Share]]:
    """``GET /v1/tunnels/{tunnelId}/shares``."""
    return Call("GET", f"/tunnels/{_segment(tunnel, 'tunnel')}/shares", _many(Share))


def get_share(share_id: str) -> Call[Share]:
    """``GET /v1/shares/{shareId}``."""
    return Call("GET", f"/shares/{_segment(share_id, 'share_id')}", Share.model_validate)


def revoke_share(share_id: str) -> Call[Share]:
    """``DELETE /v1/shares/{shareId}``."""
    return Call("DELETE", f"/shares/{_segment(share_id, 'share_id')}", Share.model_validate)


# --- webhooks ------------------------------------------------------------------------------


def create_webhook(
    url: str, events: Sequence[WebhookEvent | str], *, description: str | None
) -> Call[WebhookGrant]:
    """``POST /v1/webhooks``."""
    if isinstance(events, str):  # one event name is not a list of its letters
        events = [events]
    body = _body(url=url, events=[str(event) for event in events], description=description)
    return Call("POST", "/webhooks", WebhookGrant.model_validate, json=body)


def list_webhooks() -> Call[list[Webhook]]:
    """``GET /v1/webhooks``."""
    return Call("GET", "/webhooks", _many(Webhook))


def get_webhook(webhook_id: str) -> Call[Webhook]:
    """``GET /v1/webhooks/{webhookId}``."""
    return Call("GET", f"/webhooks/{_segment(webhook_id, 'webhook_id')}", Webhook.model_validate)


def delete_webhook(webhook_id: str) -> Call[Webhook]:
    """``DELETE /v1/webhooks/{webhookId}``."""
    path = f"/webhooks/{_segment(webhook_id, 'webhook_id')}"
    return Call("DELETE", path, Webhook.model_validate)


def test_webhook(webhook_id: str) -> Call[WebhookDelivery]:
    """``POST /v1/webhooks/{webhookId}/test``."""
    path = f"/webhooks/{_segment(webhook_id, 'webhook_id')}/test"
    return Call("POST", path, WebhookDelivery.model_validate)


def list_webhook_deliveries(webhook_id: str) -> Call[list[WebhookDelivery]]:
    """``GET /v1/webhooks/{webhookId}/deliveries``."""
    path = f"/webhooks/{_segment(webhook_id, 'webhook_id')}/deliveries"
    return Call("GET", path, _many(WebhookDelivery))


# --- connections (reach) -------------------------------------------------------------------


def connect_tunnel(
    tunnel: str, agent_id: str, *, local_port: int | None, share_token: str | None
) -> Call[ReachConnection]:
    """``POST /v1/tunnels/{tunnelId}/connect``."""
    body = _body(agent_id=agent_id, local_port=local_port, share_token=share_token)
    path = f"/tunnels/{_segment(tunnel, 'tunnel')}/connect"
    return Call("POST", path, ReachConnection.model_validate, json=body)


def list_connections(include_inactive: bool) -> Call[list[ReachConnection]]:
    """``GET /v1/connections``."""
    params = {"includeInactive": _flag(include_inactive)}
    return Call("GET", "/connections", _many(ReachConnection), params=params)


def get_connection(connection_id: str) -> Call[ReachConnection]:
    """``GET /v1/connections/{connectionId}``."""
    path = f"/connections/{_segment(connection_id, 'connection_id')}"
    return Call("GET", path, ReachConnection.model_validate)


def close_connection(connection_id: str) -> Call[ReachConnection]:
    """``DELETE /v1/connections/{connectionId}``."""
    path = f"/connections/{_segment(connection_id, 'connection_id')}"
    return Call("DELETE", path, ReachConnection.model_validate)
