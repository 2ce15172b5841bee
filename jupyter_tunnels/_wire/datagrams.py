"""Framing of UDP datagrams on a byte stream: a 2-byte big-endian length, then the payload.

Used by both ends of a UDP tunnel: the hub frames what arrives on its UDP port (one data
connection per client address), the connector unframes it towards the local service, and the
replies travel back the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

__all__ = ["MAX_DATAGRAM", "DatagramReader", "frame"]

MAX_DATAGRAM = 65507
"""The largest UDP payload over IPv4."""
_LENGTH = struct.Struct("!H")


def frame(payload: bytes) -> bytes:
    """Prefix a datagram with its length."""
    return _LENGTH.pack(len(payload)) + payload


class DatagramReader:
    """Cuts a byte stream back into datagrams and passes each to ``deliver``."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self.deliver = deliver
        self.buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Add bytes from the stream; deliver every complete datagram."""
        self.buffer += data
        while len(self.buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self.buffer)
            end = _LENGTH.size + length
            if len(self.buffer) < end:
                return
            self.deliver(bytes(self.buffer[_LENGTH.size : end]))
            del self.buffer[:end]
