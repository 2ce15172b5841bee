# Generated from jupyter_tunnels/client/_async/_tunnels.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""Tunnels: create, list, change, point elsewhere and close them; read their traffic."""

from __future__ import annotations

import builtins  # the client has a method named list: annotations say builtins.list
from collections.abc import Mapping
from typing import Any

from ..._core.models import (
    Access,
    Protocol,
    RequestLogEntry,
    Tunnel,
    TunnelMetrics,
    TunnelStatus,
)
from .. import _calls
from .._calls import TargetLike
from ._core import ClientCore

__all__ = ["TunnelMethods"]


class TunnelMethods(ClientCore):
    """The methods of :class:`TunnelsClient` for ``/v1/tunnels``."""

    def list(
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
        return self._send(_calls.list_tunnels(include_inactive, status, lease_id))

    def create(
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
        return self._send(call)

    def get(self, tunnel_id: str) -> Tunnel:
        """One tunnel, by id or by slug."""
        return self._send(_calls.get_tunnel(tunnel_id))

    def update(
        self,
        tunnel_id: str,
        *,
        name: str | None = None,
        status: TunnelStatus | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        lease_id: str | None = None,
        last_error: str | None = None,
    ) -> Tunnel:
        """Change a tunnel; arguments left as None stay as they are.

        :param status: ``paused`` to refuse new visitors, ``active`` to resume, ``failed``
            (with ``last_error``) to end it because what it served failed.
        :param metadata: replaces the whole metadata object.
        :param lease_id: bind a ``creating`` tunnel to an agent lease.
        :param last_error: why it failed (1 to 1000 characters); only with ``failed``.
        :raises IllegalTransition: the status change is not allowed from the current one.
        """
        call = _calls.update_tunnel(
            tunnel_id,
            name=name,
            status=status,
            metadata=metadata,
            lease_id=lease_id,
            last_error=last_error,
        )
        return self._send(call)

    def delete(self, tunnel_id: str) -> Tunnel:
        """Close a tunnel; it stays listed with ``include_inactive`` and is returned stopped."""
        return self._send(_calls.delete_tunnel(tunnel_id))

    def rotate(
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
        return self._send(_calls.rotate_tunnel(tunnel_id, target, host=host, reason=reason))

    def tunnel_requests(
        self, tunnel_id: str, *, limit: int | None = None
    ) -> builtins.list[RequestLogEntry]:
        """A tunnel's recent HTTP requests, newest first (the hub keeps the last 200).

        Paths come without their query strings; no headers, no bodies (docs/traffic.md).

        :param limit: at most this many (1 to 200; the hub's default is 50).
        :raises NotFound: no such tunnel of yours.
        """
        return self._send(_calls.list_tunnel_requests(tunnel_id, limit))

    def tunnel_metrics(self, tunnel_id: str) -> TunnelMetrics:
        """A tunnel's traffic counters since the hub started, with latency quantiles.

        :raises NotFound: no such tunnel of yours.
        """
        return self._send(_calls.get_tunnel_metrics(tunnel_id))
