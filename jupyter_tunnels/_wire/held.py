"""Holding a fresh connection until it is spliced to its peer (reach streams).

A connection accepted (or opened) before its peer is ready must not lose what it sends
meanwhile. Pausing reading in ``connection_made`` is not enough: uvloop starts reading right
after ``connection_made`` returns. So :class:`HeldProtocol` pauses, keeps whatever arrives
anyway (it pauses again at once, so at most one read is held) and remembers an early EOF;
:func:`splice_held` delivers both to the peer when the splice starts.
"""

from __future__ import annotations

import asyncio
from typing import cast

from .splice import splice

__all__ = ["HeldProtocol", "splice_held"]


class HeldProtocol(asyncio.Protocol):
    """Reads as little as possible and keeps it, until the transport is spliced."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.early = bytearray()
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.early += data
        if self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        return True


def _held(transport: asyncio.Transport) -> HeldProtocol | None:
    protocol = transport.get_protocol()
    return protocol if isinstance(protocol, HeldProtocol) else None


def splice_held(
    a: asyncio.Transport, b: asyncio.Transport, *, to_a: bytes = b"", to_b: bytes = b""
) -> asyncio.Future[None]:
    """:func:`~._splice.splice` ``a`` and ``b``, first delivering what their
    :class:`HeldProtocol` kept (bytes, then an EOF) to the other side."""
    held_a, held_b = _held(a), _held(b)
    early_a = bytes(held_a.early) if held_a else b""
    early_b = bytes(held_b.early) if held_b else b""
    done = splice(a, b, to_a=to_a + early_b, to_b=to_b + early_a)
    for transport, held in ((a, held_a), (b, held_b)):
        if held is not None and held.eof:
            pipe = cast(asyncio.Protocol, transport.get_protocol())
            pipe.eof_received()  # the splice's pipe passes it on
    return done
