"""The connector's life: reconnects, lease recovery, pause, close, access, memory."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import httpx
import pytest
import websockets

from jupyter_tunnels import APIError, AsyncTunnelsClient
from jupyter_tunnels.connector import Connector, TargetNotAllowed
from jupyter_tunnels.connector._connector import CONTROL_PING_INTERVAL
from tests._apps import Services
from tests._hubs import RunningHub
from tests._tunnels import WAIT, connector_for, until, visitor

pytestmark = pytest.mark.anyio

GIB = 1024 * 1024 * 1024
MEMORY_BOUND = 96 * 1024 * 1024
"""How much the whole test process (hub, connector, app, client) may grow during 1 GiB."""


async def _get_until(
    url: str, status: int, headers: dict[str, str] | None = None
) -> httpx.Response:
    """GET ``url`` until it answers ``status`` (the connector may still be coming back)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    async with visitor() as http:
        while True:
            response = await http.get(url, headers=headers)
            if response.status_code == status or asyncio.get_running_loop().time() > deadline:
                return response
            await asyncio.sleep(0.1)


async def test_hub_restart_brings_the_connector_back_with_the_same_url(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub()
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="stays")
        assert (await _get_until(tunnel.url, 200)).status_code == 200
        hub.stop()
        async with visitor() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(tunnel.url)
        make_hub(db_path=hub.db_path, port=hub.server.port)
        response = await _get_until(tunnel.url, 200)
        assert response.status_code == 200
        assert response.text == "hello from the app\n"
        assert connector.reconnects >= 1
        again = await connector.client.get(tunnel.id)
        assert again.url == tunnel.url
        assert again.status.value == "active"


async def test_the_connector_leaves_a_seeded_global_random_alone(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    """A notebook that seeded ``random`` draws the same numbers with a connector in its kernel:
    neither the reconnect backoff nor the control channel's keep-alive pings move that state."""
    hub = make_hub()
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="seeded")
        random.seed(14)
        seeded = random.getstate()
        hub.stop()
        make_hub(db_path=hub.db_path, port=hub.server.port)
        assert (await _get_until(tunnel.url, 200)).status_code == 200
        assert connector.reconnects >= 1
        await asyncio.sleep(CONTROL_PING_INTERVAL + 1)  # a keep-alive ping went out and back
        assert connector.connected.is_set()
        assert random.getstate() == seeded


async def test_lease_expired_while_away_comes_back_with_the_same_url(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=1)
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="sleeper")
        first_lease = connector.lease_id
        hub.stop()
        await asyncio.sleep(1.5)  # longer than the lease's TTL: the laptop slept
        make_hub(db_path=hub.db_path, port=hub.server.port, lease_ttl=1)
        response = await _get_until(tunnel.url, 200)
        assert response.status_code == 200
        assert connector.lease_id != first_lease
        async with AsyncTunnelsClient(hub.url, hub.token) as client:
            old = await client.get(tunnel.id)
            live = await client.list()
        assert old.status.value == "stopped"
        assert old.last_error is not None and "lease expired" in old.last_error
        assert [(t.slug, t.url) for t in live] == [("sleeper", tunnel.url)]


async def test_a_tunnel_the_hub_refuses_after_a_restart_comes_back_once_it_can(
    make_hub: Callable[..., RunningHub], services: Services, unused_tcp_port_range: range
) -> None:
    ports = (unused_tcp_port_range.start, unused_tcp_port_range.stop - 1)
    hub = make_hub(lease_ttl=2, tcp_ports=ports)
    events: list[str] = []
    async with connector_for(hub, on_event=events.append) as connector:
        web = await connector.expose(services.http_port, public=True, name="web")
        raw = await connector.expose(services.tcp_port, protocol="tcp", public=True, name="raw")
        first_lease = connector.lease_id
        hub.stop()
        await asyncio.sleep(2.5)  # the lease expires while the hub is away
        # back without TCP ports: the web tunnel returns at once, the raw one cannot
        hub = make_hub(db_path=hub.db_path, port=hub.server.port, lease_ttl=5, tcp_ports=None)
        assert (await _get_until(web.url, 200)).status_code == 200
        assert connector.lease_id != first_lease
        await until(lambda: "cannot re-create" in (connector.last_error or ""))
        assert "NO_HUB_PORTS" in (connector.last_error or "")
        assert any("will retry" in event for event in events)

        # back with its ports (the new lease still live): the raw tunnel returns, same address
        lease = connector.lease_id
        hub.stop()
        hub = make_hub(db_path=hub.db_path, port=hub.server.port, lease_ttl=5, tcp_ports=ports)
        async with AsyncTunnelsClient(hub.url, hub.token) as client:
            await until(lambda: connector.last_error is None)
            live = {t.name: t for t in await client.list()}
        assert connector.lease_id == lease  # restored on the same lease, not by a new one
        assert sorted(live) == ["raw", "web"], "\n".join(events)
        assert (live["raw"].url, live["web"].url) == (raw.url, web.url)
        reader, writer = await asyncio.open_connection("127.0.0.1", live["raw"].hub_port)
        try:
            writer.write(b"still here")
            assert await asyncio.wait_for(reader.readexactly(10), WAIT) == b"still here"
        finally:
            writer.close()


async def test_a_hub_port_outside_the_new_range_is_traded_for_one_inside(
    make_hub: Callable[..., RunningHub], services: Services, unused_tcp_port_range: range
) -> None:
    first, last = unused_tcp_port_range.start, unused_tcp_port_range.stop - 1
    hub = make_hub(lease_ttl=2, tcp_ports=(first, first + 4))
    events: list[str] = []
    async with connector_for(hub, on_event=events.append) as connector:
        raw = await connector.expose(services.tcp_port, protocol="tcp", public=True, name="raw")
        hub.stop()
        await asyncio.sleep(2.5)  # the lease expires while the hub is away
        hub = make_hub(db_path=hub.db_path, port=hub.server.port, tcp_ports=(first + 5, last))
        async with AsyncTunnelsClient(hub.url, hub.token) as client:
            await until(lambda: _live_names(client, {"raw"}))
            (again,) = await client.list()
            old = await client.get(raw.id)
    assert old.status.value == "stopped"  # ended with its lease when the hub came back
    assert again.hub_port is not None and first + 5 <= again.hub_port <= last
    assert again.url != raw.url
    assert f"hub port {raw.hub_port} is no longer ours; the address will change" in events


async def test_a_refused_expose_is_not_re_created_after_a_lease_loss(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=2, tcp_ports=None)
    events: list[str] = []
    async with connector_for(hub, on_event=events.append) as connector:
        with pytest.raises(APIError, match="NO_HUB_PORTS"):
            await connector.expose(services.tcp_port, protocol="tcp", public=True)
        web = await connector.expose(services.http_port, public=True, name="web")
        hub.stop()
        await asyncio.sleep(2.5)
        make_hub(db_path=hub.db_path, port=hub.server.port, tcp_ports=None)
        assert (await _get_until(web.url, 200)).status_code == 200
    assert not [event for event in events if "re-create" in event], events


async def _live_names(client: AsyncTunnelsClient, names: set[str]) -> bool:
    return {tunnel.name for tunnel in await client.list()} == names


async def test_visitors_get_503_at_once_while_the_connector_is_away(
    hub: RunningHub, services: Services
) -> None:
    connector = Connector(hub.url, hub.token, client_instance_id="away")
    await connector.start()
    tunnel = await connector.expose(services.http_port, public=True, name="away")
    await connector.close(release=False)  # the process died: its lease is still there
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await _get_until(tunnel.url, 503)
    assert response.status_code == 503
    assert loop.time() - started < 5
    assert response.json()["code"] == "AGENT_UNAVAILABLE"
    async with AsyncTunnelsClient(hub.url, hub.token) as client:
        current = await client.get(tunnel.id)
    assert current.status.value == "connecting"


async def test_pause_refuses_visitors_and_resume_restores(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="pausable")
        await connector.client.update(tunnel.id, status="paused")
        async with visitor() as http:
            paused = await http.get(tunnel.url)
            assert paused.status_code == 503
            assert "paused" in paused.json()["message"]
            await connector.client.update(tunnel.id, status="active")
            resumed = await http.get(tunnel.url)
        assert resumed.status_code == 200


async def test_closing_a_tunnel_closes_its_open_streams(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="closing")
        url = tunnel.url.replace("http://", "ws://") + "ws"
        async with websockets.connect(url) as socket:
            await socket.send("before")
            assert await socket.recv() == "before"
            await connector.unexpose(tunnel.id)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(socket.recv(), WAIT)
        async with visitor() as http:
            assert (await http.get(tunnel.url)).status_code == 404


async def test_a_slow_reader_does_not_stall_another_stream(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="slow")
        big = 512 * 1024 * 1024
        async with (
            visitor() as slow,
            visitor() as fast,
            slow.stream("GET", tunnel.url + f"download?size={big}") as stream,
        ):
            iterator = stream.aiter_raw()
            # typed as an AsyncIterator, it is a generator: closed here, not by the collector
            assert isinstance(iterator, AsyncGenerator)
            await iterator.__anext__()  # then stop reading: buffers fill and pause
            for _ in range(5):
                response = await fast.get(tunnel.url + "headers/")
                assert response.status_code == 200
            await iterator.aclose()


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _PeakMemory:
    """Samples this process's resident memory in a thread while a transfer runs."""

    def __init__(self) -> None:
        self.baseline = _rss()
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@pytest.mark.timeout(180)
async def test_one_gib_up_and_down_with_bounded_memory(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="gigabyte")

        async def body() -> AsyncIterator[bytes]:
            block = bytes(1024 * 1024)
            for _ in range(GIB // len(block)):
                yield block

        async with visitor(timeout=120) as http:
            await http.get(tunnel.url)  # warm up: connections, pools, imports
            with _PeakMemory() as memory:
                uploaded = await http.post(tunnel.url + "upload", content=body())
                received = 0
                async with http.stream("GET", tunnel.url + f"download?size={GIB}") as stream:
                    async for chunk in stream.aiter_raw():
                        received += len(chunk)
    assert uploaded.json() == {"received": GIB}
    assert received == GIB
    assert memory.growth < MEMORY_BOUND, f"grew by {memory.growth / 2**20:.0f} MiB"


async def test_relay_lease_visitors_need_the_current_worker_token(
    hub: RunningHub, services: Services
) -> None:
    async with AsyncTunnelsClient(hub.url, hub.token) as client:
        relay = await client.create_relay_lease("relay-agent", services.http_port)
        async with connector_for(hub, client_instance_id="relay-agent"):
            ok = await _get_until(
                relay.public_url, 200, headers={"Authorization": f"Bearer {relay.worker_token}"}
            )
            assert ok.text == "hello from the app\n"
            async with visitor() as http:
                assert (await http.get(relay.public_url)).status_code == 401
                rotated = await client.refresh_worker_token(relay.id)
                old = await http.get(
                    relay.public_url, headers={"Authorization": f"Bearer {relay.worker_token}"}
                )
                new = await http.get(
                    relay.public_url, headers={"Authorization": f"Bearer {rotated.worker_token}"}
                )
            assert old.status_code == 401
            assert new.status_code == 200


async def test_only_allowed_targets_are_dialled(hub: RunningHub, services: Services) -> None:
    async with connector_for(hub) as connector:
        with pytest.raises(TargetNotAllowed, match="not allowed"):
            await connector.expose(80, host="192.0.2.10")
        tunnel = await connector.expose(services.http_port, public=True, name="moved")
        # the owner points it elsewhere through the API: the connector still refuses
        await connector.client.rotate(tunnel.id, "192.0.2.10:80")
        response = await _get_until(tunnel.url, 502)
    assert response.status_code == 502
    assert "not allowed" in response.json()["message"]


async def test_exposing_the_same_target_twice_returns_the_same_tunnel(
    hub: RunningHub, services: Services
) -> None:
    async with connector_for(hub) as connector:
        first = await connector.expose(services.http_port, public=True)
        second = await connector.expose(services.http_port, public=True)
    assert first.id == second.id


async def test_a_tunnel_closed_through_the_api_is_not_brought_back(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=2)  # heartbeats every 0.7 s: slack on a loaded machine
    async with connector_for(hub) as connector, AsyncTunnelsClient(hub.url, hub.token) as client:
        first = await connector.expose(services.http_port, public=True, name="first")
        await client.delete(first.id)
        # a new request for the same port is new: its own name and access, not the closed one's
        second = await connector.expose(services.http_port, name="second")
        assert (second.name, second.access.value) == ("second", "private")
        await connector.expose(services.tcp_port, protocol="tcp", name="raw")
        raw = [t for t in await client.list() if t.name == "raw"]
        await client.delete(raw[0].id)
        for _ in range(50):  # the hub tells the connector over its control channel
            if len(connector.specs) == 1:
                break
            await asyncio.sleep(0.05)

        first_lease = connector.lease_id
        hub.stop()
        await asyncio.sleep(2.5)  # the lease expires while the hub is away
        make_hub(db_path=hub.db_path, port=hub.server.port, lease_ttl=2)
        for _ in range(100):  # the connector takes a new lease and re-creates its tunnels
            if connector.lease_id != first_lease and len(await client.list()) > 0:
                break
            await asyncio.sleep(0.1)
        assert connector.lease_id != first_lease
        assert (await _get_until(second.url, 401)).status_code == 401  # back, and private
        live = await client.list()
    assert [t.name for t in live] == ["second"]  # "raw" stayed closed


async def test_readiness_is_reported_soon_after_a_tunnel_changes(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=600)  # a heartbeat every 200 s: only the early beats can report
    async with connector_for(hub) as connector:
        ready = await connector.expose(services.http_port, name="ready")

        async def readiness(tunnel_id: str) -> tuple[bool, str | None]:
            found = (await connector.client.get(tunnel_id)).readiness
            return found.local_ready, found.last_error

        await until(lambda: _is(readiness(ready.id), (True, None)))
        closed_port = unused_port()
        down = await connector.expose(closed_port, name="down")
        wanted = (False, f"port {closed_port} is not listening on 127.0.0.1: start your app first")
        await until(lambda: _is(readiness(down.id), wanted))
        await connector.unexpose(down.id)
        await until(lambda: _is(readiness(ready.id), (True, None)))


async def _is(value: Awaitable[object], wanted: object) -> bool:
    return await value == wanted


def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
