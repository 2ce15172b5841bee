"""The control channel's WebSocket connection: websockets' own, but for its pings' payload."""

from __future__ import annotations

import os
from collections.abc import Awaitable

from websockets.asyncio.client import ClientConnection
from websockets.typing import DataLike

__all__ = ["ControlConnection"]


class ControlConnection(ClientConnection):
    """websockets' client connection, whose keep-alive pings carry bytes from ``os.urandom``.

    websockets draws a ping's payload from the global ``random`` state; a connector in a kernel
    would then move the state a notebook seeded for its own results, every ping interval.
    """

    async def ping(self, data: DataLike | None = None) -> Awaitable[float]:
        """Send a ping; one without a payload gets four bytes from ``os.urandom``."""
        if data is None:
            data = os.urandom(4)
            while data in self.pending_pings:
                data = os.urandom(4)
        return await super().ping(data)
