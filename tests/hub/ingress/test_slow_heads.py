"""Slow and stalled request heads (slowloris) over raw sockets, on both hostings: a head not
complete within the head timeout is answered 408 and its connection closes, one address holds
a bounded number of unfinished heads (429 beyond), and other visitors are served meanwhile.

Inside Jupyter tornado reads a connection's first head, so every stalled connection here sends
one whole request first: the head that stalls is the front's to read on both hostings. The
hostings are configured through their public settings (``HubServer.start``'s arguments,
``c.TunnelsApp``'s traits): the timeout test's with a short head timeout, so that it waits
seconds rather than the default 20 s and fails if the setting does not reach the front; the
bound test's with a small bound and the default timeout, so that no stalled head of it times
out while it runs. All test clients share 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from jupyter_tunnels.hub import DEFAULT_HEAD_TIMEOUT
from tests._apps import Services
from tests.hub.ingress._hostings import HOSTINGS, Exposed, Hosting, MakeHosting
from tests.hub.ingress._raw import first_answer, raw_request, read_answer

pytestmark = pytest.mark.anyio

SLACK = 15.0
"""How much later than the head timeout a stalled head may be answered on a busy machine
(less than the default timeout less the short one: an unapplied setting still fails)."""
SHORT_HEAD_TIMEOUT = 2.0
"""The head timeout of the timeout test's hostings: a whole head sent in one go, even on a busy
machine, is far inside it."""
SMALL_LIMIT = 8
"""The bound of unfinished heads per address of the bound test's hostings."""
TRICKLE_INTERVAL = 0.2
"""Seconds between two bytes of the trickled head."""


@pytest.fixture(params=HOSTINGS)
def timed_hosting(request: pytest.FixtureRequest, make_hosting: MakeHosting) -> Hosting:
    """Each hosting in turn, with a short head timeout."""
    return make_hosting(request.param, head_timeout=SHORT_HEAD_TIMEOUT)


@pytest.fixture(params=HOSTINGS)
def bounded_hosting(request: pytest.FixtureRequest, make_hosting: MakeHosting) -> Hosting:
    """Each hosting in turn, with a small bound of unfinished heads (and the default timeout)."""
    return make_hosting(request.param, max_unfinished_heads=SMALL_LIMIT)


class Stalled:
    """A visitor connection that sent one whole request, then part of a second head."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, hosting: Hosting, tunnel: Exposed) -> Stalled:
        reader, writer = await asyncio.open_connection(hosting.host, hosting.port)
        writer.write(raw_request("GET", tunnel.url))
        status, _, _ = await read_answer(reader)
        assert status == 200
        writer.write(part_of_a_head(hosting, tunnel))
        await writer.drain()
        return cls(reader, writer)

    async def rest(self, head_timeout: float) -> bytes:
        """Everything the hub sends from now on, until it closes the connection (which a hub
        with this head timeout does in time)."""
        return await asyncio.wait_for(self.reader.read(), head_timeout + SLACK)

    def close(self) -> None:
        self.writer.close()


def part_of_a_head(hosting: Hosting, tunnel: Exposed) -> bytes:
    return f"GET {hosting.tunnel_path(tunnel.slug)} HTTP/1.1\r\nHost: x\r\n".encode()


async def served(hosting: Hosting, tunnel: Exposed) -> bool:
    """Whether a visitor sending a whole request now is served."""
    status, content = await first_answer(hosting.host, hosting.port, raw_request("GET", tunnel.url))
    return (status, content) == (200, b"hello from the app\n")


@contextlib.asynccontextmanager
async def stalled_connections(
    hosting: Hosting, tunnel: Exposed, count: int
) -> AsyncIterator[list[Stalled]]:
    connections = [await Stalled.open(hosting, tunnel) for _ in range(count)]
    try:
        yield connections
    finally:
        for connection in connections:
            connection.close()


async def test_one_address_holds_a_bounded_number_of_unfinished_heads(
    bounded_hosting: Hosting, services: Services
) -> None:
    hosting = bounded_hosting
    tunnel = await hosting.expose(services.http_port, "slowloris", public=True)
    limit = SMALL_LIMIT
    async with stalled_connections(hosting, tunnel, limit - 1) as stalled:
        assert await served(hosting, tunnel), "a whole head is never an unfinished one"
        stalled.append(await Stalled.open(hosting, tunnel))  # the last one allowed
        assert await served(hosting, tunnel), "at the limit, whole heads are still served"
        beyond = await Stalled.open(hosting, tunnel)
        try:
            refused = await beyond.rest(DEFAULT_HEAD_TIMEOUT)
        finally:
            beyond.close()
        assert refused.startswith(b"HTTP/1.1 429 "), refused
        assert b"RATE_LIMITED" in refused and b"unfinished" in refused
        assert await served(hosting, tunnel)
        finished = stalled.pop()
        finished.writer.write(b"\r\n")  # its head is complete: it no longer counts
        status, _, _ = await read_answer(finished.reader)
        assert status == 200
        finished.close()
        async with stalled_connections(hosting, tunnel, 1):
            assert await served(hosting, tunnel)
    # every stalled connection is gone: their address may hold heads again
    async with stalled_connections(hosting, tunnel, 1) as again:
        assert await served(hosting, tunnel)
        again[0].writer.write(b"\r\n")
        status, _, _ = await read_answer(again[0].reader)
        assert status == 200, "not refused: the closed connections' heads were released"


async def test_a_head_not_complete_in_time_is_answered_408_while_others_are_served(
    timed_hosting: Hosting, services: Services
) -> None:
    """Trickling a head byte by byte does not extend its time; a standalone connection that
    sends nothing at all is closed after the same time."""
    hosting = timed_hosting
    tunnel = await hosting.expose(services.http_port, "slow-head", public=True)
    silent = None
    if hosting.name == "standalone":  # inside Jupyter tornado holds a connection before its head
        silent = await asyncio.open_connection(hosting.host, hosting.port)
    async with stalled_connections(hosting, tunnel, 1) as (slow,):
        started = time.monotonic()
        answer = asyncio.create_task(slow.rest(SHORT_HEAD_TIMEOUT))
        trickled = 0
        while not answer.done():
            assert await served(hosting, tunnel), "others are served meanwhile"
            if not slow.writer.is_closing():
                with contextlib.suppress(ConnectionError):
                    slow.writer.write(b"X")
                    trickled += 1
            await asyncio.wait([answer], timeout=TRICKLE_INTERVAL)
        took = time.monotonic() - started
        rest = answer.result()
    assert rest.startswith(b"HTTP/1.1 408 "), rest
    assert b'"code":"REQUEST_TIMEOUT"' in rest.replace(b" ", b""), rest
    assert b"not complete within" in rest
    assert took < SHORT_HEAD_TIMEOUT + SLACK
    assert trickled > 3, "the head kept growing while it was timed"
    if silent is not None:
        reader, writer = silent
        try:
            assert await asyncio.wait_for(reader.read(), SLACK) == b"", "closed, unanswered"
        finally:
            writer.close()
