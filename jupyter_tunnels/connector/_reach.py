"""Reach on the connector's side: local ports carried to someone's tunnel through the hub.

The hub sends ``bind`` (a connection id, the tunnel, the port, a reach token); the connector
listens on that port and answers ``bound`` with the port it got or why it could not
(``PORT_IN_USE``, ``PORT_NOT_ALLOWED``, ``BIND_FAILED``). For each local connection accepted
there it opens a reach stream: ``GET /v1/agent/reach`` to the hub, upgraded to a raw byte
stream (through the same proxy and TLS as the data connections), and splices the two; a stream
the hub refuses closes the local connection. ``unbind`` closes the listener and the streams
and is answered ``unbound``.

The listeners belong to the connector, not to one control session: while the hub is away the
port stays bound (local connections are closed at once, the hub being unreachable), and when
the connector is back the hub sends ``bind`` again for the same port with a fresh token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, cast

from .._core.tasks import TaskSet
from .._core.timeouts import within
from .._wire.held import HeldProtocol, splice_held
from .._wire.protocol import (
    CONNECTION_HEADER,
    REACH_PATH,
    REACH_UPGRADE,
    Bind,
    Bound,
    ControlMessage,
    Unbind,
    Unbound,
)
from ._dial import PROXY_HEAD_LIMIT, HubAddress, open_hub_connection

__all__ = ["ReachPorts"]

log = logging.getLogger("jupyter_tunnels.connector")

UPGRADE_TIMEOUT = 10.0
"""Seconds a local connection waits for the hub to open its stream to the tunnel."""

Reply = Callable[[ControlMessage], Awaitable[None]]


@dataclasses.dataclass
class _Listener:
    """One bound port: where its streams go, with which token, and the streams open now."""

    connection_id: str
    slug: str
    token: str
    server: asyncio.Server | None = None
    port: int = 0
    streams: set[asyncio.Transport] = dataclasses.field(default_factory=set)

    def close(self) -> None:
        """Release the port and end the streams."""
        if self.server is not None:
            self.server.close()
        for transport in list(self.streams):
            transport.abort()
        self.streams.clear()


class _LocalConnection(HeldProtocol):
    """A connection accepted on a bound port: held until its stream is open."""

    def __init__(self, ports: ReachPorts, listener: _Listener) -> None:
        super().__init__()
        self.ports = ports
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        local = cast(asyncio.Transport, transport)
        self.listener.streams.add(local)
        self.ports.spawn(self.ports.carry(self.listener, local))


class _Upgrade(asyncio.Protocol):
    """Reads the hub's answer to the reach request: ``101`` and what follows, or a refusal."""

    def __init__(self) -> None:
        self.answered: asyncio.Future[tuple[bytes, bytes]] = (
            asyncio.get_running_loop().create_future()
        )
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.answered.done():
            return
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0:
            self.answered.set_result((bytes(self.buffer[: end + 4]), bytes(self.buffer[end + 4 :])))
        elif len(self.buffer) > PROXY_HEAD_LIMIT:
            self.answered.set_exception(ConnectionError("the hub sent an over-long answer"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(exc or ConnectionError("the hub closed the reach stream"))


class ReachPorts:
    """The local ports this connector carries to tunnels, by connection id."""

    def __init__(self, address: HubAddress, on_event: Callable[[str], None]) -> None:
        self.address = address
        self.on_event = on_event
        self.listeners: dict[str, _Listener] = {}
        self.last_error: str | None = None
        self._tasks = TaskSet(log, "reach task")

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a task owned by these ports (cancelled on close, failures logged)."""
        self._tasks.spawn(work)

    def handle(self, message: Bind | Unbind, reply: Reply) -> None:
        """Obey a ``bind`` or ``unbind`` from the hub; the answer goes out through ``reply``."""

        async def obey() -> None:
            answer: ControlMessage
            if isinstance(message, Bind):
                answer = await self.bind(message)
            else:
                self.unbind(message.connection_id)
                answer = Unbound(message.connection_id)
            try:
                await reply(answer)
            except Exception as exc:  # the control channel closed: the hub asks again later
                log.info("could not answer the hub's %s: %s", message.type, exc)

        self.spawn(obey())

    async def bind(self, message: Bind) -> Bound:
        """Listen for a connection (or keep the port it has, with the new token)."""
        listener = self.listeners.get(message.connection_id)
        if listener is not None and message.local_port in (0, listener.port):
            listener.token = message.token
            return Bound(message.connection_id, ok=True, local_port=listener.port)
        if listener is not None:
            listener.close()
        listener = _Listener(message.connection_id, message.slug, message.token)
        loop = asyncio.get_running_loop()
        try:
            listener.server = await loop.create_server(
                lambda: _LocalConnection(self, listener),
                message.local_host,
                message.local_port,
            )
        except OSError as exc:
            return _refusal(message, exc)
        listener.port = listener.server.sockets[0].getsockname()[1]
        self.listeners[message.connection_id] = listener
        self.on_event(
            f"{message.local_host}:{listener.port} now carries connections to {message.slug}"
        )
        return Bound(message.connection_id, ok=True, local_port=listener.port)

    def unbind(self, connection_id: str) -> None:
        """Release a connection's port and end its streams (unknown ids are ignored)."""
        listener = self.listeners.pop(connection_id, None)
        if listener is not None:
            listener.close()
            self.on_event(f"released port {listener.port} (was carried to {listener.slug})")

    async def carry(self, listener: _Listener, local: asyncio.Transport) -> None:
        """Open the reach stream for one local connection and splice the two."""
        upgrade = _Upgrade()
        hub: asyncio.Transport | None = None
        try:
            hub = await open_hub_connection(self.address, upgrade)
            hub.write(
                (
                    f"GET {self.address.base_path}{REACH_PATH} HTTP/1.1\r\n"
                    f"Host: {self.address.host_header}\r\n"
                    f"Authorization: Bearer {listener.token}\r\n"
                    f"{CONNECTION_HEADER}: {listener.connection_id}\r\n"
                    f"Connection: Upgrade\r\nUpgrade: {REACH_UPGRADE}\r\n\r\n"
                ).encode()
            )
            head, leftover = await within(UPGRADE_TIMEOUT, upgrade.answered)
        except (OSError, TimeoutError, asyncio.TimeoutError, ConnectionError) as exc:
            self._failed(listener, local, hub, f"cannot reach the hub: {exc}")
            return
        except BaseException:  # cancelled (the port is released): close both ends
            if hub is not None:
                hub.close()
            local.close()
            listener.streams.discard(local)
            raise
        status_line = head.split(b"\r\n", 1)[0]
        if status_line.split(b" ", 2)[1:2] != [b"101"]:
            why = f"the hub refused the stream: {_hub_refusal(status_line, leftover)}"
            self._failed(listener, local, hub, why)
            return
        if local.is_closing():  # the local client gave up meanwhile
            listener.streams.discard(local)
            hub.close()
            return
        self.last_error = None
        listener.streams.add(hub)
        done = splice_held(local, hub, to_a=leftover)
        await done
        listener.streams.difference_update((local, hub))

    def _failed(
        self,
        listener: _Listener,
        local: asyncio.Transport,
        hub: asyncio.Transport | None,
        why: str,
    ) -> None:
        self.last_error = f"{listener.slug}: {why}"
        log.warning("reach to %s: %s", listener.slug, why)
        listener.streams.discard(local)
        local.abort()
        if hub is not None:
            hub.abort()

    def release_all(self) -> None:
        """Release every port (their connections belonged to a lease that is gone)."""
        for connection_id in list(self.listeners):
            self.unbind(connection_id)

    async def close(self) -> None:
        """Release every port and end every stream."""
        self.release_all()
        await self._tasks.close()


def _refusal(message: Bind, exc: OSError) -> Bound:
    where = f"{message.local_host}:{message.local_port}"
    if exc.errno == errno.EADDRINUSE:
        code = "PORT_IN_USE"
        text = f"port {message.local_port} is already in use on {message.local_host}: pick another"
    elif exc.errno == errno.EACCES:
        code = "PORT_NOT_ALLOWED"
        text = f"the agent may not bind {where} (a privileged port?): pick a port above 1023"
    else:
        code = "BIND_FAILED"
        text = f"the agent cannot bind {where}: {exc.strerror or exc}"
    return Bound(message.connection_id, ok=False, code=code, message=text)


def _hub_refusal(status_line: bytes, body: bytes) -> str:
    """``429 RATE_LIMITED: ...`` from the hub's refusal (its JSON error, when it came whole)."""
    status = status_line.decode("latin-1").partition(" ")[2]
    try:
        error = json.loads(body)
        return f"{status.split(' ', 1)[0]} {error['code']}: {error['message']}"
    except (ValueError, TypeError, KeyError):
        return status
