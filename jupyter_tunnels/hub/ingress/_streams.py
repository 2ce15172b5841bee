"""Opening a stream to a tunnel's connector and waiting for its answer.

Raw TCP ports, UDP ports and ``CONNECT`` requests use this; the HTTP ingress instead writes
the request right behind the ``StreamOpen`` line and reads the answer with the response, to
save a round trip.
"""

from __future__ import annotations

import asyncio

from ..._core.errors import ErrorCode
from ..._wire.protocol import MAX_LINE, StreamReady, decode_line
from .._exceptions import HubError
from ..services._agents import PROBE_AFTER, AgentRegistry
from ..services._routing import Route

__all__ = ["READY_TIMEOUT", "open_stream"]

READY_TIMEOUT = 4.5
"""Seconds to wait for the connector to reach the local target (it is probed, see
``services/_agents.py``, if it has not answered after ``PROBE_AFTER``)."""


class _ReadyReader(asyncio.Protocol):
    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self.done = done
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        complete = b"\n" in self.buffer or len(self.buffer) > MAX_LINE
        if complete and not self.done.done():
            self.done.set_result(bytes(self.buffer))

    def eof_received(self) -> bool:
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(
                HubError(ErrorCode.AGENT_UNAVAILABLE, "the connector closed the stream")
            )


def _lost() -> HubError:
    return HubError(ErrorCode.AGENT_UNAVAILABLE, "the tunnel's connector stopped answering")


async def open_stream(
    agents: AgentRegistry, route: Route, protocol: str
) -> tuple[asyncio.Transport, bytes]:
    """Open a stream to ``route``'s connector; return its transport and bytes read past
    the ready line. Raises :class:`HubError` (503/502) when it cannot."""
    session = agents.session_for(route)
    transport = await session.acquire()
    done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    transport.set_protocol(_ReadyReader(done))
    transport.resume_reading()
    session.open_stream(transport, route, protocol)
    try:
        if not (await asyncio.wait((done,), timeout=PROBE_AFTER))[0]:

            def probed(alive: bool) -> None:
                if not alive and not done.done():
                    done.set_exception(_lost())

            session.probe(probed)  # slow to answer: is the connector still there?
            await asyncio.wait_for(asyncio.shield(done), READY_TIMEOUT - PROBE_AFTER)
        received = done.result()
        line, _, leftover = received.partition(b"\n")
        ready = decode_line(line, StreamReady)
    except asyncio.TimeoutError:
        transport.abort()
        raise HubError(ErrorCode.AGENT_UNAVAILABLE, "the connector did not answer") from None
    except BaseException:  # cancelled (the visitor left), or a malformed line: nobody owns it
        transport.abort()
        raise
    if not ready.ok:
        transport.close()
        raise HubError(ErrorCode.AGENT_UNAVAILABLE, ready.message or ready.code)
    transport.pause_reading()
    return transport, leftover
