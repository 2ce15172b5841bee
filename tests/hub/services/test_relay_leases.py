"""Relay leases over real HTTP: worker-token-protected tunnels for machine clients
(hub/services/_relay_leases.py), checked at the ingress ``/t/{slug}/``."""

from __future__ import annotations

from typing import Any

import httpx

from jupyter_tunnels._core.errors import ErrorCode
from tests._api import assert_error, auth, client, heartbeat, ok, visitor
from tests._hubs import RunningHub

GRANT_SECRETS = {"agentToken", "workerToken", "agentConnect"}


def create_relay(api: httpx.Client, **body: Any) -> dict[str, Any]:
    """Create a relay lease for a model server on port 8000 and return the grant."""
    body = {"clientInstanceId": "hosted-job", "target": "8000", **body}
    grant: dict[str, Any] = ok(api.post("/v1/relay-leases", json=body), 201)
    return grant


def test_create_returns_url_and_tokens_once(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_relay(api, name="Model API", metadata={"model": "gpt-tiny"})
        tunnel = ok(api.get(f"/v1/tunnels/{grant['tunnelId']}"))
        lease = ok(api.get(f"/v1/leases/{grant['leaseId']}"))
        shown = ok(api.get(f"/v1/relay-leases/{grant['id']}"))
    assert grant["status"] == "active"
    assert grant["connected"] is False
    assert grant["closedAt"] is None
    assert grant["agentToken"].startswith("jta_")
    assert grant["workerToken"].startswith("jtw_")
    assert grant["agentConnect"] == {
        "transport": "ws",
        "url": "ws" + hub.url.removeprefix("http") + "/v1/agent/connect",
    }
    assert grant["publicUrl"] == tunnel["url"] == f"{hub.url}/t/model-api/"
    assert tunnel["access"] == "token"
    assert tunnel["protocol"] == "http"
    assert tunnel["name"] == "Model API"
    assert tunnel["target"] == {"host": "127.0.0.1", "port": 8000}
    assert tunnel["leaseId"] == grant["leaseId"]
    assert tunnel["metadata"] == {"model": "gpt-tiny"}
    assert lease["clientInstanceId"] == "hosted-job"
    assert lease["tunnelIds"] == [grant["tunnelId"]]
    assert GRANT_SECRETS.isdisjoint(shown)
    assert shown == {k: v for k, v in grant.items() if k not in GRANT_SECRETS}


def test_relay_agent_token_heartbeats_its_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_relay(api)
    with client(hub, grant["agentToken"]) as agent:
        ok(heartbeat(agent, grant["leaseId"], connectedToHub=True, localReady=True))
    with client(hub) as api:
        assert ok(api.get(f"/v1/relay-leases/{grant['id']}"))["connected"] is True
        assert ok(api.get(f"/v1/tunnels/{grant['tunnelId']}"))["status"] == "active"


def test_ingress_demands_the_worker_token(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_relay(api)
    url = grant["publicUrl"]
    with visitor() as web:
        passed = assert_error(
            web.get(url, headers=auth(grant["workerToken"])), ErrorCode.AGENT_UNAVAILABLE
        )
        assert "connector" in passed["message"]
        missing = web.get(url + "predict?x=1")
        assert_error(missing, ErrorCode.MISSING_AUTH)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = web.post(url, headers=auth("jtw_wrong"), json={})
        assert_error(wrong, ErrorCode.INVALID_TOKEN)
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        # Neither the owner's API token nor the agent token opens a token tunnel.
        assert_error(web.get(url, headers=auth(hub.token)), ErrorCode.INVALID_TOKEN)
        assert_error(web.get(url, headers=auth(grant["agentToken"])), ErrorCode.INVALID_TOKEN)


def test_rotating_the_worker_token_revokes_the_old_one_at_once(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        grant = create_relay(api)
        url = grant["publicUrl"]
        old = grant["workerToken"]
        assert_error(web.get(url, headers=auth(old)), ErrorCode.AGENT_UNAVAILABLE)
        rotated = ok(api.post(f"/v1/relay-leases/{grant['id']}/worker-token"))
        assert set(rotated) == {"relayLeaseId", "workerToken"}
        assert rotated["relayLeaseId"] == grant["id"]
        new = rotated["workerToken"]
        assert new.startswith("jtw_")
        assert new != old
        assert_error(web.get(url, headers=auth(old)), ErrorCode.INVALID_TOKEN)
        assert_error(web.get(url, headers=auth(new)), ErrorCode.AGENT_UNAVAILABLE)
        newer = ok(api.post(f"/v1/relay-leases/{grant['id']}/worker-token"))["workerToken"]
        assert_error(web.get(url, headers=auth(new)), ErrorCode.INVALID_TOKEN)
        assert_error(web.get(url, headers=auth(newer)), ErrorCode.AGENT_UNAVAILABLE)
        # The agent keeps its lease and token: rotation does not touch it.
        with client(hub, grant["agentToken"]) as agent:
            assert ok(heartbeat(agent, grant["leaseId"]))["action"] == "none"


def test_close_stops_the_tunnel_and_releases_the_lease(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        grant = create_relay(api)
        closed = ok(api.delete(f"/v1/relay-leases/{grant['id']}"))
        assert closed["status"] == "closed"
        assert closed["closedAt"] is not None
        assert closed["connected"] is False
        assert ok(api.get(f"/v1/relay-leases/{grant['id']}")) == closed
        tunnel = ok(api.get(f"/v1/tunnels/{grant['tunnelId']}"))
        assert tunnel["status"] == "stopped"
        assert tunnel["stoppedAt"] is not None
        assert ok(api.get(f"/v1/leases/{grant['leaseId']}"))["status"] == "released"
        gone = web.get(grant["publicUrl"], headers=auth(grant["workerToken"]))
        assert_error(gone, ErrorCode.TUNNEL_NOT_FOUND)
        with client(hub, grant["agentToken"]) as agent:
            assert ok(heartbeat(agent, grant["leaseId"]))["action"] == "stop"
        assert_error(
            api.post(f"/v1/relay-leases/{grant['id']}/worker-token"), ErrorCode.LEASE_INACTIVE
        )
        again = ok(api.delete(f"/v1/relay-leases/{grant['id']}"))
        assert again == closed


def test_releasing_the_lease_closes_the_relay_lease(hub: RunningHub) -> None:
    with client(hub) as api:
        grant = create_relay(api)
        ok(api.post(f"/v1/leases/{grant['leaseId']}/release"))
        relay = ok(api.get(f"/v1/relay-leases/{grant['id']}"))
    assert relay["status"] == "closed"
    assert relay["closedAt"] is not None


def test_two_relay_leases_get_their_own_urls_and_tokens(hub: RunningHub) -> None:
    with client(hub) as api, visitor() as web:
        first = create_relay(api, clientInstanceId="job-1")
        second = create_relay(api, clientInstanceId="job-2")
        assert first["publicUrl"] != second["publicUrl"]
        assert first["leaseId"] != second["leaseId"]
        wrong = web.get(second["publicUrl"], headers=auth(first["workerToken"]))
        assert_error(wrong, ErrorCode.INVALID_TOKEN)
        right = web.get(second["publicUrl"], headers=auth(second["workerToken"]))
        assert_error(right, ErrorCode.AGENT_UNAVAILABLE)
