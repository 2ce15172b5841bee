"""The blocking SDK against a real hub: every method, the error tree, configuration, retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pytest

from jupyter_tunnels import (
    Access,
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    ErrorCode,
    Gone,
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
    TunnelError,
    TunnelProvider,
    TunnelReadiness,
    TunnelsClient,
    TunnelStatus,
    UnexpectedResponse,
)
from jupyter_tunnels.client import HUB_URL_ENV, TOKEN_ENV, APIError, Conflict
from tests._hubs import RunningHub
from tests._sockets import canned_server, closed_port, http_response

T = TypeVar("T")

RETRIES = 2
ATTEMPTS = RETRIES + 1
TINY_BACKOFF = 0.001
WAIT_TIMEOUT = 10.0
POLL_INTERVAL = 0.05


def connect(hub: RunningHub, token: str | None = None, **options: Any) -> TunnelsClient:
    """A client for ``hub`` with the admin token (or ``token``)."""
    return TunnelsClient(hub.url, hub.token if token is None else token, **options)


def impatient(url: str, **options: Any) -> TunnelsClient:
    """A client for ``url`` that retries RETRIES times with almost no backoff."""
    return TunnelsClient(url, "t", retries=RETRIES, retry_backoff=TINY_BACKOFF, **options)


def wait_for(check: Callable[[], T | None]) -> T:
    """Call ``check`` until it returns something other than None; return that."""
    deadline = time.monotonic() + WAIT_TIMEOUT
    while (result := check()) is None:
        assert time.monotonic() < deadline, f"gave up after {WAIT_TIMEOUT:g} s"
        time.sleep(POLL_INTERVAL)
    return result


class CountingTransport(httpx.BaseTransport):
    """A real HTTP transport that counts the requests it is asked to send."""

    def __init__(self) -> None:
        self.sent = 0
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


# --- happy paths: every method -------------------------------------------------------------


def test_health_with_and_without_a_token(hub: RunningHub) -> None:
    with connect(hub) as client:
        health = client.health()
        assert health.status == "ok"
        assert health.store.status == "ok"
        assert health.counts is not None and health.counts.tunnels == 0
    with TunnelsClient(hub.url) as anonymous:
        assert anonymous.health().counts is None


def test_tunnels_from_creation_to_close(hub: RunningHub) -> None:
    with connect(hub) as client:
        web = client.create(8050)
        assert web.target == Target(host="127.0.0.1", port=8050)
        assert web.status is TunnelStatus.CREATING
        assert web.access is Access.PRIVATE
        redis = client.create("127.0.0.1:6379", name="cache", metadata={"team": "ml"})
        assert (redis.name, redis.protocol, redis.metadata) == (
            "cache",
            Protocol.TCP,
            {"team": "ml"},
        )
        api = client.create(
            Target(host="localhost", port=8000), slug="my-api", protocol="http", access="public"
        )
        assert (api.slug, api.protocol, api.access) == ("my-api", Protocol.HTTP, Access.PUBLIC)
        local6 = client.create(9000, host="::1")
        assert local6.target == Target(host="::1", port=9000)

        assert [t.id for t in client.list()] == [web.id, redis.id, api.id, local6.id]
        assert client.get(api.id) == client.get("my-api")

        renamed = client.update(web.id, name="dashboard", metadata={"owner": "ana"})
        assert (renamed.name, renamed.metadata) == ("dashboard", {"owner": "ana"})
        assert client.rotate(web.id, 8051, reason="new port").target.port == 8051
        assert client.rotate(web.id, "127.0.0.2:8052").target == Target(host="127.0.0.2", port=8052)

        closed = client.delete(redis.id)
        assert closed.status is TunnelStatus.STOPPED
        assert closed.stopped_at is not None
        assert redis.id not in [t.id for t in client.list()]
        assert redis.id in [t.id for t in client.list(include_inactive=True)]
        assert [t.id for t in client.list(status="stopped")] == [redis.id]
        assert client.delete(redis.id).status is TunnelStatus.STOPPED  # closing twice is fine


def test_leases_heartbeats_and_agents(hub: RunningHub) -> None:
    with connect(hub) as client:
        grant = client.create_lease("laptop", idempotency_key="boot-1", metadata={"os": "linux"})
        assert grant.created and grant.agent_token
        assert grant.status is LeaseStatus.ACTIVE
        again = client.create_lease("laptop", idempotency_key="boot-1")
        assert (again.id, again.created) == (grant.id, False)

        tunnel = client.create(8050, lease_id=grant.id)
        assert tunnel.status is TunnelStatus.CONNECTING
        assert [t.id for t in client.list(lease_id=grant.id)] == [tunnel.id]

        beat = client.heartbeat(grant.id, connected_to_hub=False, local_ready=True)
        assert (beat.lease_id, beat.action) == (grant.id, HeartbeatAction.NONE)
        # "connected", yet no control channel is open for the lease: the hub says reconnect
        claim = client.heartbeat(grant.id, connected_to_hub=True, local_ready=True)
        assert claim.action is HeartbeatAction.RECONNECT
        assert beat.next_heartbeat_seconds > 0
        assert client.get(tunnel.id).status is TunnelStatus.ACTIVE
        assert client.update(tunnel.id, status="paused").status is TunnelStatus.PAUSED
        assert client.update(tunnel.id, status=TunnelStatus.ACTIVE).status is TunnelStatus.ACTIVE

        with TunnelsClient(hub.url) as agent:  # no API token: the agent token is enough
            beat = agent.heartbeat(
                grant.id,
                local_ready=False,
                last_error="port 8050 is closed",
                agent_token=again.agent_token,
            )
            assert beat.status is LeaseStatus.ACTIVE
            with pytest.raises(ConfigurationError, match=TOKEN_ENV):
                agent.get_lease(grant.id)
        lease = client.get_lease(grant.id)
        assert lease.readiness.last_error == "port 8050 is closed"
        assert lease.tunnel_ids == [tunnel.id]
        assert client.refresh_lease(grant.id, ttl_seconds=120).ttl_seconds == 120
        assert client.refresh_lease(grant.id).ttl_seconds == 120

        other = client.create_lease("server")
        assert {le.id for le in client.list_leases()} == {grant.id, other.id}
        assert [le.id for le in client.list_leases(client_instance_id="server")] == [other.id]
        agents = {a.client_instance_id: a for a in client.list_agents()}
        assert agents["laptop"].online and agents["laptop"].active_lease_id == grant.id

        released = client.release_lease(grant.id)
        assert released.status is LeaseStatus.RELEASED and released.released_at is not None
        assert client.get(tunnel.id).status is TunnelStatus.STOPPED
        assert client.heartbeat(grant.id).action is HeartbeatAction.STOP
        assert [le.id for le in client.list_leases()] == [other.id]
        assert grant.id in {le.id for le in client.list_leases(include_expired=True)}

        assert client.delete_lease(other.id).id == other.id
        with pytest.raises(NotFound):
            client.get_lease(other.id)


def test_a_heartbeat_reports_each_tunnel_s_readiness(hub: RunningHub) -> None:
    with connect(hub) as client:
        grant = client.create_lease("laptop")
        answering = client.create(8050, lease_id=grant.id, name="answering")
        silent = client.create(8051, lease_id=grant.id, name="silent")
        error = "port 8051 is not listening on 127.0.0.1: start your app first"
        readiness = {silent.id: TunnelReadiness(local_ready=False, last_error=error)}
        client.heartbeat(grant.id, local_ready=True, tunnels=readiness)
        assert client.get(answering.id).readiness.local_ready is True  # not named: the lease's
        assert client.get(silent.id).readiness.last_error == error


def test_relay_leases(hub: RunningHub) -> None:
    with connect(hub) as client:
        grant = client.create_relay_lease("job-runner", 8000, name="model", ttl_seconds=300)
        assert grant.agent_token and grant.worker_token and grant.public_url
        assert grant.agent_connect.transport == "ws"
        relay = client.get_relay_lease(grant.id)
        assert (relay.status, relay.tunnel_id) == (RelayLeaseStatus.ACTIVE, grant.tunnel_id)
        assert client.get(grant.tunnel_id).access is Access.TOKEN

        rotated = client.refresh_worker_token(grant.id)
        assert rotated.relay_lease_id == grant.id
        assert rotated.worker_token != grant.worker_token

        closed = client.close_relay_lease(grant.id)
        assert closed.status is RelayLeaseStatus.CLOSED and closed.closed_at is not None
        assert client.get_lease(grant.lease_id).status is LeaseStatus.RELEASED
        with pytest.raises(LeaseInactive) as caught:
            client.refresh_worker_token(grant.id)
        assert isinstance(caught.value, Conflict)


# --- errors --------------------------------------------------------------------------------


def test_hub_errors_map_to_the_exception_tree(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with connect(hub) as client, connect(hub, bob) as other:
        tunnel = client.create(8050, slug="taken")
        with pytest.raises(NotFound) as not_found:
            other.get(tunnel.id)  # another owner's tunnel does not exist for bob
        assert not_found.value.status_code == 404
        assert not_found.value.code is ErrorCode.TUNNEL_NOT_FOUND

        with pytest.raises(IllegalTransition) as illegal:
            client.update(tunnel.id, status="paused")
        error = illegal.value
        assert str(error) == "409 ILLEGAL_TRANSITION: a tunnel cannot go from creating to paused"
        assert error.details == {"from": "creating", "to": "paused"}
        assert error.request.method == "PATCH"
        assert error.request.url.path == f"/v1/tunnels/{tunnel.id}"
        assert isinstance(error, Conflict | APIError | TunnelError)

        with pytest.raises(SlugTaken, match="taken"):
            other.create(8051, slug="taken")
        with pytest.raises(BadRequest) as bad:
            client.create(70000)
        assert bad.value.code is ErrorCode.INVALID_PORT
        with pytest.raises(BadRequest):
            client.update(tunnel.id)  # nothing to change
        assert client.get(tunnel.id) == tunnel  # bad requests changed nothing

    with connect(hub, "not-a-token") as intruder, pytest.raises(AuthenticationError) as denied:
        intruder.list()
    assert denied.value.status_code == 401
    assert str(denied.value).startswith("401 INVALID_TOKEN: ")
    with TunnelsClient(hub.url) as anonymous, pytest.raises(AuthenticationError):
        anonymous.heartbeat("some-lease", agent_token="wrong")


def test_expired_lease_is_gone(make_hub: Callable[..., RunningHub]) -> None:
    hub = make_hub(lease_ttl=1)
    with connect(hub) as client:
        grant = client.create_lease("sleepy-laptop")
        wait_for(
            lambda: client.get_lease(grant.id).status is LeaseStatus.EXPIRED or None,
        )
        with pytest.raises(LeaseExpired) as expired:
            client.heartbeat(grant.id, agent_token=grant.agent_token)
        assert isinstance(expired.value, Gone)
        assert expired.value.status_code == 410
        assert str(expired.value).startswith(f"410 LEASE_EXPIRED: lease {grant.id} expired")
        with pytest.raises(LeaseExpired):
            client.refresh_lease(grant.id)
        with pytest.raises(LeaseExpired):
            client.create(8050, lease_id=grant.id)


def test_answers_that_are_not_the_api(hub: RunningHub) -> None:
    page = http_response("502 Bad Gateway", b"<html>upstream down</html>", "text/html")
    with canned_server(page) as proxy, TunnelsClient(proxy.url, "t", retries=0) as client:
        with pytest.raises(APIError) as caught:
            client.list()
        assert caught.value.code is None
        assert str(caught.value).startswith("502: bad gateway; ")
        assert "hub URL" in str(caught.value)
    garbage = http_response("200 OK", b'{"hello": "world"}', "application/json")
    with (
        canned_server(garbage) as server,
        TunnelsClient(server.url, "t") as client,
        pytest.raises(UnexpectedResponse, match="cannot read: status: Field required"),
    ):
        client.health()


def test_empty_ids_and_confused_targets_are_refused_before_sending(hub: RunningHub) -> None:
    with connect(hub) as client:
        with pytest.raises(ValueError, match="tunnel_id"):
            client.get("")
        with pytest.raises(ValueError, match="host"):
            client.create("10.0.0.1:8050", host="127.0.0.1")
        with pytest.raises(TypeError):
            client.create(True)
        assert client.list() == []


# --- configuration -------------------------------------------------------------------------


def test_configuration_from_the_environment(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HUB_URL_ENV, f"{hub.url}/v1/")
    monkeypatch.setenv(TOKEN_ENV, hub.token)
    with TunnelsClient() as client:
        assert client.hub_url == hub.url
        assert client.create(8050).requested_port == 8050
        assert repr(client) == f"TunnelsClient(hub_url={hub.url!r})"
        assert hub.token not in repr(client)
    with connect(hub, "wrong") as client, pytest.raises(AuthenticationError):
        client.list()  # arguments win over the environment


def test_missing_or_malformed_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=HUB_URL_ENV):
        TunnelsClient()
    monkeypatch.setenv(HUB_URL_ENV, "  ")
    with pytest.raises(ConfigurationError, match=HUB_URL_ENV):
        TunnelsClient(token="t")
    with pytest.raises(ConfigurationError, match="http://"):
        TunnelsClient("localhost:8765")
    with pytest.raises(ConfigurationError, match="retries"):
        TunnelsClient("http://127.0.0.1:8765", retries=-1)
    with pytest.raises(ConfigurationError, match="timeout"):
        TunnelsClient("http://127.0.0.1:8765", timeout=0)
    with TunnelsClient("http://127.0.0.1:1") as client, pytest.raises(ConfigurationError):
        client.list()  # no token: refused before anything is sent
    assert TunnelProvider("hub") is TunnelProvider.HUB


def test_an_injected_http_client_is_used_and_left_open(hub: RunningHub) -> None:
    transport = CountingTransport()
    with httpx.Client(transport=transport) as http:
        with TunnelsClient(hub.url, hub.token, http_client=http) as client:
            client.health()
        assert transport.sent == 1
        assert not http.is_closed
    with pytest.raises(ConfigurationError):
        TunnelsClient(hub.url, transport=transport, http_client=httpx.Client())


# --- retries -------------------------------------------------------------------------------


def test_connection_refused_is_retried_then_hub_unreachable() -> None:
    transport = CountingTransport()
    url = f"http://127.0.0.1:{closed_port()}"
    with (
        impatient(url, transport=transport) as client,
        pytest.raises(HubUnreachable) as caught,
    ):
        client.create(8050)  # not idempotent, but nothing reached a hub: safe to retry
    assert transport.sent == ATTEMPTS
    error = caught.value
    assert error.attempts == ATTEMPTS
    assert isinstance(error, TransportError)
    assert error.request.method == "POST"
    assert f"cannot reach the hub at {url}" in str(error)
    assert f"tried {ATTEMPTS} times" in str(error)


def test_broken_connections_are_retried_only_for_idempotent_methods() -> None:
    with canned_server(None) as server, impatient(server.url) as client:
        with pytest.raises(TransportError) as caught:
            client.get("some-tunnel")
        assert server.connections == ATTEMPTS
        assert caught.value.attempts == ATTEMPTS
        assert not isinstance(caught.value, HubUnreachable)

        with pytest.raises(TransportError) as caught:
            client.create(8050)
        assert server.connections == ATTEMPTS + 1
        assert "may or may not have carried it out" in str(caught.value)
