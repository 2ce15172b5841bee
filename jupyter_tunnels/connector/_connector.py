"""The connector: holds a lease, keeps the control channel up, serves its tunnels' streams.

Lifecycle::

    start ──► lease (create-or-attach) ──► control channel ──► serving ──► close
                 ▲                               │    ▲             │
                 │         hub or network lost   ▼    │ backoff     │
                 └── lease expired (410) ◄── reconnecting ──────────┘

While the hub is away the connector retries with a short jittered exponential backoff (reset
after every successful session), so it is serving again within seconds of the network coming
back however long it was gone. If its lease expired meanwhile it takes a new one and re-creates
its tunnels with the same slugs and hub ports, which the hub kept reserved for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable

import websockets
from websockets.asyncio.client import ClientConnection, connect

from .._core.models import HeartbeatAction, HeartbeatResponse, ReachConnection
from .._core.timeouts import within
from .._wire.protocol import (
    CONTROL_PATH,
    Bind,
    ControlMessage,
    Dial,
    Hello,
    ProtocolError,
    TunnelsChanged,
    TunnelSpec,
    Unbind,
    Welcome,
    decode_control,
    encode_control,
)
from ..client import (
    AsyncTunnelsClient,
    AuthenticationError,
    BadRequest,
    LeaseExpired,
    TunnelError,
)
from ._backoff import Backoff
from ._control_connection import ControlConnection
from ._dial import DEFAULT_ALLOWED_HOSTS, HubAddress, check_target
from ._lease_tunnels import ACTIVE_WAIT_TIMEOUT, LeaseTunnels
from ._reach import ReachPorts
from ._readiness import LocalReadiness
from ._streams import DataPool

__all__ = ["Backoff", "Connector", "ConnectorState"]

log = logging.getLogger("jupyter_tunnels.connector")

STABLE_SESSION_SECONDS = 2.0
"""A session that lasted longer resets the reconnect backoff: the connector was serving, so
the next drop starts again from the shortest delay."""
CONTROL_PING_INTERVAL = 3.0
"""Seconds between the connector's pings on the control channel. A hub that has gone silent
(its link dropped without a reset) is noticed within this plus :data:`CONTROL_PING_TIMEOUT`,
and the connector reconnects as soon as the network lets it, instead of waiting for TCP to
give up; the hub, which may have ended the session meanwhile, gets the tunnels back at once."""
CONTROL_PING_TIMEOUT = 4.0
"""Seconds the hub has to answer a ping (room for a busy hub)."""
CONTROL_CLOSE_TIMEOUT = 2.0
"""Seconds a closing handshake may take before the connection is simply dropped (a silent
hub never answers it)."""
EARLY_BEAT_GAP = 0.5
"""The least time between two heartbeats (a burst of changes makes one early beat)."""


@dataclasses.dataclass(frozen=True)
class ConnectorState:
    """What the connector knows about itself, for status displays."""

    lease_id: str | None
    connected: bool
    local_ready: bool
    last_error: str | None
    reconnects: int


class Connector(LeaseTunnels):
    """Serves tunnels of one lease from this process.

    ``token`` is an API token of the tunnels' owner (it creates the lease and the tunnels);
    the lease's own agent token then authenticates the control channel, the data connections
    and the heartbeats. ``client_instance_id`` identifies this connector across restarts: give
    the same one to get the same lease (and URLs) back.

    The lease and the tunnels wanted on it (``expose``, ``unexpose``, their re-creation on a
    new lease) are kept by :class:`LeaseTunnels`; this class keeps the control channel up,
    heartbeats and serves the streams.
    """

    def __init__(
        self,
        hub_url: str | None = None,
        token: str | None = None,
        *,
        client_instance_id: str | None = None,
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
        pool_size: int | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(
            AsyncTunnelsClient(hub_url, token),
            client_instance_id or f"{socket.gethostname()}-{uuid.uuid4().hex[:12]}",
            tuple(allowed_hosts),
            on_event or (lambda message: log.info("%s", message)),
        )
        self.address = HubAddress(self.client.hub_url)
        self.pool_size = pool_size
        self.connected = asyncio.Event()
        self.readiness = LocalReadiness(self.allowed_hosts)
        """What the last probe of the targets found, per tunnel and as a whole."""
        self.reconnects = 0
        self.ended = asyncio.Event()
        """Set when the connector stopped serving by itself (the lease was released on the hub,
        or another connector took it over); :attr:`last_error` says why."""
        self.displaced = False
        """The hub gave this connector's lease to another connector (the same
        ``client_instance_id`` attached again): closing must not release it."""
        self._beat_now = asyncio.Event()
        """Set to heartbeat (probing the targets) before the interval is up."""
        self._runner: asyncio.Task[None] | None = None
        self._backoff = Backoff()
        self._ws: ClientConnection | None = None
        self._pool: DataPool | None = None
        self.reach = ReachPorts(self.address, self.on_event)
        """Local ports carried to tunnels for ``connect`` (they outlive control sessions)."""

    # --- public API ----------------------------------------------------------------------

    @property
    def state(self) -> ConnectorState:
        """A snapshot of the connector's state."""
        return ConnectorState(
            lease_id=self.lease_id,
            connected=self.connected.is_set(),
            local_ready=self.readiness.ready,
            last_error=self.last_error,
            reconnects=self.reconnects,
        )

    async def start(self, *, timeout: float = ACTIVE_WAIT_TIMEOUT) -> None:
        """Take the lease, then keep the control channel up in the background.

        Raises the hub's error if the lease cannot be had (wrong token, hub unreachable).
        """
        await self._take_lease()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="connector")
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def connect(
        self, tunnel: str, *, local_port: int | None = None, share_token: str | None = None
    ) -> ReachConnection:
        """Reach ``tunnel`` (id or slug) as a local port of this connector (docs/reach.md).

        The hub asks this connector to bind ``127.0.0.1:local_port`` (any free port when
        None) and answers once it has: the connection's ``address`` and
        ``connection_string``. ``share_token`` reaches a tunnel you do not own. Close it with
        ``client.close_connection(connection.id)``; closing the connector releases it too.
        """
        if self.agent_id is None:
            raise RuntimeError("start the connector before connecting through it")
        return await self.client.connect(
            tunnel, self.agent_id, local_port=local_port, share_token=share_token
        )

    async def close(self, *, release: bool = True) -> None:
        """Stop serving: close the tunnels (releasing the lease) and every connection."""
        self._closing = True
        if release and self.lease_id is not None and not self.displaced:
            with contextlib.suppress(TunnelError):
                await self.client.release_lease(self.lease_id)
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await self._end_session()
        await self.reach.close()
        await self.client.aclose()

    async def __aenter__(self) -> Connector:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- lease recovery ------------------------------------------------------------------

    async def _recover_lease(self) -> None:
        """The lease expired while we were away: take a new one, re-create our tunnels."""
        self.on_event("lease expired while disconnected: taking a new one")
        self.reach.release_all()  # the hub closed the old lease's connections
        await self._take_lease()
        self.specs = {}  # the old lease's tunnels ended with it, not through the API
        self._unrestored = set(self._wanted)
        await self._restore_tunnels()

    # --- control channel -----------------------------------------------------------------

    async def _run(self) -> None:
        while not self._closing:
            started = asyncio.get_running_loop().time()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except LeaseExpired:
                try:
                    await self._recover_lease()
                    continue
                except (TunnelError, OSError) as exc:  # the rest is retried after the backoff
                    self.last_error = f"could not take a new lease: {exc}"
            except AuthenticationError as exc:  # the agent token was rotated (or the lease gone)
                self.displaced = True
                self._stop_serving(
                    "the hub no longer accepts this connector's lease token: another connector "
                    f"with client instance id {self.client_instance_id!r} took the lease over, "
                    f"or it was deleted ({exc.message})"
                )
            except websockets.InvalidStatus as exc:
                self.last_error = f"hub connection lost: {exc}"
                if exc.response.status_code == 401:  # as above, seen at the control channel
                    self.displaced = True
                    self._stop_serving(
                        "the hub no longer accepts this connector's lease token: another "
                        f"connector with client instance id {self.client_instance_id!r} took "
                        "the lease over, or it was deleted"
                    )
            except (OSError, websockets.WebSocketException, TunnelError, ProtocolError) as exc:
                self.last_error = f"hub connection lost: {exc}"
            except Exception as exc:  # keep serving: log what we did not foresee, then retry
                log.exception("connector session failed")
                self.last_error = f"connector error: {exc!r}"
            finally:
                await self._end_session()
            if self._closing:
                return
            if asyncio.get_running_loop().time() - started > STABLE_SESSION_SECONDS:
                self._backoff.reset()
            self.reconnects += 1
            delay = self._backoff.next_delay()
            why = self.last_error or "the hub closed the control channel"
            self.on_event(f"reconnecting to the hub in {delay:.1f} s ({why})")
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        assert self.lease_id is not None and self.agent_token is not None
        self.readiness.per_tunnel = True  # the hub may have been upgraded while we were away
        await self._check_lease()
        await self._restore_tunnels()
        url = self.address.ws_url + CONTROL_PATH
        headers = {"Authorization": f"Bearer {self.agent_token}"}
        async with connect(
            url,
            additional_headers=headers,
            open_timeout=10,
            ping_interval=CONTROL_PING_INTERVAL,
            ping_timeout=CONTROL_PING_TIMEOUT,
            close_timeout=CONTROL_CLOSE_TIMEOUT,
            create_connection=ControlConnection,
        ) as ws:
            self._ws = ws
            await ws.send(encode_control(Hello(self.lease_id, self.client_instance_id)))
            welcome = decode_control(await ws.recv())
            if not isinstance(welcome, Welcome):
                raise ProtocolError(f"expected welcome, got {welcome.type}")
            self._set_specs(welcome.tunnels)
            self._pool = DataPool(
                self.address,
                self.agent_token,
                welcome.session_id,
                welcome.pool_size if self.pool_size is None else self.pool_size,
                self.served,
                lambda host: check_target(host, self.allowed_hosts),
            )
            self._pool.fill()
            self.connected.set()
            if not self._unrestored:
                self.last_error = None
            self.on_event("connected to the hub")
            heartbeats = asyncio.get_running_loop().create_task(
                self._heartbeat_forever(welcome.heartbeat_seconds)
            )
            try:
                async for raw in ws:
                    message = decode_control(raw)
                    if isinstance(message, TunnelsChanged):
                        self._set_specs(message.tunnels)
                    elif isinstance(message, Dial):
                        self._pool.fill(message.count)
                    elif isinstance(message, Bind | Unbind):
                        self.reach.handle(message, self._replier(ws))
                if heartbeats.done():
                    heartbeats.result()
            finally:
                heartbeats.cancel()
                with contextlib.suppress(asyncio.CancelledError, TunnelError):
                    await heartbeats

    def _stop_serving(self, why: str) -> None:
        """Stop by itself: no reconnecting; :attr:`ended` tells the owner of the connector."""
        self.last_error = why
        self.on_event(f"stopping: {why}")
        self._closing = True
        self.ended.set()

    @staticmethod
    def _replier(ws: ClientConnection) -> Callable[[ControlMessage], Awaitable[None]]:
        async def reply(message: ControlMessage) -> None:
            await ws.send(encode_control(message))

        return reply

    async def _check_lease(self) -> None:
        """Heartbeat once before attaching, so an expired lease is noticed and renewed."""
        await self._heartbeat(connected_to_hub=False)

    async def _heartbeat(
        self, *, connected_to_hub: bool, pool_error: str | None = None
    ) -> HeartbeatResponse:
        """Report the last probe's readiness, per tunnel unless the hub is older than that."""
        assert self.lease_id is not None
        shared_error = self.last_error or pool_error  # the whole connector's: every tunnel's
        try:
            return await self.client.heartbeat(
                self.lease_id,
                agent_token=self.agent_token,
                connected_to_hub=connected_to_hub,
                local_ready=self.readiness.ready,
                last_error=self.last_error or self.readiness.error or pool_error,
                tunnels=self.readiness.report(shared_error),
            )
        except BadRequest as exc:
            if not self.readiness.refused_by_older_hub(exc):
                raise
            self.on_event("the hub does not take per-tunnel readiness: reporting the lease's")
            return await self._heartbeat(connected_to_hub=connected_to_hub, pool_error=pool_error)

    async def _heartbeat_forever(self, interval: float) -> None:
        """Heartbeat every ``interval`` (as the hub says), and soon after the tunnels served
        change or a session starts, so the readiness the hub shows (and the Lab panel, the
        widget) is a second old rather than a heartbeat interval."""
        assert self.lease_id is not None
        loop = asyncio.get_running_loop()
        self._beat_now.set()  # a new session: probe and report at once
        while True:
            due = loop.time() + interval
            await asyncio.sleep(min(EARLY_BEAT_GAP, interval / 2))  # one early beat per gap
            # (not asyncio.wait_for: on 3.11 it can swallow a cancellation that arrives as the
            # event is set, and the session closing this task would then wait for it forever)
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await within(max(0.0, due - loop.time()), self._beat_now.wait())
            self._beat_now.clear()
            await self.readiness.probe(list(self.specs.values()))
            pool_error = self._pool.last_error if self._pool else None
            try:
                answer = await self._heartbeat(connected_to_hub=True, pool_error=pool_error)
            except LeaseExpired:
                if self._ws is not None:
                    await self._ws.close()
                raise
            interval = answer.next_heartbeat_seconds
            if self._unrestored and answer.action is not HeartbeatAction.STOP:
                await self._restore_tunnels()
            if answer.action is HeartbeatAction.STOP:
                self._stop_serving("the lease was released on the hub")
                if self._ws is not None:
                    await self._ws.close()
                return
            if answer.action is HeartbeatAction.RECONNECT and self._ws is not None:
                # the hub ended this session and the channel never told us: start afresh
                self.last_error = "the hub had ended this connector's session"
                self._ws.transport.abort()
                return

    def _set_specs(self, specs: Iterable[TunnelSpec]) -> None:
        previous = self._learn_specs(specs)
        if _targets(self.specs.values()) != _targets(previous.values()):
            self._beat_now.set()  # readiness is about the targets: report it soon

    async def _end_session(self) -> None:
        self.connected.clear()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        self._ws = None


def _targets(specs: Iterable[TunnelSpec]) -> set[tuple[str, int]]:
    return {(spec.host, spec.port) for spec in specs}
