"""The connector's reconnect delays: a short jittered exponential backoff.

Short by design (DESIGN.md: nobody hangs): the connector is serving again within seconds of
the network coming back however long it was gone, because the delay is reset after every
session that lasted.
"""

from __future__ import annotations

import random

__all__ = ["BACKOFF_INITIAL", "BACKOFF_MAX", "Backoff"]

BACKOFF_INITIAL = 0.1
"""Seconds before the first reconnect attempt: short, so a brief drop costs almost nothing."""
BACKOFF_MAX = 2.0
"""The longest delay between attempts: low, so the connector is back within seconds of the
network, however long it was away (DESIGN.md: nobody hangs; issue 14 asks for the tunnel
back within 3 s of the link returning). Attempts while the network is down fail at once
(no route), so this is what they cost."""


class Backoff:
    """Jittered exponential backoff, short by design, reset after a good session."""

    def __init__(self, initial: float = BACKOFF_INITIAL, maximum: float = BACKOFF_MAX) -> None:
        self.initial = initial
        self.maximum = maximum
        self.attempt = 0
        # Its own generator: a connector in a kernel must not move the global ``random``
        # state a notebook seeded for its own results.
        self._random = random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt (full jitter)."""
        ceiling = min(self.maximum, self.initial * (2**self.attempt))
        self.attempt += 1
        return self._random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Start again from the initial delay."""
        self.attempt = 0
