"""Relay bytes between two asyncio transports with backpressure and half-close.

This is the hot path of every tunnel, so it does no per-chunk work beyond handing bytes from
one transport to the other: protocol callbacks (``data_received`` → ``transport.write``), with
``pause_reading``/``resume_reading`` driven by the peer's write-buffer watermarks. That is
about twice as fast on bulk transfers as a ``read``/``write``/``drain`` loop (see
docs/benchmarks.md). A slow reader fills only its own stream's buffers and pauses only its
own sender.
"""

from __future__ import annotations

import asyncio
import logging

__all__ = ["READ_SIZE", "WRITE_BUFFER_HIGH", "read_large_chunks", "splice"]

log = logging.getLogger("jupyter_tunnels.splice")

WRITE_BUFFER_HIGH = 512 * 1024
"""Bytes buffered towards a slow peer before its sender is paused."""
WRITE_BUFFER_LOW = 128 * 1024
READ_SIZE = 1024 * 1024
"""Bytes asyncio's own transports read per ``recv`` on relayed connections (256 KiB by
default)."""


def read_large_chunks(transport: asyncio.BaseTransport) -> None:
    """Let an asyncio socket transport read up to :data:`READ_SIZE` per ``recv``.

    A relay's bulk throughput is bound by system calls and loop iterations per byte, and
    CPython's selector transport reads at most 256 KiB at a time (its ``max_size``, a class
    attribute with no public setter). Four times that took the embedded hosting's bulk
    download from 0.40x to 0.70x direct on bench/ (docs/benchmarks.md). A read allocates only
    what arrived, so idle connections cost nothing more. uvloop's transports (the standalone
    hub's default) have no such knob and are left as they are.
    """
    if isinstance(getattr(transport, "max_size", None), int):
        # not on asyncio.Transport: the selector transport's own (undocumented) attribute
        transport.max_size = READ_SIZE  # type: ignore[attr-defined]


class _Pipe(asyncio.Protocol):
    """Attached to one transport; forwards what it receives to the other one."""

    def __init__(
        self, link: _Link, own: asyncio.Transport, peer: asyncio.Transport, prefix: bytes = b""
    ) -> None:
        self.link = link
        self.own = own
        self.peer = peer
        self.prefix = prefix

    def data_received(self, data: bytes) -> None:
        if self.prefix:
            data, self.prefix = self.prefix + data, b""
        self.peer.write(data)

    def eof_received(self) -> bool:
        self._flush_prefix()
        self.link.half_closed(self.own, self.peer)
        return True

    def _flush_prefix(self) -> None:
        if self.prefix and not self.peer.is_closing():
            self.peer.write(self.prefix)
        self.prefix = b""

    def pause_writing(self) -> None:
        self.peer.pause_reading()

    def resume_writing(self) -> None:
        if not self.peer.is_closing():
            self.peer.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._flush_prefix()
        self.link.lost(self.own, self.peer, exc)


class _Link:
    """The state both directions of one splice share."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.eof_from: set[int] = set()

    def half_closed(self, own: asyncio.Transport, peer: asyncio.Transport) -> None:
        self.eof_from.add(id(own))
        if peer.is_closing():
            own.close()
        elif peer.can_write_eof():
            peer.write_eof()
        else:
            peer.close()
        if len(self.eof_from) == 2:
            own.close()
            peer.close()

    def lost(self, own: asyncio.Transport, peer: asyncio.Transport, exc: Exception | None) -> None:
        if exc is not None:
            peer.abort()
        else:
            peer.close()
        if not self.done.done():
            self.done.set_result(None)


def splice(
    a: asyncio.Transport,
    b: asyncio.Transport,
    *,
    to_a: bytes = b"",
    to_b: bytes = b"",
    before_b_to_a: bytes = b"",
) -> asyncio.Future[None]:
    """Relay ``a`` ⇄ ``b`` until both are closed; first deliver bytes already read.

    ``to_b`` is data already read from ``a`` (and ``to_a`` from ``b``) by the previous protocol.
    ``before_b_to_a`` is sent to ``a`` in the same write as the first bytes from ``b`` (or
    when ``b`` ends), saving a write per stream. Returns a future that completes when the
    relay has ended.
    """
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    link = _Link(done)
    for transport in (a, b):
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH, low=WRITE_BUFFER_LOW)
        read_large_chunks(transport)
    a.set_protocol(_Pipe(link, a, b))
    b.set_protocol(_Pipe(link, b, a, before_b_to_a))
    if to_b:
        b.write(to_b)
    if to_a:
        a.write(to_a)
    a.resume_reading()
    b.resume_reading()
    return done
