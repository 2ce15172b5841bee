"""``/v1/leases`` and ``/v1/agents``: leases, heartbeats, and the agents holding them."""

from __future__ import annotations

from ..._core.models import HeartbeatAction, HeartbeatRequest, LeaseCreate, LeaseRefresh
from ..services._agents import AgentRegistry
from ..services._leases import LeaseService
from ..services._owners import OwnerService
from ._base import ApiHandler

__all__ = [
    "AgentsHandler",
    "HeartbeatHandler",
    "LeaseHandler",
    "LeaseRefreshHandler",
    "LeaseReleaseHandler",
    "LeasesHandler",
]


class _LeaseApi(ApiHandler):
    """A handler of the leases resource."""

    leases: LeaseService
    agents: AgentRegistry

    def initialize(self, owners: OwnerService, leases: LeaseService, agents: AgentRegistry) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.leases = leases
        self.agents = agents


class LeasesHandler(_LeaseApi):
    """``/v1/leases``: list and create-or-attach."""

    async def get(self) -> None:
        """List the caller's leases."""
        leases = await self.leases.list(
            self.owner,
            client_instance_id=self.get_query_argument("clientInstanceId", None),
            include_expired=self.query_bool("includeExpired"),
        )
        self.send(leases)

    async def post(self) -> None:
        """Create a lease, or attach to the agent's live one."""
        grant = await self.leases.create_or_attach(self.owner, self.body_as(LeaseCreate))
        self.send(grant, 201 if grant.created else 200)


class LeaseHandler(_LeaseApi):
    """``/v1/leases/{leaseId}``: get and delete."""

    async def get(self, lease_id: str) -> None:
        """Get a lease."""
        self.send(await self.leases.get(self.owner, lease_id))

    async def delete(self, lease_id: str) -> None:
        """Delete a lease; its tunnels stop."""
        self.send(await self.leases.delete(self.owner, lease_id))


class HeartbeatHandler(_LeaseApi):
    """``/v1/leases/{leaseId}/heartbeat``: accepts the owner's API token or the agent token."""

    async def authorize_other(self, token: str | None) -> bool:
        """Let the lease's own agent token in, for this lease only."""
        if token is None:
            return False
        found = await self.leases.lease_for_agent_token(token)
        lease_id = self.path_kwargs.get("lease_id")
        if found is None or found[1] != lease_id:
            return False
        self.owner_id = found[0]
        return True

    async def post(self, lease_id: str) -> None:
        """Report readiness; the answer says when to beat next and what to do (``reconnect``
        when the connector thinks it is attached but the hub holds no session for it)."""
        body = self.body_as(HeartbeatRequest)
        answer = await self.leases.heartbeat(self.owner, lease_id, body)
        session = self.agents.sessions.get(lease_id)
        detached = session is None or session.closed
        if body.connected_to_hub and detached and answer.action is HeartbeatAction.NONE:
            answer = answer.model_copy(update={"action": HeartbeatAction.RECONNECT})
        self.send(answer)


class LeaseRefreshHandler(_LeaseApi):
    """``/v1/leases/{leaseId}/refresh``."""

    async def post(self, lease_id: str) -> None:
        """Extend the lease's TTL from now."""
        body = self.body_as(LeaseRefresh)
        self.send(await self.leases.refresh(self.owner, lease_id, body))


class LeaseReleaseHandler(_LeaseApi):
    """``/v1/leases/{leaseId}/release``."""

    async def post(self, lease_id: str) -> None:
        """Release the lease; its record stays."""
        self.send(await self.leases.release(self.owner, lease_id))


class AgentsHandler(_LeaseApi):
    """``/v1/agents``."""

    async def get(self) -> None:
        """List the caller's agents."""
        self.send(await self.leases.list_agents(self.owner))
