"""The wire protocol between a connector and its hub: constants and message types.

A connector makes only outbound HTTP(S) connections to the hub's one address:

* one **control channel**, a WebSocket at :data:`CONTROL_PATH`, carrying the JSON messages
  below (``{"type": ..., ...}``), pinged by both sides so a dead peer is noticed within two
  heartbeat intervals;
* a small warm pool of **data connections**: plain HTTP requests to :data:`DATA_PATH` that the
  hub upgrades (``101 Switching Protocols``, ``Upgrade: jupyter-tunnels-data/1``) to raw byte
  streams. Each data connection carries exactly one visitor connection: the hub writes one
  :class:`StreamOpen` line, the connector answers one :class:`StreamReady` line, and from then
  on bytes flow untouched in both directions until either side closes (half-close included).
  There is no framing on the data path, so there is no head-of-line blocking between streams
  and each stream has TCP's own flow control.

UDP datagrams are carried on a data connection as ``2-byte big-endian length + payload``.

**Reach** runs the other way round: the hub asks a connector (:class:`Bind`) to listen on a
local port; the connector answers :class:`Bound` (the port it got, or why not), and for each
local connection it accepts it opens a **reach stream**: an HTTP request to :data:`REACH_PATH`
upgraded (``Upgrade: jupyter-tunnels-reach/1``) to a raw byte stream to the tunnel, authorised
by the connection's reach token. :class:`Unbind` releases the port; :class:`Unbound` says so.
docs/protocol.md describes the whole exchange and the state machine.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Literal

from .._core.errors import TunnelError

__all__ = [
    "CONNECTION_HEADER",
    "CONTROL_PATH",
    "DATA_PATH",
    "DATA_UPGRADE",
    "PROTOCOL_VERSION",
    "REACH_PATH",
    "REACH_UPGRADE",
    "SESSION_HEADER",
    "UDP_LENGTH_BYTES",
    "Bind",
    "Bound",
    "ControlMessage",
    "Dial",
    "Hello",
    "ProtocolError",
    "StreamOpen",
    "StreamReady",
    "TunnelSpec",
    "TunnelsChanged",
    "Unbind",
    "Unbound",
    "Welcome",
    "decode_control",
    "decode_line",
    "encode_control",
    "encode_line",
]

PROTOCOL_VERSION = 1
CONTROL_PATH = "/v1/agent/connect"
"""WebSocket path of the control channel, relative to the hub's base URL."""
DATA_PATH = "/v1/agent/data"
"""Path a connector requests to open a data connection."""
DATA_UPGRADE = "jupyter-tunnels-data/1"
"""The ``Upgrade`` token of data connections."""
SESSION_HEADER = "X-Tunnels-Session"
"""Request field of a data connection naming the control session it joins."""
MAX_LINE = 16 * 1024
"""Longest stream header line accepted, in bytes."""
UDP_LENGTH_BYTES = 2
"""Size of the length prefix of a UDP datagram on a data connection."""
REACH_PATH = "/v1/agent/reach"
"""Path a connector requests to open a reach stream (one local connection to a tunnel)."""
REACH_UPGRADE = "jupyter-tunnels-reach/1"
"""The ``Upgrade`` token of reach streams."""
CONNECTION_HEADER = "X-Tunnels-Connection"
"""Request field of a reach stream naming the connection (reach) it belongs to."""


class ProtocolError(TunnelError):
    """A peer sent something this protocol does not allow."""


@dataclasses.dataclass(frozen=True)
class TunnelSpec:
    """What a connector needs to know to serve one tunnel."""

    id: str
    slug: str
    protocol: str
    host: str
    port: int
    status: str


@dataclasses.dataclass(frozen=True)
class Hello:
    """Connector → hub, first message on the control channel."""

    type: ClassVar[str] = "hello"
    lease_id: str
    client_instance_id: str
    version: int = PROTOCOL_VERSION


@dataclasses.dataclass(frozen=True)
class Welcome:
    """Hub → connector, answer to :class:`Hello`: the session and the tunnels to serve."""

    type: ClassVar[str] = "welcome"
    session_id: str
    heartbeat_seconds: float
    pool_size: int
    tunnels: tuple[TunnelSpec, ...]


@dataclasses.dataclass(frozen=True)
class TunnelsChanged:
    """Hub → connector: the lease's tunnels changed; this is the whole new set."""

    type: ClassVar[str] = "tunnels"
    tunnels: tuple[TunnelSpec, ...]


@dataclasses.dataclass(frozen=True)
class Dial:
    """Hub → connector: open ``count`` more data connections (the warm pool ran low)."""

    type: ClassVar[str] = "dial"
    count: int


# --- reach (connections) -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bind:
    """Hub → connector: listen on ``local_host:local_port`` (0: any free port) and carry each
    connection accepted there to tunnel ``slug``, authorised by ``token``.

    Sent again with a fresh token for a port the connector already holds (after it
    reconnected): the connector keeps the port and takes the new token.
    """

    type: ClassVar[str] = "bind"
    connection_id: str
    tunnel_id: str
    slug: str
    local_host: str
    local_port: int
    token: str


@dataclasses.dataclass(frozen=True)
class Bound:
    """Connector → hub, the answer to :class:`Bind`: the port bound, or why not
    (``code`` is ``PORT_IN_USE``, ``PORT_NOT_ALLOWED`` or ``BIND_FAILED``)."""

    type: ClassVar[str] = "bound"
    connection_id: str
    ok: bool
    local_port: int = 0
    code: str = ""
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Unbind:
    """Hub → connector: release the connection's port and end its streams."""

    type: ClassVar[str] = "unbind"
    connection_id: str


@dataclasses.dataclass(frozen=True)
class Unbound:
    """Connector → hub, the answer to :class:`Unbind`: the port is free again."""

    type: ClassVar[str] = "unbound"
    connection_id: str


ControlMessage = Hello | Welcome | TunnelsChanged | Dial | Bind | Bound | Unbind | Unbound

_CONTROL_TYPES: dict[str, type[Any]] = {
    cls.type: cls for cls in (Hello, Welcome, TunnelsChanged, Dial, Bind, Bound, Unbind, Unbound)
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_FIELD_NAMES = {
    "leaseId": "lease_id",
    "clientInstanceId": "client_instance_id",
    "sessionId": "session_id",
    "heartbeatSeconds": "heartbeat_seconds",
    "poolSize": "pool_size",
    "streamId": "stream_id",
    "tunnelId": "tunnel_id",
    "connectionId": "connection_id",
    "localHost": "local_host",
    "localPort": "local_port",
}


def _to_wire(message: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"type": message.type}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        if field.name == "tunnels":
            value = [dataclasses.asdict(spec) for spec in value]
        payload[_camel(field.name)] = value
    return payload


def _from_wire(cls: type[Any], payload: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    names = {field.name for field in dataclasses.fields(cls)}
    for key, value in payload.items():
        name = _FIELD_NAMES.get(key, key)
        if key == "type" or name not in names:
            continue
        if name == "tunnels":
            value = tuple(TunnelSpec(**spec) for spec in value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ProtocolError(f"bad {cls.type} message: {exc}") from None


def encode_control(message: ControlMessage) -> str:
    """Serialise a control message to the JSON text sent on the WebSocket."""
    return json.dumps(_to_wire(message), separators=(",", ":"))


def decode_control(text: str | bytes) -> ControlMessage:
    """Parse a control message; raise :class:`ProtocolError` if it is not one."""
    try:
        payload = json.loads(text)
        cls = _CONTROL_TYPES[payload["type"]]
    except (ValueError, KeyError, TypeError):
        raise ProtocolError(f"not a control message: {text[:200]!r}") from None
    message: ControlMessage = _from_wire(cls, payload)
    return message


# --- data connections ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StreamOpen:
    """Hub → connector, the first line on a data connection: which tunnel this stream is for."""

    type: ClassVar[str] = "open"
    stream_id: str
    tunnel_id: str
    protocol: Literal["tcp", "udp"] = "tcp"


@dataclasses.dataclass(frozen=True)
class StreamReady:
    """Connector → hub, the answer line: the local target answered (or why not)."""

    type: ClassVar[str] = "ready"
    ok: bool
    code: str = ""
    message: str = ""


_READY = StreamReady(ok=True)
READY_LINE = b'{"type":"ready","ok":true,"code":"","message":""}\n'


def encode_line(message: StreamOpen | StreamReady) -> bytes:
    """Serialise a data-connection header to one JSON line (newline included)."""
    return json.dumps(_to_wire(message), separators=(",", ":")).encode() + b"\n"


def decode_line(line: bytes, expected: type[Any]) -> Any:
    """Parse one header line into ``expected`` (:class:`StreamOpen` or :class:`StreamReady`)."""
    try:
        payload = json.loads(line)
        if payload.get("type") != expected.type:
            raise ValueError(payload.get("type"))
        if expected is StreamOpen:  # the per-visitor fast path
            return StreamOpen(payload["streamId"], payload["tunnelId"], payload["protocol"])
        if expected is StreamReady and payload.get("ok") is True:
            return _READY
    except (ValueError, AttributeError, KeyError, TypeError):
        raise ProtocolError(f"expected a {expected.type} line, got {line[:200]!r}") from None
    return _from_wire(expected, payload)
