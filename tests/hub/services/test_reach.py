"""Reach: someone's tunnel used as a local port, with a real Redis and a real HTTP app.

Every test runs a real hub, real connectors and real services on 127.0.0.1: the tunnel's
connector serves the service, another connector (the "agent") binds the local port.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from jupyter_tunnels import (
    AsyncTunnelsClient,
    BadRequest,
    Conflict,
    NotFound,
    ReachConnection,
    ServerError,
)
from jupyter_tunnels.client import APIError
from jupyter_tunnels.connector import Connector
from tests._apps import Services
from tests._hubs import RunningHub
from tests._redis import Resp, redis_server
from tests._tunnels import WAIT, connector_for, until, visitor

pytestmark = pytest.mark.anyio


@pytest.fixture
def ports_hub(make_hub: Callable[..., RunningHub]) -> RunningHub:
    """A hub with a few TCP ports of its own (tcp tunnels need one, even private ones)."""
    for base in range(42000, 60000, 89):
        try:
            for port in range(base, base + 4):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return make_hub(tcp_ports=(base, base + 3))
    raise AssertionError("no free port range")


@pytest.fixture
def redis_port() -> Iterator[int]:
    """A real redis-server on a free port."""
    with redis_server() as port:
        yield port


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def refused(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port`` any more."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def closed_connection(client: AsyncTunnelsClient, connection_id: str) -> ReachConnection:
    """Wait until the connection is closed (the hub closes it in the background)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while (found := await client.get_connection(connection_id)).status.value != "closed":
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)
    return found


@contextlib.asynccontextmanager
async def server_and_eve(hub: RunningHub) -> AsyncIterator[tuple[Connector, Connector]]:
    """The admin's connector ("server") and one of another owner, eve."""
    eve_token = hub.new_owner("eve")
    async with (
        connector_for(hub, client_instance_id="server") as server,
        connector_for(dataclasses.replace(hub, token=eve_token), client_instance_id="eve") as eve,
    ):
        yield server, eve


async def test_a_real_redis_session_through_reach(ports_hub: RunningHub, redis_port: int) -> None:
    async with (
        connector_for(ports_hub, client_instance_id="server") as server,
        connector_for(ports_hub, client_instance_id="laptop") as laptop,
    ):
        tunnel = await server.expose(redis_port, protocol="tcp", name="cache")
        # not on 6379: the owner says what it is (else it would be reached as tcp://)
        await server.client.update(tunnel.id, metadata={"scheme": "redis"})
        connection = await laptop.connect("cache")
        assert connection.status.value == "open"
        assert connection.protocol == "redis"
        assert connection.local_port is not None
        assert connection.address == f"127.0.0.1:{connection.local_port}"
        assert connection.connection_string == f"redis://127.0.0.1:{connection.local_port}"
        assert connection.tunnel_id == tunnel.id and connection.agent_id == laptop.agent_id

        redis = await Resp.open("127.0.0.1", connection.local_port)
        assert await redis.call("SET", "greeting", "hello") == b"OK"
        assert await redis.call("GET", "greeting") == b"hello"
        assert await redis.call("INCR", "visits") == 1
        batch = await redis.pipeline([("INCR", "visits")] * 200 + [("GET", "visits")])
        assert batch[:200] == list(range(2, 202)) and batch[200] == b"201"
        big = bytes(range(256)) * (3 * 4096)  # 3 MiB, every byte value
        assert await redis.call("SET", "big", big) == b"OK"
        assert await redis.call("STRLEN", "big") == len(big)
        assert await redis.call("GET", "big") == big
        second = await Resp.open("127.0.0.1", connection.local_port)  # streams are independent
        assert await second.call("GET", "greeting") == b"hello"
        await second.close()

        listed = await laptop.client.list_connections()
        assert [c.id for c in listed] == [connection.id]
        closed = await laptop.client.close_connection(connection.id)
        assert closed.status.value == "closed" and closed.address is None
        # closing releases the port and ends the streams carried on it
        assert await refused(connection.local_port)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
            await redis.call("GET", "greeting")
        await redis.close()
        assert await laptop.client.list_connections() == []
        everything = await laptop.client.list_connections(include_inactive=True)
        assert [c.status.value for c in everything] == ["closed"]


async def test_http_tunnel_through_reach_and_the_port_is_bound_again_after_close(
    hub: RunningHub, services: Services
) -> None:
    port = free_port()
    async with (
        connector_for(hub, client_instance_id="server") as server,
        connector_for(hub, client_instance_id="laptop") as laptop,
    ):
        tunnel = await server.expose(services.http_port, name="web")
        first = await laptop.connect(tunnel.id, local_port=port)
        assert (first.protocol, first.connection_string) == ("http", f"http://127.0.0.1:{port}/")
        async with visitor() as http:
            answer = await http.get(f"http://127.0.0.1:{port}/")
            assert answer.text == "hello from the app\n"
            await laptop.client.close_connection(first.id)
            again = await laptop.connect(tunnel.slug, local_port=port)
            assert again.local_port == port and again.id != first.id
            assert (await http.get(f"http://127.0.0.1:{port}/")).status_code == 200
        # closing the tunnel closes its connections and releases their ports
        await server.unexpose(tunnel.id)
        closed = await closed_connection(laptop.client, again.id)
        assert closed.last_error == "the tunnel was closed"
        assert await refused(port)


async def test_reach_refusals(hub: RunningHub, services: Services) -> None:
    eve_token = hub.new_owner("eve")
    taken = socket.create_server(("127.0.0.1", 0))
    taken_port = taken.getsockname()[1]
    async with (
        connector_for(hub, client_instance_id="server") as server,
        connector_for(hub, client_instance_id="laptop") as laptop,
        AsyncTunnelsClient(hub.url, eve_token) as eve,
    ):
        tunnel = await server.expose(services.http_port, name="web")
        assert laptop.agent_id is not None
        with pytest.raises(NotFound) as unknown:
            await laptop.connect("nope")
        assert unknown.value.code == "TUNNEL_NOT_FOUND"
        # not the owner, no share: the tunnel does not exist for eve; nor does the agent
        with pytest.raises(NotFound) as foreign:
            await eve.connect(tunnel.id, laptop.agent_id)
        assert foreign.value.code == "TUNNEL_NOT_FOUND"
        with pytest.raises(NotFound) as not_hers:
            await laptop.client.connect(tunnel.id, "no-such-agent")
        assert not_hers.value.code == "AGENT_NOT_FOUND"
        with pytest.raises(Conflict) as in_use:
            await laptop.connect(tunnel.id, local_port=taken_port)
        assert in_use.value.code == "PORT_IN_USE" and str(taken_port) in in_use.value.message
        # ill-typed on purpose: the SDK sends what it is given and the hub must refuse it
        for bad in (0, 70000, "80", True):
            with pytest.raises(BadRequest) as invalid:
                await laptop.client.connect(tunnel.id, laptop.agent_id, local_port=bad)  # type: ignore[arg-type]
            assert invalid.value.code == "INVALID_PORT"
        failed = await laptop.client.list_connections(include_inactive=True)
        assert [c.status.value for c in failed] == ["failed"]
        assert failed[0].last_error is not None and "in use" in failed[0].last_error
        with pytest.raises(NotFound):
            await eve.get_connection(failed[0].id)
        with pytest.raises(NotFound):
            await eve.close_connection(failed[0].id)
        offline_agent = server.agent_id
    taken.close()
    async with AsyncTunnelsClient(hub.url, hub.token) as owner:
        live = await owner.create(services.http_port, name="kept")
        assert offline_agent is not None
        with pytest.raises(ServerError) as offline:
            await owner.connect(live.id, offline_agent)
        assert offline.value.status_code == 503 and offline.value.code == "AGENT_UNAVAILABLE"


async def test_a_share_that_allows_connect_lets_someone_else_reach(
    hub: RunningHub, services: Services
) -> None:
    async with server_and_eve(hub) as (server, eve):
        tunnel = await server.expose(services.http_port, name="web")
        connect_only = await server.client.create_share(
            tunnel.id, "for eve", allowed_methods=["CONNECT"]
        )
        get_only = await server.client.create_share(tunnel.id, "browse", allowed_methods=["GET"])
        with pytest.raises(APIError) as not_allowed:
            await eve.connect(tunnel.slug, share_token=get_only.token)
        assert not_allowed.value.status_code == 405
        with pytest.raises(APIError) as wrong_tunnel:
            await eve.connect("other", share_token=connect_only.token)
        assert wrong_tunnel.value.status_code == 403
        connection = await eve.connect(tunnel.slug, share_token=connect_only.token)
        assert connection.share_id == connect_only.id
        url = f"http://127.0.0.1:{connection.local_port}/"
        async with visitor() as http:
            assert (await http.get(url)).text == "hello from the app\n"
            await server.client.revoke_share(connect_only.id)
            # revoking the share closes the connection: its port and streams too
            with pytest.raises(httpx.TransportError):
                await http.get(url)
        closed = await closed_connection(eve.client, connection.id)
        assert closed.last_error == "the share was revoked"
        assert await refused(connection.local_port or 0)
        assert (await server.client.get_share(connect_only.id)).access_count >= 1


async def _echo_through(port: int, payload: bytes) -> bytes:
    """Send ``payload`` through 127.0.0.1:``port`` and read as much back (the echo service)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        return await asyncio.wait_for(reader.readexactly(len(payload)), WAIT)
    finally:
        writer.close()


async def test_a_reach_outlives_a_hub_restart_on_the_same_port(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub()
    async with (
        connector_for(hub, client_instance_id="server") as server,
        connector_for(hub, client_instance_id="laptop") as laptop,
    ):
        await server.expose(services.tcp_port, protocol="tcp", name="echo")
        connection = await laptop.connect("echo")
        assert connection.local_port is not None
        assert await _echo_through(connection.local_port, b"before") == b"before"

        hub.stop()  # back well within the lease TTL: both connectors keep their leases
        hub = make_hub(db_path=hub.db_path, port=hub.server.port)

        async def carries() -> bool:
            try:
                return await _echo_through(connection.local_port or 0, b"after") == b"after"
            except (OSError, asyncio.IncompleteReadError):
                return False  # the hub is rebinding the port's connection

        await until(carries)
        async with AsyncTunnelsClient(hub.url, hub.token) as client:
            (again,) = await client.list_connections()
        assert (again.id, again.local_port) == (connection.id, connection.local_port)
        assert again.status.value == "open"


async def test_a_reach_whose_agent_stays_away_is_closed_with_the_reason(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=2)
    async with connector_for(hub, client_instance_id="server") as server:
        await server.expose(services.tcp_port, protocol="tcp", name="echo")
        laptop = Connector(hub.url, hub.token, client_instance_id="laptop")
        await laptop.start()
        connection = await laptop.connect("echo")
        await laptop.close(release=False)  # the laptop's process died: its lease stays
        async with AsyncTunnelsClient(hub.url, hub.token) as client:
            closed = await closed_connection(client, connection.id)
    assert closed.last_error == "its agent was offline for more than 2 s"


async def test_a_stream_over_the_share_s_rate_is_refused_with_the_hub_s_reason(
    hub: RunningHub, services: Services
) -> None:
    async with server_and_eve(hub) as (server, eve):
        tunnel = await server.expose(services.tcp_port, protocol="tcp", name="echo")
        grant = await server.client.create_share(
            tunnel.id, "twice", allowed_methods=["CONNECT"], rate_limit_per_minute=2
        )
        connection = await eve.connect(tunnel.slug, share_token=grant.token)
        port = connection.local_port or 0
        answered = [await _echoes(port) for _ in range(4)]  # the connect counts too
        assert False in answered
        assert eve.reach.last_error is not None
        assert "the hub refused the stream: 429 RATE_LIMITED: " in eve.reach.last_error
        assert "b'" not in eve.reach.last_error  # words, not bytes


async def _echoes(port: int) -> bool:
    """Whether a stream through the port is carried (False: it was cut)."""
    try:
        return await _echo_through(port, b"ping") == b"ping"
    except (OSError, asyncio.IncompleteReadError):
        return False
