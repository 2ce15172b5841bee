"""The store's engine (hub/store/_engine.py): closing it lets the transactions in flight end
and refuses new ones, so no connection is left for the garbage collector after its loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from jupyter_tunnels.hub.store._engine import Store, StoreClosed, sqlite_url

pytestmark = pytest.mark.anyio


async def test_close_waits_for_a_transaction_in_flight_and_refuses_new_ones(
    tmp_path: Path,
) -> None:
    store = Store(sqlite_url(tmp_path / "hub.db"))
    await store.open()
    happened: list[str] = []
    holding = asyncio.Event()
    release = asyncio.Event()

    async def request_in_flight() -> None:  # a request the hub was serving when it stopped
        async with store.read() as conn:
            holding.set()
            await release.wait()
            assert (await conn.execute(select(1))).scalar() == 1
            happened.append("the request ended")

    request = asyncio.create_task(request_in_flight())
    await holding.wait()
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0)  # close has begun
    with pytest.raises(StoreClosed, match="the hub is stopping"):
        async with store.write():
            pass
    with pytest.raises(StoreClosed):
        async with store.read():
            pass
    release.set()
    await closing
    happened.append("the store closed")
    await request
    assert happened == ["the request ended", "the store closed"]
    health = await store.health()  # answers, does not raise
    assert (health.status, health.error) == (
        "error",
        "the hub's store is closed: the hub is stopping",
    )
