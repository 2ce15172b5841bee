"""A lease taken over by another connector (the same ``clientInstanceId`` asking again): its
tunnels leave ``active`` until the new connector attaches (hub/services/_leases.py)."""

from __future__ import annotations

import pytest

from jupyter_tunnels import AsyncTunnelsClient
from jupyter_tunnels.connector import Connector
from tests._api import client, create_lease, create_tunnel, heartbeat, ok
from tests._apps import Services
from tests._hubs import RunningHub
from tests._tunnels import until


def test_taking_a_lease_over_sets_its_tunnels_connecting(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        tunnel = create_tunnel(api, leaseId=grant["id"], name="served")
        ok(heartbeat(api, grant["id"], connectedToHub=True, localReady=True))
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == "active"
        again = create_lease(api, "laptop")  # another process of the same agent
        assert again["id"] == grant["id"] and again["created"] is False
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == "connecting"
        lease = ok(api.get(f"/v1/leases/{grant['id']}"))
        assert lease["readiness"]["connectedToHub"] is False
        ok(heartbeat(api, grant["id"], connectedToHub=True, localReady=True))
        assert ok(api.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == "active"


@pytest.mark.anyio
async def test_a_connector_whose_lease_was_taken_over_no_longer_looks_served(
    hub: RunningHub, services: Services
) -> None:
    old = Connector(hub.url, hub.token, client_instance_id="laptop")
    await old.start()
    try:
        tunnel = await old.expose(services.http_port, public=True, name="taken")
        assert tunnel.status.value == "active"
        async with AsyncTunnelsClient(hub.url, hub.token) as api:
            await api.create_lease("laptop")  # its token is dead from now on
            assert (await api.get(tunnel.id)).status.value == "connecting"
            new = Connector(hub.url, hub.token, client_instance_id="laptop")
            await new.start()  # the new connector attaches: the lease's tunnels are served
            try:
                await until(lambda: old.ended.is_set())
                assert (await api.get(tunnel.id)).status.value == "active"
            finally:
                await new.close()
            assert (await api.get(tunnel.id)).status.value == "stopped"
    finally:
        await old.close()
