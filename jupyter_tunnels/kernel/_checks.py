"""Checks made before anything is sent: valid arguments, and an app listening on the port.

Ports, names and protocols are checked here rather than left to the hub so that a typo in a
cell fails at once with a one-line message, before discovery or a hub is even started.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._core.models import MAX_NAME_LENGTH
from .._core.probe import aaccepts, accepts
from ._errors import InvalidArgument, PortNotListening

__all__ = [
    "CHECK_TIMEOUT",
    "MAX_PORT",
    "PROTOCOLS",
    "ExposeSpec",
    "acheck_listening",
    "check_listening",
    "exposure",
    "validate_name",
    "validate_port",
]

MAX_PORT = 65535
PROTOCOLS = ("auto", "http", "https", "tcp", "udp")
CHECK_TIMEOUT = 1.0
"""Seconds a connection to the local port may take: a local app accepts at once."""


@dataclasses.dataclass(frozen=True)
class ExposeSpec:
    """What to expose: a checked port, host, name, protocol and access."""

    port: int
    host: str = "127.0.0.1"
    name: str | None = None
    protocol: str = "auto"
    public: bool = False

    def to_json(self) -> dict[str, Any]:
        """The body of the server extension's ``POST tunnels/expose``."""
        body: dict[str, Any] = {
            "port": self.port,
            "host": self.host,
            "protocol": self.protocol,
            "public": self.public,
        }
        if self.name is not None:
            body["name"] = self.name
        return body


def validate_port(value: object) -> int:
    """A port number from 1 to 65535, given as an int or a string of digits."""
    port: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        port = value
    elif isinstance(value, str) and value.strip().isdigit():
        port = int(value.strip())
    if port is None or not 1 <= port <= MAX_PORT:
        raise InvalidArgument(f"port must be a number from 1 to {MAX_PORT}, not {value!r}")
    return port


def validate_name(value: str | None) -> str | None:
    """A tunnel name of 1 to 100 characters (None: the hub names it after the port)."""
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_NAME_LENGTH:
        raise InvalidArgument(
            f"a tunnel name has 1 to {MAX_NAME_LENGTH} characters, not {len(value)}"
        )
    return value


def exposure(
    port: object,
    *,
    host: str = "127.0.0.1",
    name: str | None = None,
    protocol: str = "auto",
    public: bool = False,
) -> ExposeSpec:
    """Check every argument of an expose and return them as an :class:`ExposeSpec`."""
    if protocol not in PROTOCOLS:
        choices = ", ".join(PROTOCOLS)
        raise InvalidArgument(f"protocol must be one of {choices}, not {protocol!r}")
    if not host.strip():
        raise InvalidArgument("host must not be empty")
    return ExposeSpec(validate_port(port), host.strip(), validate_name(name), protocol, public)


def check_listening(host: str, port: int, protocol: str = "auto") -> None:
    """Raise :class:`PortNotListening` unless ``host:port`` accepts a TCP connection.

    UDP cannot be probed this way, so UDP targets always pass.
    """
    if protocol == "udp":
        return
    if not accepts(host, port, CHECK_TIMEOUT):
        raise PortNotListening(host, port)


async def acheck_listening(host: str, port: int, protocol: str = "auto") -> None:
    """:func:`check_listening` on the running event loop, without blocking it."""
    if protocol == "udp":
        return
    if not await aaccepts(host, port, CHECK_TIMEOUT):
        raise PortNotListening(host, port)
