"""Reach: a tunnel used as a local port on one of the caller's agents (``connections``).

``POST /v1/tunnels/{id}/connect`` names an online agent of the caller; the hub records a
connection (``opening``), sends that agent a ``bind`` over its control channel with a reach
token made for this connection, and waits up to :data:`BIND_TIMEOUT` seconds for ``bound``.
The answer becomes the API's answer: ``201`` with the address (``open``), ``409
PORT_IN_USE``, ``400 INVALID_PORT`` (a privileged port), or ``503`` when the agent is offline
or silent (``failed``). For each local connection the agent opens a reach stream
(``hub/ingress/_reach_streams.py``) that the hub authorises with the token, judged again on
every stream: the connection must be open, the tunnel live and not paused, and the caller still
allowed (the tunnel's owner, or a share that allows ``CONNECT``, not revoked, not expired,
within its rate).

Who may: the agent must be the caller's, and the caller must own the tunnel or present a share
token of it. The reach token is stored hashed and only ever travels on the agent's control
channel.

Lifecycle: ``DELETE /v1/connections/{id}`` closes it and waits (bounded) for the agent's
``unbound``, so the port is free when the call returns. A tunnel that stops closes its
connections. When the agent's control channel drops, its connections stay open for the
lease's TTL: an agent that comes back on the same lease gets ``bind`` again (fresh token, same
port; a connector that kept running still holds the port) and carries on; otherwise they end
``closed``. A hub restart does the same for the connections it finds open.

Who may reach what is judged by ``_reach_access.py``; connections as rows are
``_reach_rows.py``.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from ..._core.errors import ErrorCode
from ..._core.models import ReachConnection, ReachCreate, ReachStatus
from ..._core.tasks import TaskSet
from ..._wire.protocol import Bind, Bound, Unbind, Unbound
from .._exceptions import HubError
from ..store import _tables as t
from ..store._clock import now
from ..store._owners import hash_token, new_token
from ._reach_access import agent_offline, check_stream, online_lease, reachable, share_revoked
from ._reach_rows import LiveConnection, connection_model, connection_row
from ._reach_schemes import detect_scheme

if TYPE_CHECKING:
    from .._config import HubConfig
    from ..store._engine import Store
    from ._agents import AgentRegistry, AgentSession
    from ._routing import Route, Router
    from ._tunnels import TunnelService

__all__ = ["BIND_TIMEOUT", "LOCAL_HOST", "REACH_TOKEN_PREFIX", "ReachService"]

log = logging.getLogger("jupyter_tunnels.hub")

BIND_TIMEOUT = 5.0
"""Seconds the API waits for the agent to bind (or release) a port."""
LOCAL_HOST = "127.0.0.1"
"""Where agents bind: loopback only, like every listener of this project by default."""
REACH_TOKEN_PREFIX = "jtr_"
"""The prefix of reach tokens: it names their role, like the other tokens' prefixes
(``hub/store/_owners.py``)."""
_LIVE = (ReachStatus.OPENING.value, ReachStatus.OPEN.value)


class ReachService:
    """Connections: their records, the agents' bind answers, and the streams' authorisation."""

    def __init__(
        self,
        store: Store,
        config: HubConfig,
        tunnels: TunnelService,
        router: Router,
        agents: AgentRegistry,
    ) -> None:
        self.store = store
        self.config = config
        self.tunnels = tunnels
        self.router = router
        self.agents = agents
        self.live: dict[str, LiveConnection] = {}
        self._tasks = TaskSet(log, "reach task")

    async def start(self) -> None:
        """Give the connections left open by a previous run the agent's grace period."""
        async with self.store.read() as conn:
            leases = (
                await conn.execute(
                    select(t.connections.c.lease_id)
                    .where(t.connections.c.status.in_(_LIVE))
                    .distinct()
                )
            ).scalars()
            for lease_id in leases:
                self._tasks.spawn(self._close_unless_back(lease_id))

    async def stop(self) -> None:
        """Stop the background work (hub shutdown); the records stay as they are."""
        await self._tasks.close()
        for live in self.live.values():
            live.abort_streams()
        self.live.clear()

    # --- the API -------------------------------------------------------------------------

    async def connect(self, owner_id: str, tunnel_ref: str, body: ReachCreate) -> ReachConnection:
        """Have the caller's agent bind a port for the tunnel; the open connection, or why not."""
        async with self.store.read() as conn:
            tunnel, share = await reachable(
                conn, self.tunnels, self.router, owner_id, tunnel_ref, body.share_token
            )
            lease_id = await online_lease(conn, self.agents, owner_id, body.agent_id)
        session = self.agents.sessions.get(lease_id)
        if session is None or session.closed:
            raise agent_offline(body.agent_id)
        scheme = detect_scheme(tunnel.protocol.value, tunnel.target.port, tunnel.metadata)
        token = new_token(REACH_TOKEN_PREFIX)
        connection_id = str(uuid.uuid4())
        async with self.store.write() as conn:
            await conn.execute(
                t.connections.insert().values(
                    id=connection_id,
                    owner_id=owner_id,
                    tunnel_id=tunnel.id,
                    agent_id=body.agent_id,
                    lease_id=lease_id,
                    share_id=share[0] if share else None,
                    share_token_hash=share[1] if share else None,
                    token_hash=hash_token(token),
                    local_host=LOCAL_HOST,
                    requested_port=body.local_port,
                    protocol=scheme,
                    status=ReachStatus.OPENING.value,
                    created_at=now(),
                )
            )
        live = LiveConnection(
            connection_id, owner_id, tunnel.id, lease_id, hash_token(token),
            share[1] if share else None,
        )  # fmt: skip
        self.live[connection_id] = live
        bind = Bind(connection_id, tunnel.id, tunnel.slug, LOCAL_HOST, body.local_port or 0, token)
        answer = await self._ask(session, live, bind)
        if not isinstance(answer, Bound) or not answer.ok:
            error = _bind_error(answer, body.agent_id, body.local_port)
            await self._end(connection_id, ReachStatus.FAILED, error.message)
            if answer is None:  # it may still bind after we gave up: have it let go
                session.send(Unbind(connection_id))
            raise error
        await self._opened(connection_id, answer.local_port)
        return await self.get(owner_id, connection_id)

    async def list(
        self, owner_id: str, *, include_inactive: bool = False
    ) -> builtins.list[ReachConnection]:
        """The caller's connections, oldest first; open ones only unless ``include_inactive``."""
        query = select(t.connections).where(t.connections.c.owner_id == owner_id)
        if not include_inactive:
            query = query.where(t.connections.c.status.in_(_LIVE))
        async with self.store.read() as conn:
            rows = (
                await conn.execute(query.order_by(t.connections.c.created_at, t.connections.c.id))
            ).all()
        return [connection_model(row) for row in rows]

    async def get(self, owner_id: str, connection_id: str) -> ReachConnection:
        """One of the caller's connections."""
        async with self.store.read() as conn:
            return connection_model(await connection_row(conn, owner_id, connection_id))

    async def close(self, owner_id: str, connection_id: str) -> ReachConnection:
        """Close a connection: the agent releases its port (waited for) and its streams end."""
        async with self.store.read() as conn:
            row = await connection_row(conn, owner_id, connection_id)
        if row.status in _LIVE:
            live = self.live.get(connection_id)
            session = self.agents.sessions.get(row.lease_id)
            if session is not None and not session.closed and live is not None:
                live.abort_streams()
                await self._ask(session, live, Unbind(connection_id))
            await self._end(connection_id, ReachStatus.CLOSED, None)
        return await self.get(owner_id, connection_id)

    # --- the agents ----------------------------------------------------------------------

    def answered(self, session: AgentSession, message: Bound | Unbound) -> None:
        """An agent answered ``bind`` or ``unbind``."""
        live = self.live.get(message.connection_id)
        if live is None or live.lease_id != session.lease_id:
            return
        if live.answer is not None and not live.answer.done():
            live.answer.set_result(message)

    def attached(self, session: AgentSession) -> None:
        """An agent's control channel is up: bind its open connections again."""
        self._tasks.spawn(self._rebind(session))

    def detached(self, session: AgentSession) -> None:
        """An agent's control channel closed: its connections wait for it, for a while."""
        self._tasks.spawn(self._close_unless_back(session.lease_id))

    def routes_changed(self, changes: dict[str, Route | None]) -> None:
        """Close the connections of tunnels that stopped, and those of revoked shares."""
        gone = {tunnel_id for tunnel_id, route in changes.items() if route is None}
        doomed = [live for live in self.live.values() if live.tunnel_id in gone]
        if doomed:
            self._cut(doomed)
            self._tasks.spawn(self._close_all(doomed, "the tunnel was closed"))
        revoked = [
            live
            for live in self.live.values()
            if live.tunnel_id in changes
            and live.tunnel_id not in gone
            and live.share_token_hash is not None
            and share_revoked(self.router, live.share_token_hash)
        ]
        if revoked:
            self._cut(revoked)
            self._tasks.spawn(self._close_all(revoked, "the share was revoked"))

    def _cut(self, ending: builtins.list[LiveConnection]) -> None:
        """End these connections' streams now, and refuse new ones, before the write that
        ended them answers; their records and the agents' ports follow in a task."""
        for live in ending:
            self.live.pop(live.id, None)
            live.abort_streams()

    # --- the streams ---------------------------------------------------------------------

    def authorize_stream(self, connection_id: str, token: str) -> tuple[LiveConnection, Route]:
        """The connection and tunnel route a reach stream is for; :class:`HubError` if refused."""
        return check_stream(self.live.get(connection_id), self.router, token)

    # --- helpers -------------------------------------------------------------------------

    async def _ask(
        self, session: AgentSession, live: LiveConnection, message: Bind | Unbind
    ) -> Bound | Unbound | None:
        """Send ``message`` to the agent and wait for its answer (None: no answer in time)."""
        answer: asyncio.Future[Bound | Unbound] = asyncio.get_running_loop().create_future()
        live.answer = answer
        session.send(message)
        try:
            return await asyncio.wait_for(answer, BIND_TIMEOUT)
        except asyncio.TimeoutError:
            return None
        finally:
            live.answer = None

    async def _opened(self, connection_id: str, port: int) -> None:
        async with self.store.write() as conn:
            await conn.execute(
                update(t.connections)
                .where(t.connections.c.id == connection_id)
                .values(status=ReachStatus.OPEN.value, local_port=port, last_error=None)
            )

    async def _end(self, connection_id: str, status: ReachStatus, error: str | None) -> None:
        """Record the end of a connection and end its streams."""
        live = self.live.pop(connection_id, None)
        if live is not None:
            live.abort_streams()
        async with self.store.write() as conn:
            await conn.execute(
                update(t.connections)
                .where(t.connections.c.id == connection_id, t.connections.c.status.in_(_LIVE))
                .values(status=status.value, last_error=error, closed_at=now())
            )

    async def _close_all(self, doomed: builtins.list[LiveConnection], why: str) -> None:
        for live in doomed:
            await self._end(live.id, ReachStatus.CLOSED, why)
            session = self.agents.sessions.get(live.lease_id)
            if session is not None and not session.closed:
                session.send(Unbind(live.id))

    async def _rebind(self, session: AgentSession) -> None:
        async with self.store.read() as conn:
            rows = (
                await conn.execute(
                    select(t.connections).where(
                        t.connections.c.lease_id == session.lease_id,
                        t.connections.c.status == ReachStatus.OPEN.value,
                    )
                )
            ).all()
        for row in rows:
            token = new_token(REACH_TOKEN_PREFIX)
            old = self.live.pop(row.id, None)
            if old is not None:
                old.abort_streams()
            live = LiveConnection(
                row.id, row.owner_id, row.tunnel_id, row.lease_id, hash_token(token),
                row.share_token_hash,
            )  # fmt: skip
            self.live[row.id] = live
            async with self.store.write() as conn:
                await conn.execute(
                    update(t.connections)
                    .where(t.connections.c.id == row.id)
                    .values(token_hash=live.token_hash)
                )
            route = self.router.by_id.get(row.tunnel_id)
            slug = route.slug if route is not None else ""
            bind = Bind(row.id, row.tunnel_id, slug, row.local_host, row.local_port or 0, token)
            answer = await self._ask(session, live, bind)
            if not isinstance(answer, Bound) or not answer.ok:
                why = "the agent came back but could not bind the port again"
                detail = answer.message if isinstance(answer, Bound) else "no answer"
                await self._end(row.id, ReachStatus.FAILED, f"{why}: {detail}")

    async def _close_unless_back(self, lease_id: str) -> None:
        await asyncio.sleep(self.config.lease_ttl)
        session = self.agents.sessions.get(lease_id)
        if session is not None and not session.closed:
            return
        async with self.store.read() as conn:
            ids = (
                await conn.execute(
                    select(t.connections.c.id).where(
                        t.connections.c.lease_id == lease_id, t.connections.c.status.in_(_LIVE)
                    )
                )
            ).scalars()
            doomed = list(ids)
        why = f"its agent was offline for more than {self.config.lease_ttl:g} s"
        for connection_id in doomed:
            await self._end(connection_id, ReachStatus.CLOSED, why)


def _bind_error(answer: Bound | Unbound | None, agent_id: str, port: int | None) -> HubError:
    if not isinstance(answer, Bound):
        why = f"agent {agent_id!r} did not answer within {BIND_TIMEOUT:g} s"
        return HubError(ErrorCode.AGENT_UNAVAILABLE, why, {"agent": agent_id})
    details = {"agent": agent_id, "localPort": port}
    if answer.code == "PORT_IN_USE":
        return HubError(ErrorCode.PORT_IN_USE, answer.message, details)
    if answer.code == "PORT_NOT_ALLOWED":
        return HubError(ErrorCode.INVALID_PORT, answer.message, details)
    return HubError(ErrorCode.AGENT_UNAVAILABLE, answer.message or answer.code, details)
