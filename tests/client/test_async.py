"""The async SDK against a real hub: every method, the error tree, configuration, retries.

The async client mirrors the blocking one (``test_sync.py``), so these tests walk the same
stories with ``await``, and check that both clients offer the same methods. Each runs twice,
on asyncio and on trio (``anyio_backend`` in this folder's conftest.py).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from jupyter_tunnels import (
    Access,
    AsyncTunnelsClient,
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    ErrorCode,
    HeartbeatAction,
    HubUnreachable,
    IllegalTransition,
    LeaseExpired,
    LeaseInactive,
    LeaseStatus,
    NotFound,
    Protocol,
    RelayLeaseStatus,
    SlugTaken,
    Target,
    TransportError,
    TunnelReadiness,
    TunnelsClient,
    TunnelStatus,
)
from jupyter_tunnels.client import HUB_URL_ENV, TOKEN_ENV
from jupyter_tunnels.hub.api._routes import ROUTES
from tests._hubs import RunningHub
from tests._sockets import canned_server, closed_port

pytestmark = pytest.mark.anyio

T = TypeVar("T")

RETRIES = 2
ATTEMPTS = RETRIES + 1
TINY_BACKOFF = 0.001
WAIT_TIMEOUT = 10.0
POLL_INTERVAL = 0.05


def connect(hub: RunningHub, token: str | None = None, **options: Any) -> AsyncTunnelsClient:
    """A client for ``hub`` with the admin token (or ``token``)."""
    return AsyncTunnelsClient(hub.url, hub.token if token is None else token, **options)


def impatient(url: str, **options: Any) -> AsyncTunnelsClient:
    """A client for ``url`` that retries RETRIES times with almost no backoff."""
    return AsyncTunnelsClient(url, "t", retries=RETRIES, retry_backoff=TINY_BACKOFF, **options)


async def wait_for(check: Callable[[], Awaitable[T | None]]) -> T:
    """Await ``check`` until it returns something other than None; return that."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while (result := await check()) is None:
        assert time.monotonic() < deadline, f"gave up after {WAIT_TIMEOUT:g} s"
        await anyio.sleep(POLL_INTERVAL)
    return result


async def concurrently(*calls: Awaitable[T]) -> list[T]:
    """Await ``calls`` at the same time, in a task group; return their results in order."""
    results: dict[int, T] = {}

    async def run(index: int, call: Awaitable[T]) -> None:
        results[index] = await call

    async with anyio.create_task_group() as group:
        for index, call in enumerate(calls):
            group.start_soon(run, index, call)
    return [results[index] for index in range(len(calls))]


class CountingTransport(httpx.AsyncBaseTransport):
    """A real async HTTP transport that counts the requests it is asked to send."""

    def __init__(self) -> None:
        self.sent = 0
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    """The public methods of a client class (its own and inherited) and their signatures."""
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_both_clients_offer_the_same_methods() -> None:
    sync_methods = public_methods(TunnelsClient)
    async_methods = public_methods(AsyncTunnelsClient)
    assert sync_methods.pop("close") and async_methods.pop("aclose")
    assert sync_methods == async_methods
    # one method per operation of the API (the OpenAPI document's, from the route table)
    assert len(sync_methods) == sum(len(route.operations) for route in ROUTES)
    assert all(inspect.iscoroutinefunction(getattr(AsyncTunnelsClient, m)) for m in async_methods)


# --- happy paths: every method -------------------------------------------------------------


async def test_health(hub: RunningHub) -> None:
    async with connect(hub) as client:
        health = await client.health()
        assert health.status == "ok"
        assert health.counts is not None and health.counts.tunnels == 0
    async with AsyncTunnelsClient(hub.url) as anonymous:
        assert (await anonymous.health()).counts is None


async def test_tunnels_from_creation_to_close(hub: RunningHub) -> None:
    async with connect(hub) as client:
        web, redis, api = await concurrently(
            client.create(8050),
            client.create("127.0.0.1:6379", name="cache", metadata={"team": "ml"}),
            client.create(Target(host="localhost", port=8000), slug="my-api", access="public"),
        )
        assert web.target == Target(host="127.0.0.1", port=8050)
        assert (redis.name, redis.protocol, redis.metadata) == (
            "cache",
            Protocol.TCP,
            {"team": "ml"},
        )
        assert (api.slug, api.access) == ("my-api", Access.PUBLIC)
        assert {t.id for t in await client.list()} == {web.id, redis.id, api.id}
        assert await client.get(api.id) == await client.get("my-api")

        renamed = await client.update(web.id, name="dashboard", metadata={"owner": "ana"})
        assert (renamed.name, renamed.metadata) == ("dashboard", {"owner": "ana"})
        rotated = await client.rotate(web.id, 8051, host="127.0.0.2", reason="new port")
        assert rotated.target == Target(host="127.0.0.2", port=8051)
        assert rotated.url == web.url

        closed = await client.delete(redis.id)
        assert closed.status is TunnelStatus.STOPPED
        assert redis.id not in [t.id for t in await client.list()]
        assert redis.id in [t.id for t in await client.list(include_inactive=True)]
        assert [t.id for t in await client.list(status=TunnelStatus.STOPPED)] == [redis.id]

        failed = await client.update(api.id, status="failed", last_error="the app exited")
        assert (failed.status, failed.last_error) == (TunnelStatus.FAILED, "the app exited")


async def test_leases_heartbeats_and_agents(hub: RunningHub) -> None:
    async with connect(hub) as client:
        grant = await client.create_lease("laptop", idempotency_key="boot-1", ttl_seconds=60)
        assert grant.created and grant.ttl_seconds == 60
        again = await client.create_lease("laptop", idempotency_key="boot-1")
        assert (again.id, again.created) == (grant.id, False)

        tunnel = await client.create(8050, lease_id=grant.id)
        assert [t.id for t in await client.list(lease_id=grant.id)] == [tunnel.id]
        beat = await client.heartbeat(grant.id, connected_to_hub=False, local_ready=True)
        assert beat.action is HeartbeatAction.NONE
        # "connected", yet no control channel is open for the lease: the hub says reconnect
        claim = await client.heartbeat(grant.id, connected_to_hub=True, local_ready=True)
        assert claim.action is HeartbeatAction.RECONNECT
        assert (await client.get(tunnel.id)).status is TunnelStatus.ACTIVE
        paused = await client.update(tunnel.id, status="paused")
        assert paused.status is TunnelStatus.PAUSED

        async with AsyncTunnelsClient(hub.url) as agent:  # the agent token is enough
            beat = await agent.heartbeat(
                grant.id, last_error="port 8050 is closed", agent_token=again.agent_token
            )
            assert beat.status is LeaseStatus.ACTIVE
        lease = await client.get_lease(grant.id)
        assert lease.readiness.last_error == "port 8050 is closed"
        assert (await client.refresh_lease(grant.id, ttl_seconds=90)).ttl_seconds == 90

        other = await client.create_lease("server")
        assert [le.id for le in await client.list_leases(client_instance_id="server")] == [other.id]
        agents = {a.client_instance_id: a for a in await client.list_agents()}
        assert set(agents) == {"laptop", "server"}

        assert (await client.release_lease(grant.id)).status is LeaseStatus.RELEASED
        assert (await client.heartbeat(grant.id)).action is HeartbeatAction.STOP
        assert [le.id for le in await client.list_leases()] == [other.id]
        assert len(await client.list_leases(include_expired=True)) == 2
        assert (await client.delete_lease(other.id)).id == other.id
        with pytest.raises(NotFound):
            await client.get_lease(other.id)


async def test_a_heartbeat_reports_each_tunnel_s_readiness(hub: RunningHub) -> None:
    async with connect(hub) as client:
        grant = await client.create_lease("laptop")
        answering = await client.create(8050, lease_id=grant.id, name="answering")
        silent = await client.create(8051, lease_id=grant.id, name="silent")
        error = "port 8051 is not listening on 127.0.0.1: start your app first"
        await client.heartbeat(
            grant.id,
            local_ready=False,
            last_error=error,
            tunnels={
                answering.id: TunnelReadiness(local_ready=True),
                silent.id: TunnelReadiness(local_ready=False, last_error=error),
            },
        )
        shown = (await client.get(answering.id)).readiness
        assert (shown.local_ready, shown.last_error) == (True, None)
        shown = (await client.get(silent.id)).readiness
        assert (shown.local_ready, shown.last_error) == (False, error)
        assert (await client.get_lease(grant.id)).readiness.last_error == error


async def test_relay_leases(hub: RunningHub) -> None:
    async with connect(hub) as client:
        grant = await client.create_relay_lease("job-runner", "8000", name="model")
        assert grant.agent_token and grant.worker_token
        relay = await client.get_relay_lease(grant.id)
        assert relay.status is RelayLeaseStatus.ACTIVE
        rotated = await client.refresh_worker_token(grant.id)
        assert rotated.worker_token != grant.worker_token
        assert (await client.close_relay_lease(grant.id)).status is RelayLeaseStatus.CLOSED
        with pytest.raises(LeaseInactive):
            await client.refresh_worker_token(grant.id)


# --- errors --------------------------------------------------------------------------------


async def test_hub_errors_map_to_the_exception_tree(hub: RunningHub) -> None:
    async with connect(hub) as client:
        tunnel = await client.create(8050, slug="taken")
        with pytest.raises(NotFound) as not_found:
            await client.get("no-such-tunnel")
        assert not_found.value.code is ErrorCode.TUNNEL_NOT_FOUND
        with pytest.raises(IllegalTransition) as illegal:
            await client.update(tunnel.id, status="paused")
        assert str(illegal.value) == (
            "409 ILLEGAL_TRANSITION: a tunnel cannot go from creating to paused"
        )
        with pytest.raises(SlugTaken):
            await client.create(8051, slug="taken")
        with pytest.raises(BadRequest):
            await client.create("not a target")
    async with connect(hub, "not-a-token") as intruder:
        with pytest.raises(AuthenticationError) as denied:
            await intruder.list_agents()
        assert denied.value.status_code == 401


async def test_expired_lease_is_gone(make_hub: Callable[..., RunningHub]) -> None:
    hub = make_hub(lease_ttl=1)
    async with connect(hub) as client:
        grant = await client.create_lease("sleepy-laptop")

        async def expired() -> bool | None:
            lease = await client.get_lease(grant.id)
            return lease.status is LeaseStatus.EXPIRED or None

        await wait_for(expired)
        with pytest.raises(LeaseExpired) as caught:
            await client.heartbeat(grant.id)
        assert caught.value.status_code == 410
        assert caught.value.code is ErrorCode.LEASE_EXPIRED


# --- configuration -------------------------------------------------------------------------


async def test_configuration_from_the_environment(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HUB_URL_ENV, hub.url)
    monkeypatch.setenv(TOKEN_ENV, hub.token)
    async with AsyncTunnelsClient() as client:
        assert (await client.create(8050)).requested_port == 8050
    monkeypatch.delenv(HUB_URL_ENV)
    with pytest.raises(ConfigurationError, match=HUB_URL_ENV):
        AsyncTunnelsClient()
    async with AsyncTunnelsClient(hub.url, "") as client:
        with pytest.raises(ConfigurationError, match=TOKEN_ENV):
            await client.list()


async def test_an_injected_http_client_is_used_and_left_open(hub: RunningHub) -> None:
    transport = CountingTransport()
    async with httpx.AsyncClient(transport=transport) as http:
        async with AsyncTunnelsClient(hub.url, hub.token, http_client=http) as client:
            await client.list()
        assert transport.sent == 1
        assert not http.is_closed


# --- retries -------------------------------------------------------------------------------


async def test_connection_refused_is_retried_then_hub_unreachable() -> None:
    transport = CountingTransport()
    url = f"http://127.0.0.1:{closed_port()}"
    async with impatient(url, transport=transport) as client:
        with pytest.raises(HubUnreachable) as caught:
            await client.create_lease("laptop")
    assert transport.sent == ATTEMPTS
    assert caught.value.attempts == ATTEMPTS
    assert f"tried {ATTEMPTS} times" in str(caught.value)


async def test_broken_connections_are_retried_only_for_idempotent_methods() -> None:
    with canned_server(None) as server:
        async with impatient(server.url) as client:
            with pytest.raises(TransportError) as caught:
                await client.delete("some-tunnel")
            assert (server.connections, caught.value.attempts) == (ATTEMPTS, ATTEMPTS)
            with pytest.raises(TransportError) as caught:
                await client.refresh_worker_token("some-relay-lease")
            assert (server.connections, caught.value.attempts) == (ATTEMPTS + 1, 1)


async def test_a_call_waiting_to_retry_can_be_cancelled() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    outcome: list[str] = []

    async def call(client: AsyncTunnelsClient) -> None:
        try:
            await client.list()
        except anyio.get_cancelled_exc_class():
            outcome.append("cancelled")
            raise

    async with AsyncTunnelsClient(url, "t", retries=100, retry_backoff=1.0) as client:
        # unless cancelled, the call would go on retrying for minutes
        with anyio.fail_after(WAIT_TIMEOUT):
            async with anyio.create_task_group() as group:
                group.start_soon(call, client)
                await anyio.sleep(POLL_INTERVAL)  # the call is now waiting to retry
                group.cancel_scope.cancel()
    assert outcome == ["cancelled"]
