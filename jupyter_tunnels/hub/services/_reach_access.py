"""Who may reach which tunnel, judged when a connection is asked for and on every stream.

A connection is for a live tunnel (not udp) the caller owns, or one a share token of it allows
``CONNECT`` on; it is bound by one of the caller's agents that has a control channel up. Each
stream it carries is judged again: the reach token, the tunnel still open and the caller's,
or the share still valid and within its rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..._core.errors import ErrorCode
from ..._core.models import LeaseStatus, Protocol, Tunnel
from ..._core.status import LIVE_STATUSES, TunnelStatus
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now
from ..store._owners import tokens_equal
from ._reach_rows import LiveConnection
from ._share_rules import judge

if TYPE_CHECKING:
    from ._agents import AgentRegistry
    from ._routing import Route, Router
    from ._tunnels import TunnelService

__all__ = ["agent_offline", "check_stream", "online_lease", "reachable", "share_revoked"]


async def reachable(
    conn: AsyncConnection,
    tunnels: TunnelService,
    router: Router,
    owner_id: str,
    ref: str,
    share_token: str | None,
) -> tuple[Tunnel, tuple[str, str] | None]:
    """The tunnel, and ``(share id, share token hash)`` when a share allows it."""
    if share_token is None:
        tunnel = tunnels.to_model(await tunnels.find_row(conn, owner_id, ref))
        share = None
    else:
        rule = router.share_for_token(share_token)
        if rule is None:
            raise HubError(ErrorCode.INVALID_SHARE, "the share token is not valid")
        tunnel = await tunnels.load(conn, rule.tunnel_id)
        if ref not in (tunnel.id, tunnel.slug):
            raise HubError(ErrorCode.INVALID_SHARE, f"the share is not for tunnel {ref!r}")
        refusal = judge(rule, tunnel.id, "CONNECT", "/", now(), consume=False)
        if refusal is not None:
            raise HubError(refusal.code, refusal.message, refusal.details)
        share = (rule.share_id, rule.token_hash)
    if tunnel.status not in LIVE_STATUSES or tunnel.status is TunnelStatus.STOPPING:
        raise HubError(
            ErrorCode.ILLEGAL_TRANSITION,
            f"tunnel {tunnel.slug!r} is {tunnel.status.value}: only a live tunnel is reached",
            {"status": tunnel.status.value},
        )
    if tunnel.protocol is Protocol.UDP:
        raise HubError(  # a fact about the tunnel, not about the request: 409, not 400
            ErrorCode.UNSUPPORTED_PROTOCOL,
            "udp tunnels cannot be reached as a local TCP port",
            {"protocol": "udp"},
        )
    return tunnel, share


async def online_lease(
    conn: AsyncConnection, agents: AgentRegistry, owner_id: str, agent_id: str
) -> str:
    """The live lease of one of the caller's agents that has a control channel up."""
    agent = (
        await conn.execute(
            select(t.agents.c.id).where(t.agents.c.id == agent_id, t.agents.c.owner_id == owner_id)
        )
    ).first()
    if agent is None:
        raise HubError(
            ErrorCode.AGENT_NOT_FOUND, f"no agent {agent_id!r} of yours", {"agent": agent_id}
        )
    leases = (
        await conn.execute(
            select(t.leases.c.id).where(
                t.leases.c.agent_id == agent_id,
                t.leases.c.status == LeaseStatus.ACTIVE.value,
                t.leases.c.expires_at > now(),
            )
        )
    ).scalars()
    for lease_id in leases:
        session = agents.sessions.get(lease_id)
        if session is not None and not session.closed:
            return str(lease_id)
    raise agent_offline(agent_id)


def check_stream(
    live: LiveConnection | None, router: Router, token: str
) -> tuple[LiveConnection, Route]:
    """The connection (``live``, None if unknown) and tunnel route a reach stream presenting
    ``token`` is for; :class:`HubError` if the stream is refused."""
    if live is None or not token or not tokens_equal(token, live.token_hash):
        raise HubError(
            ErrorCode.INVALID_TOKEN, "unknown connection or reach token for a reach stream"
        )
    route = router.by_id.get(live.tunnel_id)
    if route is None:
        raise HubError(ErrorCode.TUNNEL_NOT_FOUND, "the reached tunnel is no longer open")
    if live.share_token_hash is not None:
        rule = router.shares.get(live.share_token_hash)
        refusal = judge(rule, route.tunnel_id, "CONNECT", "/", now())
        if refusal is not None:
            raise HubError(refusal.code, refusal.message, refusal.details)
    elif route.owner_id != live.owner_id:
        raise HubError(ErrorCode.TUNNEL_NOT_FOUND, "the reached tunnel is no longer yours")
    if not route.accepting:
        raise HubError(
            ErrorCode.AGENT_UNAVAILABLE, f"tunnel {route.slug!r} is {route.status.value}"
        )
    return live, route


def share_revoked(router: Router, token_hash: str) -> bool:
    """Whether the share of this token hash was revoked (or is gone from the router)."""
    rule = router.shares.get(token_hash)
    return rule is None or rule.revoked


def agent_offline(agent_id: str) -> HubError:
    """The error for a reach through an agent with no control channel up."""
    return HubError(
        ErrorCode.AGENT_UNAVAILABLE,
        f"agent {agent_id!r} is offline: start its connector (or the Jupyter server) first",
        {"agent": agent_id},
    )
