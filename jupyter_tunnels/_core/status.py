"""Tunnel status: the enum and its transition table.

This module is the single source of truth for how a tunnel's ``status`` may change; the hub
checks every change against :data:`TRANSITIONS` and answers an illegal one with ``409
ILLEGAL_TRANSITION``. docs/status.md draws the same table.

::

    creating ──► connecting ◄──► active ◄──► paused
                     │  ▲                     │
                     │  └─────────────────────┤   (connecting ──► paused too)
    creating, connecting, active, paused ──► stopping ──► stopped
    any live status ──► failed

``active → connecting`` happens when the connector loses the hub; ``paused → connecting`` when
the owner resumes a tunnel whose connector is away. ``paused`` is the owner's decision and
survives connector reconnects. Whether the local
target answers is not a status: it is the ``localReady`` readiness flag.
"""

from __future__ import annotations

import enum

__all__ = [
    "INACTIVE_STATUSES",
    "LIVE_STATUSES",
    "TRANSITIONS",
    "TunnelStatus",
    "can_transition",
]


class TunnelStatus(str, enum.Enum):
    """The lifecycle state of a tunnel."""

    CREATING = "creating"
    """Recorded, but no agent lease serves it yet."""
    CONNECTING = "connecting"
    """Bound to an agent lease whose connector is not (or no longer) connected to the hub."""
    ACTIVE = "active"
    """Its connector is connected and visitors are let through."""
    PAUSED = "paused"
    """The owner paused it: new visitor connections are refused."""
    STOPPING = "stopping"
    """Being closed: open streams are being torn down."""
    STOPPED = "stopped"
    """Closed for good (by its owner, or because its lease ended); kept for history."""
    FAILED = "failed"
    """Ended by an error, recorded in ``lastError``."""

    def __str__(self) -> str:
        return self.value


TRANSITIONS: dict[TunnelStatus, frozenset[TunnelStatus]] = {
    TunnelStatus.CREATING: frozenset(
        {TunnelStatus.CONNECTING, TunnelStatus.STOPPING, TunnelStatus.FAILED}
    ),
    TunnelStatus.CONNECTING: frozenset(
        {TunnelStatus.ACTIVE, TunnelStatus.PAUSED, TunnelStatus.STOPPING, TunnelStatus.FAILED}
    ),
    TunnelStatus.ACTIVE: frozenset(
        {TunnelStatus.PAUSED, TunnelStatus.CONNECTING, TunnelStatus.STOPPING, TunnelStatus.FAILED}
    ),
    TunnelStatus.PAUSED: frozenset(
        {TunnelStatus.ACTIVE, TunnelStatus.CONNECTING, TunnelStatus.STOPPING, TunnelStatus.FAILED}
    ),
    TunnelStatus.STOPPING: frozenset({TunnelStatus.STOPPED, TunnelStatus.FAILED}),
    TunnelStatus.STOPPED: frozenset(),
    TunnelStatus.FAILED: frozenset(),
}
"""For each status, the statuses it may move to next."""

LIVE_STATUSES: frozenset[TunnelStatus] = frozenset(
    status for status, targets in TRANSITIONS.items() if targets
)
"""Statuses listed by default: every status that is not final."""

INACTIVE_STATUSES: frozenset[TunnelStatus] = frozenset(TunnelStatus) - LIVE_STATUSES
"""Final statuses (``stopped``, ``failed``), listed only with ``includeInactive``."""


def can_transition(current: TunnelStatus, new: TunnelStatus) -> bool:
    """Tell whether a tunnel in ``current`` may move to ``new``."""
    return new in TRANSITIONS[current]
