"""The tunnel providers this project can drive."""

from __future__ import annotations

import enum

__all__ = ["TunnelProvider"]


class TunnelProvider(str, enum.Enum):
    """A service that gives tunnels their public addresses.

    Today that is the jupyter-tunnels hub (standalone, or embedded in jupyter-server); more
    providers come later, each as a new member.
    """

    HUB = "hub"
    """A jupyter-tunnels hub, reached through its ``/v1`` API."""

    def __str__(self) -> str:
        return self.value
