# Generated from jupyter_tunnels/client/_async/_shares.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""Giving access to a tunnel: share links for visitors without an account, and reach
connections that bring a tunnel to a local port of one of your agents."""

from __future__ import annotations

import builtins  # the client has a method named list: annotations say builtins.list
from collections.abc import Sequence

from ..._core.models import ReachConnection, Share, ShareExpiration, ShareGrant
from .. import _calls
from ._core import ClientCore

__all__ = ["ShareMethods"]


class ShareMethods(ClientCore):
    """The methods of :class:`TunnelsClient` for shares and for ``/v1/connections``."""

    # --- shares ----------------------------------------------------------------------------

    def create_share(
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
        return self._send(call)

    def list_shares(self, tunnel: str) -> builtins.list[Share]:
        """A tunnel's shares, oldest first, with access counts (revoked and expired too)."""
        return self._send(_calls.list_shares(tunnel))

    def get_share(self, share_id: str) -> Share:
        """One share (without its token)."""
        return self._send(_calls.get_share(share_id))

    def revoke_share(self, share_id: str) -> Share:
        """Revoke a share: its link answers 403 from now on. Revoking twice changes nothing."""
        return self._send(_calls.revoke_share(share_id))

    # --- connections (reach) ---------------------------------------------------------------

    def connect(
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
        return self._send(call)

    def list_connections(self, *, include_inactive: bool = False) -> builtins.list[ReachConnection]:
        """Your open connections, oldest first; closed and failed ones too with
        ``include_inactive``."""
        return self._send(_calls.list_connections(include_inactive))

    def get_connection(self, connection_id: str) -> ReachConnection:
        """One of your connections."""
        return self._send(_calls.get_connection(connection_id))

    def close_connection(self, connection_id: str) -> ReachConnection:
        """Close a connection: its port is released when this returns. Closing twice is a
        no-op."""
        return self._send(_calls.close_connection(connection_id))
