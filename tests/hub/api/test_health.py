"""``GET /v1/health`` over real HTTP: status, version, uptime, store and the caller's counts."""

from __future__ import annotations

from jupyter_tunnels._version import __version__
from tests._api import client, create_lease, create_tunnel, heartbeat, ok, wait_for
from tests._hubs import RunningHub

ZERO = {
    "tunnels": 0,
    "liveTunnels": 0,
    "activeTunnels": 0,
    "agents": 0,
    "onlineAgents": 0,
    "activeLeases": 0,
}


def test_health_reports_the_hub(hub: RunningHub) -> None:
    with client(hub) as api:
        health = ok(api.get("/v1/health"))
        assert set(health) == {"status", "version", "uptimeSeconds", "store", "counts"}
        assert health["status"] == "ok"
        assert health["version"] == __version__
        assert health["store"] == {"status": "ok", "backend": "sqlite", "error": None}
        assert health["counts"] == ZERO
        assert health["uptimeSeconds"] >= 0
        later = wait_for(
            lambda: (
                (h := ok(api.get("/v1/health")))["uptimeSeconds"] > health["uptimeSeconds"] and h
            )
        )
        assert later["version"] == __version__


def test_health_counts_are_the_callers_own(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with client(hub) as api, client(hub, bob) as bobs_api:
        lease = create_lease(api, "laptop")
        create_lease(api, "server")
        ok(heartbeat(api, lease["id"], connectedToHub=True))
        create_tunnel(api, leaseId=lease["id"])
        create_tunnel(api, leaseId=lease["id"], target="5432")
        create_tunnel(api, name="creating")
        stopped = create_tunnel(api, name="stopped")
        ok(api.delete(f"/v1/tunnels/{stopped['id']}"))
        create_tunnel(bobs_api, name="bobs")
        assert ok(api.get("/v1/health"))["counts"] == {
            "tunnels": 4,
            "liveTunnels": 3,
            "activeTunnels": 2,
            "agents": 2,
            "onlineAgents": 2,
            "activeLeases": 2,
        }
        assert ok(bobs_api.get("/v1/health"))["counts"] == {**ZERO, "tunnels": 1, "liveTunnels": 1}
        ok(api.post(f"/v1/leases/{lease['id']}/release"))
        counts = ok(api.get("/v1/health"))["counts"]
        assert (counts["liveTunnels"], counts["activeTunnels"]) == (1, 0)
        assert (counts["onlineAgents"], counts["activeLeases"]) == (1, 1)
