"""The kernel side's own errors, added to the SDK's tree under :class:`TunnelError`.

::

    TunnelError
    ├── InvalidArgument     a port, name or option the caller gave is not valid
    ├── PortNotListening    nothing accepts connections on the port to expose
    ├── UnknownTunnel       no tunnel has the given name, slug or id
    └── AmbiguousName       several live tunnels have the given name

Each is raised before anything is changed, and its message is one line that says what to do.
"""

from __future__ import annotations

from ..client import TunnelError

__all__ = ["AmbiguousName", "InvalidArgument", "PortNotListening", "UnknownTunnel"]


class InvalidArgument(TunnelError):
    """A port, name or option is not valid; nothing was sent."""


class PortNotListening(TunnelError):
    """Nothing accepts connections on the port to expose; start the app or skip the check."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            f"nothing listens on {host}:{port}: start your app first, "
            "or pass check=False to expose it anyway"
        )
        self.host = host
        self.port = port


class UnknownTunnel(TunnelError):
    """No tunnel has this name, slug or id."""


class AmbiguousName(TunnelError):
    """Several live tunnels have this name; use a slug or an id instead."""
