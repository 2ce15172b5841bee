"""Nothing is lost on restart: a new hub on the same SQLite file serves the same records and
accepts the same tokens (hub/store/_engine.py, hub/_server.py)."""

from __future__ import annotations

import stat
from collections.abc import Callable

import pytest

from jupyter_tunnels._core.env import TOKEN_ENV
from jupyter_tunnels._core.errors import ErrorCode
from jupyter_tunnels.hub._server import ADMIN_TOKEN_FILE
from tests._api import (
    assert_error,
    auth,
    client,
    create_lease,
    create_tunnel,
    heartbeat,
    ok,
    visitor,
)
from tests._hubs import RunningHub

KEPT = ("id", "name", "slug", "protocol", "target", "hubPort", "access", "metadata", "createdAt")
"""Tunnel fields that a restart must not change (the URL does: the new hub has a new port)."""


def test_everything_survives_a_restart(make_hub: Callable[..., RunningHub]) -> None:
    first = make_hub()
    bob = first.new_owner("bob")
    with client(first) as api, client(first, bob) as bobs_api:
        lease = create_lease(api, "laptop", idempotencyKey="boot-1")
        web = create_tunnel(api, name="Dashboard", leaseId=lease["id"], metadata={"n": [1, 2]})
        db = create_tunnel(api, target="5432", leaseId=lease["id"])
        ok(heartbeat(api, lease["id"], connectedToHub=True, localReady=True, lastError="slow"))
        paused = create_tunnel(api, name="paused", access="public", leaseId=lease["id"])
        ok(api.patch(f"/v1/tunnels/{paused['id']}", json={"status": "paused"}))
        stopped = create_tunnel(api, name="stopped")
        ok(api.delete(f"/v1/tunnels/{stopped['id']}"))
        relay = ok(
            api.post("/v1/relay-leases", json={"clientInstanceId": "job", "target": "8000"}), 201
        )
        rotated = ok(api.post(f"/v1/relay-leases/{relay['id']}/worker-token"))["workerToken"]
        bobs = create_tunnel(bobs_api, name="bobs")
        tunnels_before = ok(api.get("/v1/tunnels", params={"includeInactive": "true"}))
        leases_before = ok(api.get("/v1/leases", params={"includeExpired": "true"}))
        agents_before = ok(api.get("/v1/agents"))
        relay_before = ok(api.get(f"/v1/relay-leases/{relay['id']}"))
    first.stop()

    second = make_hub(db_path=first.db_path)
    assert second.token == first.token
    assert second.url != first.url
    with client(second) as api, client(second, bob) as bobs_api, visitor() as web_client:
        tunnels_after = ok(api.get("/v1/tunnels", params={"includeInactive": "true"}))
        assert len(tunnels_after) == len(tunnels_before)
        for before, after in zip(tunnels_before, tunnels_after, strict=True):
            for field in KEPT:
                assert after[field] == before[field], field
            assert after["url"] == before["url"].replace(first.url, second.url)
        statuses = {t["id"]: t["status"] for t in tunnels_after}
        # No connector is attached to a hub that just started: active tunnels wait for one.
        assert statuses == {
            web["id"]: "connecting",
            db["id"]: "connecting",
            paused["id"]: "paused",
            stopped["id"]: "stopped",
            relay["tunnelId"]: "connecting",
        }
        leases_after = ok(api.get("/v1/leases", params={"includeExpired": "true"}))
        assert [x["id"] for x in leases_after] == [x["id"] for x in leases_before]
        lease_after = next(x for x in leases_after if x["id"] == lease["id"])
        assert lease_after["readiness"] == {
            "connectedToHub": False,
            "localReady": True,
            "lastError": "slow",
        }
        assert lease_after["expiresAt"] == leases_before[0]["expiresAt"]
        assert ok(api.get("/v1/agents")) == agents_before
        relay_after = ok(api.get(f"/v1/relay-leases/{relay['id']}"))
        assert relay_after["publicUrl"] == relay_before["publicUrl"].replace(first.url, second.url)
        assert {k: v for k, v in relay_after.items() if k != "publicUrl"} == {
            k: v for k, v in relay_before.items() if k != "publicUrl"
        }

        # Tokens of every kind still work, and only the latest worker token.
        assert [t["id"] for t in ok(bobs_api.get("/v1/tunnels"))] == [bobs["id"]]
        with client(second, lease["agentToken"]) as agent:
            beat = ok(heartbeat(agent, lease["id"], connectedToHub=True))
            assert beat["action"] == "reconnect"  # no control channel to this new process yet
        assert ok(api.get(f"/v1/tunnels/{web['id']}"))["status"] == "active"
        public_url = relay_after["publicUrl"]
        old = web_client.get(public_url, headers=auth(relay["workerToken"]))
        assert_error(old, ErrorCode.INVALID_TOKEN)
        assert_error(web_client.get(public_url, headers=auth(rotated)), ErrorCode.AGENT_UNAVAILABLE)
        paused_url = ok(api.get(f"/v1/tunnels/{paused['id']}"))["url"]
        answer = assert_error(web_client.get(paused_url), ErrorCode.AGENT_UNAVAILABLE)
        assert "paused" in answer["message"]

        # The same idempotency key still designates the same lease, and slugs stay taken.
        again = create_lease(api, "laptop", idempotencyKey="boot-1")
        assert (again["id"], again["created"]) == (lease["id"], False)
        taken = bobs_api.post("/v1/tunnels", json={"target": "8050", "slug": stopped["slug"]})
        assert_error(taken, ErrorCode.SLUG_TAKEN)


def test_admin_token_file_is_written_once_with_mode_0600(
    make_hub: Callable[..., RunningHub],
) -> None:
    first = make_hub()
    token_file = first.db_path.parent / ADMIN_TOKEN_FILE
    assert first.server.bootstrap is not None
    assert first.server.bootstrap.token_file == token_file
    assert first.server.bootstrap.from_environment is False
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() == first.token
    assert first.token.startswith("jtu_")
    written = token_file.stat().st_mtime_ns
    with client(first) as api:
        assert ok(api.get("/v1/health"))["counts"] is not None
    first.stop()

    second = make_hub(db_path=first.db_path)
    assert second.server.bootstrap is None
    assert token_file.stat().st_mtime_ns == written
    assert token_file.read_text().strip() == first.token
    with client(second, first.token) as api:
        assert ok(api.get("/v1/tunnels")) == []


def test_token_from_the_environment_at_first_start(
    make_hub: Callable[..., RunningHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = "team-token-0123456789abcdef"
    monkeypatch.setenv(TOKEN_ENV, chosen)
    first = make_hub()
    token_file = first.db_path.parent / ADMIN_TOKEN_FILE
    assert not token_file.exists()
    assert first.server.bootstrap is not None
    assert first.server.bootstrap.from_environment is True
    assert first.server.bootstrap.token_file is None
    with client(first, chosen) as api:
        tunnel = create_tunnel(api)
        assert ok(api.get("/v1/health"))["counts"]["tunnels"] == 1
    first.stop()

    # Only the first start reads the variable: later values are not tokens.
    monkeypatch.setenv(TOKEN_ENV, "another-token-0123456789abcdef")
    second = make_hub(db_path=first.db_path)
    assert not token_file.exists()
    with client(second, chosen) as api:
        assert ok(api.get("/v1/tunnels"))[0]["id"] == tunnel["id"]
    with client(second, "another-token-0123456789abcdef") as api:
        assert_error(api.get("/v1/tunnels"), ErrorCode.INVALID_TOKEN)
