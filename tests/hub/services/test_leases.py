"""Agents and leases over real HTTP: create-or-attach, heartbeat, refresh, release, delete,
and expiry with a 1 s TTL (hub/services/_leases.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jupyter_tunnels._core.errors import ErrorCode
from tests._api import (
    assert_error,
    client,
    create_lease,
    create_tunnel,
    heartbeat,
    ok,
    wait_for,
    when,
)
from tests._hubs import RunningHub

DEFAULT_TTL = 60.0
DEFAULT_HEARTBEAT = 20.0


def tunnel(api: httpx.Client, tunnel_id: str) -> dict[str, Any]:
    """GET one tunnel."""
    result: dict[str, Any] = ok(api.get(f"/v1/tunnels/{tunnel_id}"))
    return result


# --- create-or-attach ----------------------------------------------------------------------


def test_create_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        response = api.post(
            "/v1/leases", json={"clientInstanceId": "laptop-1", "metadata": {"host": "lab"}}
        )
        grant = ok(response, 201)
    assert grant["created"] is True
    assert grant["clientInstanceId"] == "laptop-1"
    assert grant["status"] == "active"
    assert grant["agentToken"].startswith("jta_")
    assert grant["ttlSeconds"] == DEFAULT_TTL
    assert grant["nextHeartbeatSeconds"] == DEFAULT_HEARTBEAT
    assert grant["lastHeartbeatAt"] is None
    assert grant["releasedAt"] is None
    assert grant["tunnelIds"] == []
    assert grant["metadata"] == {"host": "lab"}
    assert grant["readiness"] == {"connectedToHub": False, "localReady": False, "lastError": None}
    lifetime = (when(grant["expiresAt"]) - when(grant["createdAt"])).total_seconds()
    assert lifetime == pytest.approx(DEFAULT_TTL, abs=0.001)


def test_create_lease_with_its_own_ttl(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "job", ttlSeconds=9)
    assert grant["ttlSeconds"] == 9
    assert grant["nextHeartbeatSeconds"] == 3


def test_second_create_attaches_and_rotates_the_agent_token(hub: RunningHub) -> None:
    with client(hub) as api:
        first = ok(api.post("/v1/leases", json={"clientInstanceId": "laptop"}), 201)
        second = ok(api.post("/v1/leases", json={"clientInstanceId": "laptop"}), 200)
        assert second["created"] is False
        assert second["id"] == first["id"]
        assert second["agentId"] == first["agentId"]
        assert second["agentToken"] != first["agentToken"]
        with client(hub, first["agentToken"]) as old_agent:
            assert_error(heartbeat(old_agent, first["id"]), ErrorCode.INVALID_TOKEN)
        with client(hub, second["agentToken"]) as agent:
            assert ok(heartbeat(agent, first["id"]))["action"] == "none"
        assert len(ok(api.get("/v1/leases"))) == 1
        assert len(ok(api.get("/v1/agents"))) == 1


def test_idempotency_key_designates_one_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        body = {"clientInstanceId": "worker-1", "idempotencyKey": "req-42"}
        first = ok(api.post("/v1/leases", json=body), 201)
        retried = ok(api.post("/v1/leases", json=body), 200)
        assert retried["id"] == first["id"]
        assert retried["created"] is False
        before = ok(api.get("/v1/leases", params={"includeExpired": "true"}))
        conflict = api.post(
            "/v1/leases", json={"clientInstanceId": "worker-2", "idempotencyKey": "req-42"}
        )
        body_of_error = assert_error(conflict, ErrorCode.IDEMPOTENCY_CONFLICT)
        assert body_of_error["details"] == {"idempotencyKey": "req-42"}
        assert ok(api.get("/v1/leases", params={"includeExpired": "true"})) == before
        assert [a["clientInstanceId"] for a in ok(api.get("/v1/agents"))] == ["worker-1"]


def test_idempotency_key_of_a_released_lease_is_refused(hub: RunningHub) -> None:
    with client(hub) as api:
        body = {"clientInstanceId": "worker", "idempotencyKey": "once"}
        lease = ok(api.post("/v1/leases", json=body), 201)
        ok(api.post(f"/v1/leases/{lease['id']}/release"))
        refused = assert_error(api.post("/v1/leases", json=body), ErrorCode.LEASE_INACTIVE)
        assert "released" in refused["message"]
        fresh = ok(api.post("/v1/leases", json={**body, "idempotencyKey": "twice"}), 201)
        assert fresh["id"] != lease["id"]


# --- list and get --------------------------------------------------------------------------


def test_list_by_client_instance_with_and_without_expired(hub: RunningHub) -> None:
    with client(hub) as api:
        old = create_lease(api, "laptop")
        ok(api.post(f"/v1/leases/{old['id']}/release"))
        new = create_lease(api, "laptop")
        assert new["created"] is True
        other = create_lease(api, "server")

        def ids(**params: str) -> list[str]:
            return [lease["id"] for lease in ok(api.get("/v1/leases", params=params))]

        assert ids() == [new["id"], other["id"]]
        assert ids(clientInstanceId="laptop") == [new["id"]]
        assert ids(clientInstanceId="laptop", includeExpired="true") == [old["id"], new["id"]]
        assert ids(clientInstanceId="laptop", includeExpired="1") == [old["id"], new["id"]]
        assert ids(clientInstanceId="laptop", includeExpired="0") == [new["id"]]
        assert ids(includeExpired="true") == [old["id"], new["id"], other["id"]]
        assert ids(clientInstanceId="nobody") == []


def test_get_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        t = create_tunnel(api, leaseId=grant["id"])
        lease = ok(api.get(f"/v1/leases/{grant['id']}"))
    assert "agentToken" not in lease
    assert lease["id"] == grant["id"]
    assert lease["tunnelIds"] == [t["id"]]
    assert lease["status"] == "active"


# --- heartbeat -----------------------------------------------------------------------------


def test_heartbeat_with_user_token_stores_readiness(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        t = create_tunnel(api, leaseId=grant["id"])
        beat = ok(
            heartbeat(api, grant["id"], connectedToHub=True, localReady=False, lastError="refused")
        )
        assert set(beat) == {"leaseId", "status", "expiresAt", "nextHeartbeatSeconds", "action"}
        assert beat["leaseId"] == grant["id"]
        assert beat["status"] == "active"
        assert beat["action"] == "reconnect"  # "connected", but no control channel is open
        assert beat["nextHeartbeatSeconds"] == DEFAULT_HEARTBEAT
        assert when(beat["expiresAt"]) > when(grant["expiresAt"])
        lease = ok(api.get(f"/v1/leases/{grant['id']}"))
        assert lease["readiness"] == {
            "connectedToHub": True,
            "localReady": False,
            "lastError": "refused",
        }
        assert lease["lastHeartbeatAt"] is not None
        assert lease["expiresAt"] == beat["expiresAt"]
        shown = tunnel(api, t["id"])
        assert shown["readiness"] == lease["readiness"]
        assert shown["lease"] == {
            "lastHeartbeatAt": lease["lastHeartbeatAt"],
            "expiresAt": lease["expiresAt"],
        }


def test_heartbeat_with_the_agent_token(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        other = create_lease(api, "server")
    with client(hub, grant["agentToken"]) as agent:
        beat = ok(heartbeat(agent, grant["id"], localReady=True))
        assert beat["action"] == "none"
        assert_error(heartbeat(agent, other["id"]), ErrorCode.INVALID_TOKEN)
        assert_error(agent.get(f"/v1/leases/{grant['id']}"), ErrorCode.INVALID_TOKEN)
        assert_error(agent.get("/v1/tunnels"), ErrorCode.INVALID_TOKEN)
    with client(hub) as api:
        assert ok(api.get(f"/v1/leases/{grant['id']}"))["readiness"]["localReady"] is True


def test_heartbeat_moves_tunnels_with_the_connection(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        first = create_tunnel(api, leaseId=grant["id"], name="first")
        second = create_tunnel(api, leaseId=grant["id"], name="second")
        paused = create_tunnel(api, leaseId=grant["id"], name="paused")
        ok(api.patch(f"/v1/tunnels/{paused['id']}", json={"status": "paused"}))
        ok(heartbeat(api, grant["id"], connectedToHub=True, localReady=True))
        statuses = [tunnel(api, t["id"])["status"] for t in (first, second, paused)]
        assert statuses == ["active", "active", "paused"]
        ok(heartbeat(api, grant["id"], connectedToHub=False))
        statuses = [tunnel(api, t["id"])["status"] for t in (first, second, paused)]
        assert statuses == ["connecting", "connecting", "paused"]
        ok(heartbeat(api, grant["id"], connectedToHub=True))
        assert tunnel(api, first["id"])["status"] == "active"


def test_heartbeat_truncates_an_overlong_error(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        ok(heartbeat(api, grant["id"], lastError="x" * 5000))
        stored = ok(api.get(f"/v1/leases/{grant['id']}"))["readiness"]["lastError"]
    assert stored.startswith("xxx")
    assert len(stored) <= 1000


# --- refresh, release, delete --------------------------------------------------------------


def test_refresh_extends_the_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop", ttlSeconds=30)
        refreshed = ok(api.post(f"/v1/leases/{grant['id']}/refresh", json={}))
        assert when(refreshed["expiresAt"]) > when(grant["expiresAt"])
        assert refreshed["ttlSeconds"] == 30
        longer = ok(api.post(f"/v1/leases/{grant['id']}/refresh", json={"ttlSeconds": 120}))
        assert longer["ttlSeconds"] == 120
        assert longer["nextHeartbeatSeconds"] == 40
        assert (when(longer["expiresAt"]) - when(refreshed["expiresAt"])).total_seconds() > 80
        no_body = ok(api.post(f"/v1/leases/{grant['id']}/refresh"))
        assert no_body["ttlSeconds"] == 120


def test_release_keeps_history_and_stops_tunnels(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        t = create_tunnel(api, leaseId=grant["id"])
        untouched = create_tunnel(api, name="not on the lease")
        released = ok(api.post(f"/v1/leases/{grant['id']}/release"))
        assert released["status"] == "released"
        assert released["releasedAt"] is not None
        assert released["tunnelIds"] == []
        assert ok(api.get(f"/v1/leases/{grant['id']}"))["status"] == "released"
        stopped = tunnel(api, t["id"])
        assert stopped["status"] == "stopped"
        assert stopped["stoppedAt"] is not None
        assert stopped["lease"] is None
        assert tunnel(api, untouched["id"])["status"] == "creating"
        assert ok(api.get("/v1/leases")) == []
        beat = ok(heartbeat(api, grant["id"], connectedToHub=True))
        assert beat["action"] == "stop"
        assert beat["status"] == "released"
        with client(hub, grant["agentToken"]) as agent:
            assert ok(heartbeat(agent, grant["id"]))["action"] == "stop"
        again = ok(api.post(f"/v1/leases/{grant['id']}/release"))
        assert again["releasedAt"] == released["releasedAt"]
        assert_error(
            api.post("/v1/tunnels", json={"target": "8050", "leaseId": grant["id"]}),
            ErrorCode.LEASE_INACTIVE,
        )
        assert_error(api.post(f"/v1/leases/{grant['id']}/refresh"), ErrorCode.LEASE_INACTIVE)


def test_delete_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        t = create_tunnel(api, leaseId=grant["id"])
        deleted = ok(api.delete(f"/v1/leases/{grant['id']}"))
        assert deleted["id"] == grant["id"]
        assert_error(api.get(f"/v1/leases/{grant['id']}"), ErrorCode.LEASE_NOT_FOUND)
        assert_error(api.delete(f"/v1/leases/{grant['id']}"), ErrorCode.LEASE_NOT_FOUND)
        assert ok(api.get("/v1/leases", params={"includeExpired": "true"})) == []
        assert tunnel(api, t["id"])["status"] == "stopped"
        listed = ok(api.get("/v1/tunnels", params={"includeInactive": "true"}))
        assert [x["id"] for x in listed] == [t["id"]]


# --- agents --------------------------------------------------------------------------------


def test_agents_are_online_while_their_lease_is_active(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_lease(api, "laptop")
        create_lease(api, "server")
        agents = ok(api.get("/v1/agents"))
        assert [a["clientInstanceId"] for a in agents] == ["laptop", "server"]
        laptop = agents[0]
        assert laptop["online"] is True
        assert laptop["activeLeaseId"] == grant["id"]
        assert laptop["id"] == grant["agentId"]
        ok(api.post(f"/v1/leases/{grant['id']}/release"))
        laptop = ok(api.get("/v1/agents"))[0]
        assert laptop["online"] is False
        assert laptop["activeLeaseId"] is None
        assert laptop["lastSeenAt"] is not None


# --- expiry --------------------------------------------------------------------------------


def test_lease_expiry_stops_tunnels_and_keeps_their_urls(
    make_hub: Callable[..., RunningHub],
) -> None:
    hub = make_hub(lease_ttl=1)
    bob_token = hub.new_owner("bob")
    with client(hub) as api, client(hub, bob_token) as bob:
        assert create_lease(api, "default-ttl")["ttlSeconds"] == 1
        # A long TTL while the tunnels are set up, so a slow machine cannot expire it early.
        grant = create_lease(api, "laptop", ttlSeconds=60)
        redis = create_tunnel(api, target="6379", leaseId=grant["id"])
        web = create_tunnel(api, target="8050", name="My dashboard", leaseId=grant["id"])
        relay = ok(
            api.post("/v1/relay-leases", json={"clientInstanceId": "job", "target": "8000"}), 201
        )
        ok(api.post(f"/v1/leases/{relay['leaseId']}/refresh", json={"ttlSeconds": 1}))
        ok(heartbeat(api, grant["id"], connectedToHub=True))
        ok(api.post(f"/v1/leases/{grant['id']}/refresh", json={"ttlSeconds": 1}))

        def expired() -> dict[str, Any] | None:
            lease: dict[str, Any] = ok(api.get(f"/v1/leases/{grant['id']}"))
            return lease if lease["status"] == "expired" else None

        lease = wait_for(expired)
        assert lease["tunnelIds"] == []
        for t in (redis, web):
            stopped = tunnel(api, t["id"])
            assert stopped["status"] == "stopped"
            assert stopped["stoppedAt"] is not None
            assert "expired" in stopped["lastError"]
            assert "heartbeat" in stopped["lastError"]
        beat = assert_error(heartbeat(api, grant["id"]), ErrorCode.LEASE_EXPIRED)
        assert "expired" in beat["message"]
        with client(hub, grant["agentToken"]) as agent:
            assert_error(heartbeat(agent, grant["id"]), ErrorCode.LEASE_EXPIRED)
        assert_error(
            api.post("/v1/tunnels", json={"target": "8050", "leaseId": grant["id"]}),
            ErrorCode.LEASE_EXPIRED,
        )
        assert_error(api.post(f"/v1/leases/{grant['id']}/refresh"), ErrorCode.LEASE_EXPIRED)
        assert ok(api.get("/v1/leases", params={"clientInstanceId": "laptop"})) == []
        agents = {a["clientInstanceId"]: a for a in ok(api.get("/v1/agents"))}
        assert agents["laptop"]["online"] is False

        relay_now = wait_for(
            lambda: (
                (r := ok(api.get(f"/v1/relay-leases/{relay['id']}")))["status"] == "expired" and r
            )
        )
        assert relay_now["connected"] is False
        assert tunnel(api, relay["tunnelId"])["status"] == "stopped"

        # Nobody else may take the reserved slugs or hub port in the grace period.
        assert_error(
            bob.post("/v1/tunnels", json={"target": "6379", "slug": redis["slug"]}),
            ErrorCode.SLUG_TAKEN,
        )
        assert_error(
            bob.post("/v1/tunnels", json={"target": "8050", "slug": web["slug"]}),
            ErrorCode.SLUG_TAKEN,
        )
        bobs = create_tunnel(bob, target="6379")
        assert bobs["slug"] != redis["slug"]
        assert bobs["hubPort"] != redis["hubPort"]

        # The same connector comes back with a new lease: same slugs, URLs and hub port.
        back = create_lease(api, "laptop", ttlSeconds=60)
        assert back["created"] is True
        assert back["id"] != grant["id"]
        redis_again = create_tunnel(api, target="6379", leaseId=back["id"])
        web_again = create_tunnel(api, target="8050", name="My dashboard", leaseId=back["id"])
        for old, new in ((redis, redis_again), (web, web_again)):
            assert new["id"] != old["id"]
            assert new["status"] == "connecting"
            for field in ("slug", "url", "hostname", "hubPort", "protocol"):
                assert new[field] == old[field], field


def test_the_same_target_under_another_name_gets_that_name_s_slug(hub: RunningHub) -> None:
    with client(hub) as api:
        first = create_lease(api, "laptop")
        unnamed = create_tunnel(api, target="9123", leaseId=first["id"])
        assert unnamed["slug"] == "port-9123"
        ok(api.delete(f"/v1/tunnels/{unnamed['id']}"))  # its slug stays reserved for us
        # the same command again: the reserved slug comes back
        again = create_tunnel(api, target="9123", leaseId=first["id"])
        assert again["slug"] == "port-9123"
        ok(api.delete(f"/v1/tunnels/{again['id']}"))
        # the same port under a name of its own: that name's slug, not the reservation's
        named = create_tunnel(api, target="9123", name="web", leaseId=first["id"])
        assert (named["slug"], named["url"].rstrip("/").rsplit("/", 1)[1]) == ("web", "web")
