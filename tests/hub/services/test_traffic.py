"""Request log and metrics: a real hub, a real connector and the test app, over real sockets."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from jupyter_tunnels import AsyncTunnelsClient, NotFound, Tunnel, TunnelMetrics
from tests._apps import Services, start_services
from tests._hubs import RunningHub
from tests._tunnels import WAIT, connector_for, http_get_raw, hub_address, visitor

pytestmark = pytest.mark.anyio

_SAMPLE = re.compile(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$")


@pytest.fixture
def other_services() -> Iterator[Services]:
    """A second copy of the test app, on other ports."""
    running = start_services("other")
    yield running
    running.stop()


async def _metrics_until(
    client: AsyncTunnelsClient, tunnel: Tunnel, **expected: Any
) -> TunnelMetrics:
    """Poll the tunnel's metrics until the given fields have the given values."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        metrics = await client.tunnel_metrics(tunnel.id)
        if all(getattr(metrics, name) == value for name, value in expected.items()):
            return metrics
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"metrics stayed {metrics!r}, expected {expected}")
        await asyncio.sleep(0.05)


def _prometheus(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], str]:
    """Parse the text exposition: every sample line, by name and labels."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        pairs = frozenset(re.findall(r'(\w+)="([^"]*)"', labels or ""))
        samples[(name, pairs)] = value
    return samples


async def test_requests_are_logged_and_counted(hub: RunningHub, services: Services) -> None:
    host, port = hub_address(hub)
    async with connector_for(hub) as connector:
        client = connector.client
        tunnel = await connector.expose(services.http_port, public=True, name="logged")
        get = b"GET /t/logged/headers/x?secret=abc HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        got = await http_get_raw(host, port, get)
        assert got.startswith(b"HTTP/1.1 200 ")
        body = b"x" * 5000
        post = (
            b"POST /t/logged/upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n"
            b"Connection: close\r\n\r\n" + body
        )
        posted = await http_get_raw(host, port, post)
        assert posted.endswith(b'{"received": 5000}')
        async with visitor() as http:  # one kept-alive connection, several requests
            missing = await http.get(tunnel.url + "nope")
            pages = [await http.get(tunnel.url) for _ in range(3)]
        assert missing.status_code == 404
        assert [p.text for p in pages] == ["hello from the app\n"] * 3

        log = await client.tunnel_requests(tunnel.id)
        assert [(e.method, e.path, e.status) for e in log] == [
            *[("GET", "/", 200)] * 3,
            ("GET", "/nope", 404),
            ("POST", "/upload", 200),
            ("GET", "/headers/x", 200),
        ], "newest first, paths without their query"
        assert all(e.client == "127.0.0.1" for e in log)
        assert all(e.duration_ms >= 0 for e in log)
        # exact where the test knows every byte: raw requests that end with the connection
        assert (log[-1].bytes_in, log[-1].bytes_out) == (len(get), len(got))
        assert (log[-2].bytes_in, log[-2].bytes_out) == (len(post), len(posted))
        assert all(e.bytes_out > len("hello from the app\n") for e in log[:3])
        assert "secret" not in repr(log)

        metrics = await _metrics_until(client, tunnel, open_streams=0)
        assert metrics.tunnel_id == tunnel.id
        assert (metrics.requests, metrics.errors) == (6, 0)
        assert metrics.bytes_in == sum(e.bytes_in for e in log)
        assert metrics.bytes_out == sum(e.bytes_out for e in log)
        assert metrics.latency_samples == 6
        assert metrics.latency_p50_ms is not None and metrics.latency_p90_ms is not None
        assert 0 <= metrics.latency_p50_ms <= metrics.latency_p90_ms
        assert metrics.latency_p90_ms <= max(e.duration_ms for e in log)

        newest_two = await client.tunnel_requests(tunnel.id, limit=2)
        assert newest_two == log[:2]
        async with visitor(headers=hub.headers) as api:
            for bad in ("0", "201", "-1", "2.0", "two"):
                answer = await api.get(
                    f"{hub.url}/v1/tunnels/{tunnel.id}/requests", params={"limit": bad}
                )
                assert answer.status_code == 400, bad
                assert answer.json()["code"] == "INVALID_INPUT"


async def test_websockets_refusals_and_hub_errors(
    hub: RunningHub, services: Services, other_services: Services
) -> None:
    async with connector_for(hub) as connector:
        client = connector.client
        public = await connector.expose(services.http_port, public=True, name="sockets")
        url = public.url.replace("http://", "ws://") + "ws"
        async with websockets.connect(url) as socket:
            await socket.send("hello")
            assert await socket.recv() == "hello"
            await _metrics_until(client, public, open_streams=1, requests=1)
        await _metrics_until(client, public, open_streams=0)
        (upgrade,) = await client.tunnel_requests(public.id)
        assert (upgrade.method, upgrade.path, upgrade.status) == ("GET", "/ws", 101)

        # another port: exposing the same target again would attach to the public tunnel
        private = await connector.expose(other_services.http_port, name="private")
        async with visitor() as http:
            refused = await http.get(private.url, headers={"Authorization": "Bearer wrong"})
            allowed = await http.get(private.url, headers={"Authorization": f"Bearer {hub.token}"})
            await client.update(private.id, status="paused")
            paused = await http.get(private.url, headers={"Authorization": f"Bearer {hub.token}"})
        assert (refused.status_code, allowed.status_code, paused.status_code) == (401, 200, 503)
        log = await client.tunnel_requests(private.id)
        assert [e.status for e in log] == [503, 200, 401], "refused requests are logged too"
        assert log[0].bytes_out > int(paused.headers["Content-Length"]) > 0
        metrics = await client.tunnel_metrics(private.id)
        assert (metrics.requests, metrics.errors) == (3, 1), "a 503 is an error, a 401 is not"


async def test_owner_isolation_and_unknown_tunnels(hub: RunningHub, services: Services) -> None:
    other = AsyncTunnelsClient(hub.url, hub.new_owner("someone else"))
    async with connector_for(hub) as connector, other:
        tunnel = await connector.expose(services.http_port, public=True, name="mine")
        async with visitor() as http:
            assert (await http.get(tunnel.url)).status_code == 200
        assert len(await connector.client.tunnel_requests("mine")) == 1, "a slug works too"
        for ref in (tunnel.id, "mine"):
            with pytest.raises(NotFound):
                await other.tunnel_requests(ref)
            with pytest.raises(NotFound):
                await other.tunnel_metrics(ref)
        with pytest.raises(NotFound):
            await connector.client.tunnel_metrics("no-such-tunnel")
        quiet = await connector.client.create(services.http_port, name="quiet", access="public")
        assert await connector.client.tunnel_requests(quiet.id) == []
        metrics = await connector.client.tunnel_metrics(quiet.id)
        assert (metrics.requests, metrics.latency_p50_ms, metrics.since) == (0, None, None)


async def test_prometheus_metrics_need_a_token_and_show_own_tunnels(
    hub: RunningHub, services: Services
) -> None:
    other_token = hub.new_owner("someone else")
    async with connector_for(hub) as connector, visitor() as http:
        tunnel = await connector.expose(services.http_port, public=True, name="scraped")
        assert (await http.get(tunnel.url)).status_code == 200
        assert (await http.get(tunnel.url + "nope")).status_code == 404

        anonymous = await http.get(f"{hub.url}/metrics")
        assert anonymous.status_code == 401
        assert anonymous.json()["code"] == "MISSING_AUTH"
        wrong = await http.get(f"{hub.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401

        answer = await http.get(f"{hub.url}/metrics", headers=hub.headers)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        samples = _prometheus(answer.text)
        labels = {("tunnel", "scraped"), ("tunnel_id", tunnel.id)}
        log = await connector.client.tunnel_requests(tunnel.id)

        def value(name: str, **extra: str) -> str:
            return samples[(name, frozenset(labels | set(extra.items())))]

        assert value("jupyter_tunnels_requests_total") == "2"
        assert value("jupyter_tunnels_request_errors_total") == "0"
        assert value("jupyter_tunnels_open_streams") == "0"
        assert value("jupyter_tunnels_bytes_total", direction="in") == str(
            sum(e.bytes_in for e in log)
        )
        assert value("jupyter_tunnels_bytes_total", direction="out") == str(
            sum(e.bytes_out for e in log)
        )
        assert value("jupyter_tunnels_request_duration_seconds_count") == "2"
        for quantile in ("0.5", "0.9"):
            assert float(value("jupyter_tunnels_request_duration_seconds", quantile=quantile)) >= 0
        assert samples[("jupyter_tunnels_live_tunnels", frozenset())] == "1"
        assert samples[("jupyter_tunnels_connected_agents", frozenset())] == "1"

        theirs = await http.get(
            f"{hub.url}/metrics", headers={"Authorization": f"Bearer {other_token}"}
        )
        assert theirs.status_code == 200
        assert "scraped" not in theirs.text
        assert _prometheus(theirs.text)[("jupyter_tunnels_live_tunnels", frozenset())] == "0"


async def test_the_log_is_bounded(hub: RunningHub, services: Services) -> None:
    from jupyter_tunnels.hub.services._traffic import RECENT_REQUESTS

    async with connector_for(hub) as connector:
        tunnel = await connector.expose(services.http_port, public=True, name="busy")
        async with httpx.AsyncClient(timeout=WAIT, trust_env=False) as http:
            for number in range(RECENT_REQUESTS + 5):
                await http.get(f"{tunnel.url}headers/{number}")
        log = await connector.client.tunnel_requests(tunnel.id, limit=RECENT_REQUESTS)
        assert len(log) == RECENT_REQUESTS
        assert log[0].path == f"/headers/{RECENT_REQUESTS + 4}"
        assert log[-1].path == "/headers/5", "the oldest ones were dropped"
        metrics = await connector.client.tunnel_metrics(tunnel.id)
        assert metrics.requests == RECENT_REQUESTS + 5, "counters count everything"
