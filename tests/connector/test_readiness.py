"""Each tunnel's readiness is its own target's: a real connector probes every tunnel's port and
reports it per tunnel in its heartbeats (connector/_readiness.py), to a real hub, over real
sockets."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest

from jupyter_tunnels import BadRequest, TunnelReadiness
from jupyter_tunnels.connector import Connector
from jupyter_tunnels.connector._readiness import LocalReadiness
from tests._apps import Services
from tests._hubs import RunningHub
from tests._sockets import closed_port
from tests._tunnels import connector_for, until

pytestmark = pytest.mark.anyio

BEATING_TTL = 6.0
"""A lease TTL whose heartbeats (every 2 s) come often enough to wait for the next one."""
READY = (True, None)


def not_listening(port: int) -> tuple[bool, str]:
    return False, f"port {port} is not listening on 127.0.0.1: start your app first"


async def shown(connector: Connector, tunnel_id: str) -> tuple[bool, str | None]:
    """The tunnel's ``localReady`` and ``lastError`` as the hub's API shows them."""
    readiness = (await connector.client.get(tunnel_id)).readiness
    return readiness.local_ready, readiness.last_error


async def lease_readiness(connector: Connector) -> tuple[bool, str | None]:
    """The lease's ``localReady`` and ``lastError``: what a hub before per-tunnel readiness
    showed for every tunnel."""
    assert connector.lease_id is not None
    readiness = (await connector.client.get_lease(connector.lease_id)).readiness
    return readiness.local_ready, readiness.last_error


async def test_only_the_tunnel_whose_port_is_silent_is_not_answering(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    hub = make_hub(lease_ttl=BEATING_TTL)
    port = closed_port()
    async with connector_for(hub) as connector:
        answering = await connector.expose(services.http_port, name="answering")
        silent = await connector.expose(port, name="silent")

        async def both() -> tuple[tuple[bool, str | None], ...]:
            return await shown(connector, answering.id), await shown(connector, silent.id)

        await until(lambda: _is(both(), (READY, not_listening(port))))
        assert await lease_readiness(connector) == not_listening(port)  # the whole lease's

        async def answering_stays_ready_until_silent_is(wanted: tuple[bool, str | None]) -> bool:
            first, second = await both()
            assert first == READY  # it never flips, whatever the other port does
            return second == wanted

        with socket.create_server(("127.0.0.1", port)):  # the app starts: the kernel accepts
            await until(lambda: answering_stays_ready_until_silent_is(READY))
            assert await lease_readiness(connector) == READY
        await until(lambda: answering_stays_ready_until_silent_is(not_listening(port)))


async def test_a_connector_reporting_only_the_lease_s_readiness_still_works(
    make_hub: Callable[..., RunningHub], services: Services
) -> None:
    """As a connector from before per-tunnel readiness does: every tunnel of the lease shows
    the lease's readiness, as it always did."""
    hub = make_hub(lease_ttl=BEATING_TTL)
    port = closed_port()
    async with connector_for(hub) as connector:
        connector.readiness.per_tunnel = False
        answering = await connector.expose(services.http_port, name="answering")
        silent = await connector.expose(port, name="silent")
        await until(lambda: _is(shown(connector, silent.id), not_listening(port)))
        assert await shown(connector, answering.id) == not_listening(port)
        with socket.create_server(("127.0.0.1", port)):
            await until(lambda: _is(shown(connector, answering.id), READY))
            assert await shown(connector, silent.id) == READY


async def test_a_hub_refusing_the_per_tunnel_field_is_sent_the_lease_s_only(
    hub: RunningHub,
) -> None:
    """An older hub refuses ``tunnels`` as an unknown field; the real hub refuses it too when
    it is too long, with the same ``field``: the connector then stops sending it."""
    async with connector_for(hub) as connector:
        assert connector.lease_id is not None
        too_many = {str(n): TunnelReadiness(local_ready=True) for n in range(1001)}
        with pytest.raises(BadRequest) as refused:
            await connector.client.heartbeat(connector.lease_id, tunnels=too_many)
        readiness = LocalReadiness(connector.allowed_hosts)
        assert readiness.refused_by_older_hub(refused.value)
        assert readiness.report("the hub is away") is None
        assert not readiness.refused_by_older_hub(refused.value)  # once is enough

        with pytest.raises(BadRequest) as other:  # a refusal for another field is raised
            await connector.client.heartbeat(
                connector.lease_id, tunnels={"x" * 65: TunnelReadiness()}
            )
        assert not LocalReadiness(connector.allowed_hosts).refused_by_older_hub(other.value)


async def _is(value: Awaitable[object], wanted: object) -> bool:
    return await value == wanted
