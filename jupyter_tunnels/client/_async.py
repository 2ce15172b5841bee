"""The asyncio client, over :class:`httpx.AsyncClient`: native async, no threads."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

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
    Tunnel,
    TunnelMetrics,
    TunnelStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookGrant,
    WorkerToken,
)
from . import _calls
from ._base import BaseTunnelsClient
from ._calls import Call, TargetLike
from ._config import DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT
from ._exceptions import ConfigurationError

__all__ = ["AsyncTunnelsClient"]

T = TypeVar("T")
C = TypeVar("C", bound="AsyncTunnelsClient")


class AsyncTunnelsClient(BaseTunnelsClient):
    """Script everything a hub does: tunnels, agent leases, relay leases. Async.

    The same methods, with the same arguments and results, as :class:`TunnelsClient`; each
    is a coroutine, run on the caller's event loop (a Jupyter kernel's, for instance).

    ::

        async with AsyncTunnelsClient() as client:  # JUPYTER_TUNNELS_HUB, _TOKEN
            tunnel = await client.create(8050, name="dashboard")
            print(tunnel.url)

    :param hub_url: the hub's base URL; defaults to ``$JUPYTER_TUNNELS_HUB``.
    :param token: the API token; defaults to ``$JUPYTER_TUNNELS_TOKEN``. Only ``health`` works
        without one.
    :param timeout: seconds to wait to connect, to send, and for each read of an answer.
    :param retries: extra attempts after a connection failure. A call that could not connect is
        retried whatever its method, since nothing reached the hub; a call whose connection
        broke after the request went out is retried only if its method is idempotent (GET,
        PUT, PATCH, DELETE); a hub that is slow to answer is not retried.
    :param retry_backoff: seconds before the first retry; each next one waits twice as long.
    :param transport: an :class:`httpx.AsyncBaseTransport` to send through (tests, custom TLS).
    :param http_client: an :class:`httpx.AsyncClient` to use instead of the client's own; it
        is left open by :meth:`aclose`.
    :raises ConfigurationError: no hub URL, a malformed one, or a negative setting.
    """

    def __init__(
        self,
        hub_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            hub_url, token, timeout=timeout, retries=retries, retry_backoff=retry_backoff
        )
        if transport is not None and http_client is not None:
            raise ConfigurationError("give transport= or http_client=, not both")
        self._owns_http = http_client is None
        self._http = (
            http_client if http_client is not None else httpx.AsyncClient(transport=transport)
        )

    async def aclose(self) -> None:
        """Close the connections (an ``http_client`` passed in stays open)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self: C) -> C:
        """Return the client itself, to be closed when the block ends."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        """Send ``call``, retrying as the class docstring says, and read its answer."""
        request = self._build_request(self._http, call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            # A try in a loop costs nothing next to a network round trip.
            except httpx.RequestError as error:  # noqa: PERF203
                delay = self._retry_delay(request, error, attempt)
                if delay is None:
                    raise self._transport_error(request, error, attempt + 1) from error
                attempt += 1
                await asyncio.sleep(delay)
            else:
                return self._read(call, response)

    # --- hub -------------------------------------------------------------------------------

    async def health(self) -> Health:
        """The hub's status, version, uptime and store; with a token, the caller's counts."""
        return await self._send(_calls.health())

    # --- tunnels ---------------------------------------------------------------------------

    async def list(
        self,
        *,
        include_inactive: bool = False,
        status: TunnelStatus | str | None = None,
        lease_id: str | None = None,
    ) -> builtins.list[Tunnel]:
        """The caller's tunnels, oldest first.

        :param include_inactive: also list ``stopped`` and ``failed`` tunnels.
        :param status: only tunnels in this status.
        :param lease_id: only tunnels served by this lease.
        """
        return await self._send(_calls.list_tunnels(include_inactive, status, lease_id))

    async def create(
        self,
        target: TargetLike,
        *,
        host: str | None = None,
        name: str | None = None,
        slug: str | None = None,
        protocol: Protocol | str = Protocol.AUTO,
        access: Access | str = Access.PRIVATE,
        lease_id: str | None = None,
        hub_port: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Tunnel:
        """Create a tunnel to a local service: ``create(8050)``, ``create("db:5432")``.

        :param target: a port, ``"host:port"``, or a :class:`Target`.
        :param host: the host of a bare port (default ``127.0.0.1``).
        :param name: 1 to 100 characters; made up from the port when omitted.
        :param slug: the URL's name; chosen by the hub when omitted.
        :param protocol: ``auto`` (from the port), ``http``, ``https``, ``tcp`` or ``udp``.
        :param access: ``private`` (the owner only) or ``public`` (anyone with the URL).
        :param lease_id: the agent lease that serves it; without one it stays ``creating``.
        :param hub_port: the hub's port for a TCP or UDP tunnel; chosen when omitted.
        :param metadata: any JSON object, stored and returned.
        :raises SlugTaken: the slug is in use or reserved.
        """
        call = _calls.create_tunnel(
            target,
            host=host,
            name=name,
            slug=slug,
            protocol=protocol,
            access=access,
            lease_id=lease_id,
            hub_port=hub_port,
            metadata=metadata,
        )
        return await self._send(call)

    async def get(self, tunnel_id: str) -> Tunnel:
        """One tunnel, by id or by slug."""
        return await self._send(_calls.get_tunnel(tunnel_id))

    async def update(
        self,
        tunnel_id: str,
        *,
        name: str | None = None,
        status: TunnelStatus | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        lease_id: str | None = None,
    ) -> Tunnel:
        """Change a tunnel; arguments left as None stay as they are.

        :param status: ``paused`` to refuse new visitors, ``active`` to resume.
        :param metadata: replaces the whole metadata object.
        :param lease_id: bind a ``creating`` tunnel to an agent lease.
        :raises IllegalTransition: the status change is not allowed from the current one.
        """
        call = _calls.update_tunnel(
            tunnel_id, name=name, status=status, metadata=metadata, lease_id=lease_id
        )
        return await self._send(call)

    async def delete(self, tunnel_id: str) -> Tunnel:
        """Close a tunnel; it stays listed with ``include_inactive`` and is returned stopped."""
        return await self._send(_calls.delete_tunnel(tunnel_id))

    async def rotate(
        self,
        tunnel_id: str,
        target: TargetLike,
        *,
        host: str | None = None,
        reason: str | None = None,
    ) -> Tunnel:
        """Point a live tunnel at a new local target; its URL stays the same.

        :param target: a port, ``"host:port"``, or a :class:`Target`.
        :param host: the host of a bare port (default ``127.0.0.1``).
        :param reason: a note of up to 500 characters.
        """
        return await self._send(_calls.rotate_tunnel(tunnel_id, target, host=host, reason=reason))

    async def tunnel_requests(
        self, tunnel_id: str, *, limit: int | None = None
    ) -> builtins.list[RequestLogEntry]:
        """A tunnel's recent HTTP requests, newest first (the hub keeps the last 200).

        Paths come without their query strings; no headers, no bodies (docs/traffic.md).

        :param limit: at most this many (1 to 200; the hub's default is 50).
        :raises NotFound: no such tunnel of yours.
        """
        return await self._send(_calls.list_tunnel_requests(tunnel_id, limit))

    async def tunnel_metrics(self, tunnel_id: str) -> TunnelMetrics:
        """A tunnel's traffic counters since the hub started, with latency quantiles.

        :raises NotFound: no such tunnel of yours.
        """
        return await self._send(_calls.get_tunnel_metrics(tunnel_id))

    # --- agents and leases -----------------------------------------------------------------

    async def create_lease(
        self,
        client_instance_id: str,
        *,
        idempotency_key: str | None = None,
        ttl_seconds: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> LeaseGrant:
        """Create a lease for an agent, or attach to its live one (``grant.created`` tells).

        The grant carries a new agent token, shown this once.

        :param client_instance_id: the agent's stable identity.
        :param idempotency_key: makes a retried create attach to the same lease.
        :param ttl_seconds: seconds the lease lives after each heartbeat (the hub's default
            when omitted).
        :param metadata: any JSON object, stored and returned.
        """
        call = _calls.create_lease(
            client_instance_id,
            idempotency_key=idempotency_key,
            ttl_seconds=ttl_seconds,
            metadata=metadata,
        )
        return await self._send(call)

    async def get_lease(self, lease_id: str) -> Lease:
        """One lease."""
        return await self._send(_calls.get_lease(lease_id))

    async def heartbeat(
        self,
        lease_id: str,
        *,
        connected_to_hub: bool = False,
        local_ready: bool = False,
        last_error: str | None = None,
        agent_token: str | None = None,
    ) -> HeartbeatResponse:
        """Keep a lease alive and report the connector's readiness.

        :param connected_to_hub: the connector holds its connection to the hub.
        :param local_ready: the local target answers.
        :param last_error: the connector's last problem, if any.
        :param agent_token: authenticate with the lease's agent token instead of the API token.
        :raises LeaseExpired: the lease missed its heartbeats; create a new one.
        """
        call = _calls.heartbeat(
            lease_id,
            connected_to_hub=connected_to_hub,
            local_ready=local_ready,
            last_error=last_error,
            agent_token=agent_token,
        )
        return await self._send(call)

    async def release_lease(self, lease_id: str) -> Lease:
        """End a lease by choice: its tunnels stop, its record stays."""
        return await self._send(_calls.release_lease(lease_id))

    async def refresh_lease(self, lease_id: str, *, ttl_seconds: int | None = None) -> Lease:
        """Extend a lease from now, by its TTL or by a new ``ttl_seconds``."""
        return await self._send(_calls.refresh_lease(lease_id, ttl_seconds=ttl_seconds))

    async def delete_lease(self, lease_id: str) -> Lease:
        """Remove a lease (its tunnels stop) and return it as it was last."""
        return await self._send(_calls.delete_lease(lease_id))

    async def list_leases(
        self, *, client_instance_id: str | None = None, include_expired: bool = False
    ) -> builtins.list[Lease]:
        """The caller's active leases, or one agent's; with ``include_expired``, ended ones too."""
        return await self._send(_calls.list_leases(client_instance_id, include_expired))

    async def list_agents(self) -> builtins.list[Agent]:
        """The caller's agents (connector instances), online or not."""
        return await self._send(_calls.list_agents())

    # --- relay leases ----------------------------------------------------------------------

    async def create_relay_lease(
        self,
        client_instance_id: str,
        target: TargetLike,
        *,
        host: str | None = None,
        name: str | None = None,
        ttl_seconds: int | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> RelayLeaseGrant:
        """Create a lease plus a tunnel whose visitors must show the worker token.

        The grant carries the agent token and the worker token, shown this once.

        :param client_instance_id: the agent's stable identity.
        :param target: a port, ``"host:port"``, or a :class:`Target`.
        :param host: the host of a bare port (default ``127.0.0.1``).
        :param name: the tunnel's name; made up from the port when omitted.
        :param ttl_seconds: seconds the lease lives after each heartbeat.
        :param metadata: any JSON object, stored and returned.
        """
        call = _calls.create_relay_lease(
            client_instance_id,
            target,
            host=host,
            name=name,
            ttl_seconds=ttl_seconds,
            metadata=metadata,
        )
        return await self._send(call)

    async def get_relay_lease(self, relay_lease_id: str) -> RelayLease:
        """One relay lease (without its tokens)."""
        return await self._send(_calls.get_relay_lease(relay_lease_id))

    async def close_relay_lease(self, relay_lease_id: str) -> RelayLease:
        """Close a relay lease: its lease ends and its tunnel stops."""
        return await self._send(_calls.close_relay_lease(relay_lease_id))

    async def refresh_worker_token(self, relay_lease_id: str) -> WorkerToken:
        """Rotate a relay lease's worker token; the old one stops working at once."""
        return await self._send(_calls.refresh_worker_token(relay_lease_id))

    # --- shares ----------------------------------------------------------------------------

    async def create_share(
        self,
        tunnel: str,
        name: str,
        *,
        expiration: ShareExpiration | str = ShareExpiration.ONE_DAY,
        allowed_methods: Sequence[str] | None = None,
        rate_limit_per_minute: int | None = None,
        path_prefix: str | None = None,
        description: str | None = None,
    ) -> ShareGrant:
        """Create a share link to one of your tunnels (docs/shares.md).

        The grant carries ``share_url`` and ``token``, shown this once. Anyone with the link
        reaches the tunnel within its limits, without an account.

        :param tunnel: the tunnel's id or slug.
        :param name: 1 to 100 characters, for you.
        :param expiration: ``1h``, ``24h`` (default), ``7d``, ``30d`` or ``never``.
        :param allowed_methods: e.g. ``["GET", "HEAD"]``; None allows every method
            (``CONNECT`` allows reach, ``jupyter-tunnels connect``).
        :param rate_limit_per_minute: 1 to 1000 requests a minute; None: no limit.
        :param path_prefix: only paths under this one (``/api``); None: the whole tunnel.
        :param description: a note of up to 500 characters.
        :raises NotFound: no such tunnel of yours.
        :raises BadRequest: a bad name, expiration, method, rate or prefix.
        """
        call = _calls.create_share(
            tunnel,
            name,
            expiration=expiration,
            allowed_methods=allowed_methods,
            rate_limit_per_minute=rate_limit_per_minute,
            path_prefix=path_prefix,
            description=description,
        )
        return await self._send(call)

    async def list_shares(self, tunnel: str) -> builtins.list[Share]:
        """A tunnel's shares, oldest first, with access counts (revoked and expired too)."""
        return await self._send(_calls.list_shares(tunnel))

    async def get_share(self, share_id: str) -> Share:
        """One share (without its token)."""
        return await self._send(_calls.get_share(share_id))

    async def revoke_share(self, share_id: str) -> Share:
        """Revoke a share: its link answers 403 from now on. Revoking twice changes nothing."""
        return await self._send(_calls.revoke_share(share_id))

    # --- webhooks --------------------------------------------------------------------------

    async def create_webhook(
        self,
        url: str,
        events: Sequence[WebhookEvent | str],
        *,
        description: str | None = None,
    ) -> WebhookGrant:
        """Have the hub POST signed events to ``url`` (docs/webhooks.md).

        The grant carries the signing secret, shown this once: keep it to verify
        ``X-Tunnels-Signature``.

        :param url: an ``http`` or ``https`` URL.
        :param events: event names (:class:`WebhookEvent`), or ``["*"]`` for all.
        :param description: a note of up to 500 characters.
        :raises BadRequest: a malformed URL, no events, or an unknown one.
        """
        return await self._send(_calls.create_webhook(url, events, description=description))

    async def list_webhooks(self) -> builtins.list[Webhook]:
        """The caller's webhooks, oldest first (without their secrets)."""
        return await self._send(_calls.list_webhooks())

    async def get_webhook(self, webhook_id: str) -> Webhook:
        """One webhook (without its secret)."""
        return await self._send(_calls.get_webhook(webhook_id))

    async def delete_webhook(self, webhook_id: str) -> Webhook:
        """Delete a webhook; deliveries not made yet are dropped."""
        return await self._send(_calls.delete_webhook(webhook_id))

    async def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        """Queue a ``webhook.test`` delivery (returned ``pending``; the worker sends it)."""
        return await self._send(_calls.test_webhook(webhook_id))

    async def list_webhook_deliveries(self, webhook_id: str) -> builtins.list[WebhookDelivery]:
        """The webhook's last 50 deliveries, newest first, with their attempts."""
        return await self._send(_calls.list_webhook_deliveries(webhook_id))

    # --- connections (reach) ---------------------------------------------------------------

    async def connect(
        self,
        tunnel: str,
        agent_id: str,
        *,
        local_port: int | None = None,
        share_token: str | None = None,
    ) -> ReachConnection:
        """Reach a tunnel as a local port of one of your agents (docs/reach.md).

        The agent binds ``127.0.0.1:local_port`` and carries each connection made there to
        the tunnel; this returns once it has, with the ``address`` and a
        ``connection_string`` for what the tunnel speaks (``redis://127.0.0.1:6379``).

        :param tunnel: the tunnel's id or slug.
        :param agent_id: one of your agents (:meth:`list_agents`), online.
        :param local_port: the port to bind; None: any free one.
        :param share_token: a share token of the tunnel that allows ``CONNECT``, to reach a
            tunnel you do not own.
        :raises NotFound: no such tunnel or agent of yours.
        :raises Conflict: the port is taken on the agent's machine (``PORT_IN_USE``).
        :raises ServerError: the agent is offline or did not answer (503).
        """
        call = _calls.connect_tunnel(
            tunnel, agent_id, local_port=local_port, share_token=share_token
        )
        return await self._send(call)

    async def list_connections(
        self, *, include_inactive: bool = False
    ) -> builtins.list[ReachConnection]:
        """Your open connections, oldest first; closed and failed ones too with
        ``include_inactive``."""
        return await self._send(_calls.list_connections(include_inactive))

    async def get_connection(self, connection_id: str) -> ReachConnection:
        """One of your connections."""
        return await self._send(_calls.get_connection(connection_id))

    async def close_connection(self, connection_id: str) -> ReachConnection:
        """Close a connection: its port is released when this returns. Closing twice is a
        no-op."""
        return await self._send(_calls.close_connection(connection_id))
