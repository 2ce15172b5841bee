"""Whether a local port accepts TCP connections: the one probe behind "is your app
listening?" (the connector's readiness, ``expose``'s warning, ``run``'s wait, the magic's
check), blocking and on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket

__all__ = ["PROBE_TIMEOUT", "aaccepts", "accepts"]

PROBE_TIMEOUT = 1.0
"""Seconds a port has to accept the probe's connection; one that takes longer counts as not
listening (a local app answers in well under a millisecond)."""


def accepts(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether ``host:port`` accepts a TCP connection within ``timeout`` (blocking)."""
    try:
        with socket.create_connection((host, port), timeout):
            return True
    except OSError:
        return False


async def aaccepts(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> bool:
    """:func:`accepts` on the running event loop; the probe's connection is closed before it
    answers."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
