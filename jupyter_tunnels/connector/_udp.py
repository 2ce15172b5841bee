"""The connector's end of a UDP stream: datagrams to and from one local UDP service."""

from __future__ import annotations

import asyncio

from .._wire.datagrams import DatagramReader, frame

__all__ = ["serve_udp_stream"]


class _LocalUdp(asyncio.DatagramProtocol):
    def __init__(self, hub: asyncio.Transport) -> None:
        self.hub = hub

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if not self.hub.is_closing():
            self.hub.write(frame(data))


class _HubSide(asyncio.Protocol):
    def __init__(self, local: asyncio.DatagramTransport, done: asyncio.Future[None]) -> None:
        self.reader = DatagramReader(local.sendto)
        self.local = local
        self.done = done

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.local.close()
        if not self.done.done():
            self.done.set_result(None)


async def serve_udp_stream(hub: asyncio.Transport, host: str, port: int, leftover: bytes) -> None:
    """Relay framed datagrams between the hub connection and ``host:port`` until it closes."""
    loop = asyncio.get_running_loop()
    local, _ = await loop.create_datagram_endpoint(lambda: _LocalUdp(hub), remote_addr=(host, port))
    done: asyncio.Future[None] = loop.create_future()
    side = _HubSide(local, done)
    hub.set_protocol(side)
    if leftover:
        side.data_received(leftover)
    hub.resume_reading()
    await done
