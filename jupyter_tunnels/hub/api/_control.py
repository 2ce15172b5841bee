"""The control channel: the WebSocket a connector keeps open to its hub.

The connector authenticates with its lease's agent token, sends ``hello`` naming the lease,
and gets ``welcome`` with its session id (needed to open data connections) and the tunnels it
serves. Both sides ping every heartbeat interval; a silent peer is dropped after two, and the
lease's tunnels go back to ``connecting`` until the connector returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from tornado import websocket

from ..._core.tasks import TaskSet
from ..._wire.protocol import (
    Bound,
    ControlMessage,
    Hello,
    ProtocolError,
    Unbound,
    Welcome,
    decode_control,
    encode_control,
)
from .._config import HubConfig
from ..services._agents import POOL_SIZE, AgentRegistry, AgentSession, specs_for
from ..services._leases import LeaseService
from ..services._reach import ReachService
from ..services._routing import Router

__all__ = ["ControlHandler"]

log = logging.getLogger("jupyter_tunnels.hub")

CLOSE_POLICY = 1008
CLOSE_PROTOCOL = 1002
CLOSE_GOING_AWAY = 1001


class ControlHandler(websocket.WebSocketHandler):
    """``GET /v1/agent/connect``: a connector's control WebSocket."""

    def initialize(
        self,
        config: HubConfig,
        leases: LeaseService,
        agents: AgentRegistry,
        router: Router,
        reach: ReachService,
        tasks: TaskSet,
    ) -> None:
        """Receive the services (tornado calls this per request)."""
        self.config = config
        self.leases = leases
        self.agents = agents
        self.router = router
        self.reach = reach
        self.tasks = tasks
        self.lease: tuple[str, str] | None = None
        self.session: AgentSession | None = None
        self.token = ""
        self.welcomed = False
        self._pongs: dict[bytes, asyncio.Future[None]] = {}

    @property
    def ping_interval(self) -> float:
        """Ping as often as the connector heartbeats."""
        return self.config.heartbeat_interval

    @property
    def ping_timeout(self) -> float:
        """Drop a peer that has not answered a ping by the next one (two intervals silent)."""
        return self.config.heartbeat_interval

    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Check the agent token, then upgrade."""
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            self.token = token.strip()
            self.lease = await self.leases.lease_for_agent_token(self.token)
        if self.lease is None:
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-tunnels"')
            self.finish({"code": "INVALID_TOKEN", "message": "send the lease's agent token"})
            return
        await super().get(*args, **kwargs)

    async def on_message(self, message: str | bytes) -> None:
        """Handle ``hello``, then the answers to reach's ``bind`` and ``unbind``."""
        try:
            decoded = decode_control(message)
        except ProtocolError as exc:
            self.close(CLOSE_PROTOCOL, str(exc)[:120])
            return
        if isinstance(decoded, Bound | Unbound) and self.session is not None:
            self.reach.answered(self.session, decoded)
            return
        if not isinstance(decoded, Hello) or self.session is not None or self.lease is None:
            self.close(CLOSE_PROTOCOL, f"unexpected {decoded.type} message")
            return
        owner_id, lease_id = self.lease
        if decoded.lease_id != lease_id:
            self.close(CLOSE_POLICY, "the agent token belongs to another lease")
            return
        self.session = await self.agents.attach(
            lease_id, owner_id, self.token, self.send_control, self._disconnect, self._ping
        )
        await self.router.settle()
        specs = specs_for(lease_id, self.router.by_id)
        self.session.tunnel_ids = {spec.id for spec in specs}
        welcome = Welcome(
            session_id=self.session.id,
            heartbeat_seconds=self.config.heartbeat_interval,
            pool_size=POOL_SIZE,
            tunnels=specs,
        )
        self.welcomed = True
        self.send_control(welcome)
        self.reach.attached(self.session)
        log.info("agent %s attached to lease %s", decoded.client_instance_id, lease_id)

    def send_control(self, message: ControlMessage) -> None:
        """Send a control message unless the channel is closing.

        Nothing goes out before ``welcome``: the welcome carries the current tunnels, and the
        connector fills its pool when it gets it.
        """
        if self.ws_connection is None or self.ws_connection.is_closing():
            return
        if not self.welcomed and not isinstance(message, Welcome):
            return
        try:
            self.write_message(encode_control(message))
        except websocket.WebSocketClosedError:
            log.debug("control channel closed while sending %s", message.type)

    async def _ping(self) -> None:
        """Ping the connector; return when it answers (the session's probe)."""
        payload = os.urandom(8)
        pong: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs[payload] = pong
        try:
            self.ping(payload)
            await pong
        finally:
            self._pongs.pop(payload, None)

    def on_pong(self, data: bytes) -> None:
        """A pong: the answer to one of the session's probes, or to tornado's own pings."""
        pong = self._pongs.get(data)
        if pong is not None and not pong.done():
            pong.set_result(None)

    def _disconnect(self) -> None:
        """Close the WebSocket (the session was replaced or the hub is stopping); at once,
        without a closing handshake, when the connector stopped answering."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return
        if self.session is not None and self.session.lost:
            stream = getattr(connection, "stream", None)
            if stream is not None:  # a silent peer would never finish the handshake
                stream.close()
                return
        self.close(CLOSE_GOING_AWAY, "session ended by the hub")

    def on_close(self) -> None:
        """Forget the session; its tunnels wait for the connector to come back."""
        for pong in self._pongs.values():
            if not pong.done():
                pong.set_exception(websocket.WebSocketClosedError())
        if self.session is not None:
            session, self.session = self.session, None
            self.tasks.spawn(self.agents.detach(session))
            self.reach.detached(session)
