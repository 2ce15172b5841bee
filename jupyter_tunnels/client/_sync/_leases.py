# Generated from jupyter_tunnels/client/_async/_leases.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""Agent leases and their heartbeats, agents, and relay leases (a lease plus a token tunnel)."""

from __future__ import annotations

import builtins  # the client has a method named list: annotations say builtins.list
from collections.abc import Mapping
from typing import Any

from ..._core.models import (
    Agent,
    HeartbeatResponse,
    Lease,
    LeaseGrant,
    RelayLease,
    RelayLeaseGrant,
    TunnelReadiness,
    WorkerToken,
)
from .. import _calls
from .._calls import TargetLike
from ._core import ClientCore

__all__ = ["LeaseMethods"]


class LeaseMethods(ClientCore):
    """The methods of :class:`TunnelsClient` for agent leases, agents and relay leases."""

    # --- agents and leases -----------------------------------------------------------------

    def create_lease(
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
        return self._send(call)

    def get_lease(self, lease_id: str) -> Lease:
        """One lease."""
        return self._send(_calls.get_lease(lease_id))

    def heartbeat(
        self,
        lease_id: str,
        *,
        connected_to_hub: bool = False,
        local_ready: bool = False,
        last_error: str | None = None,
        tunnels: Mapping[str, TunnelReadiness] | None = None,
        agent_token: str | None = None,
    ) -> HeartbeatResponse:
        """Keep a lease alive and report the connector's readiness.

        :param connected_to_hub: the connector holds its connection to the hub.
        :param local_ready: every local target answers.
        :param last_error: the connector's last problem, if any.
        :param tunnels: readiness per tunnel id (whether that tunnel's own target answers);
            a tunnel of the lease it does not name takes ``local_ready`` and ``last_error``.
        :param agent_token: authenticate with the lease's agent token instead of the API token.
        :raises LeaseExpired: the lease missed its heartbeats; create a new one.
        """
        call = _calls.heartbeat(
            lease_id,
            connected_to_hub=connected_to_hub,
            local_ready=local_ready,
            last_error=last_error,
            tunnels=tunnels,
            agent_token=agent_token,
        )
        return self._send(call)

    def release_lease(self, lease_id: str) -> Lease:
        """End a lease by choice: its tunnels stop, its record stays."""
        return self._send(_calls.release_lease(lease_id))

    def refresh_lease(self, lease_id: str, *, ttl_seconds: int | None = None) -> Lease:
        """Extend a lease from now, by its TTL or by a new ``ttl_seconds``."""
        return self._send(_calls.refresh_lease(lease_id, ttl_seconds=ttl_seconds))

    def delete_lease(self, lease_id: str) -> Lease:
        """Remove a lease (its tunnels stop) and return it as it was last."""
        return self._send(_calls.delete_lease(lease_id))

    def list_leases(
        self, *, client_instance_id: str | None = None, include_expired: bool = False
    ) -> builtins.list[Lease]:
        """The caller's active leases, or one agent's; with ``include_expired``, ended ones too."""
        return self._send(_calls.list_leases(client_instance_id, include_expired))

    def list_agents(self) -> builtins.list[Agent]:
        """The caller's agents (connector instances), online or not."""
        return self._send(_calls.list_agents())

    # --- relay leases ----------------------------------------------------------------------

    def create_relay_lease(
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
        return self._send(call)

    def get_relay_lease(self, relay_lease_id: str) -> RelayLease:
        """One relay lease (without its tokens)."""
        return self._send(_calls.get_relay_lease(relay_lease_id))

    def close_relay_lease(self, relay_lease_id: str) -> RelayLease:
        """Close a relay lease: its lease ends and its tunnel stops."""
        return self._send(_calls.close_relay_lease(relay_lease_id))

    def refresh_worker_token(self, relay_lease_id: str) -> WorkerToken:
        """Rotate a relay lease's worker token; the old one stops working at once."""
        return self._send(_calls.refresh_worker_token(relay_lease_id))
