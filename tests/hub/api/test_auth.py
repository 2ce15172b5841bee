"""Bearer auth and owner isolation over real HTTP (hub/api/_base.py, hub/store/_owners.py).

The route table (hub/api/_routes.py ``ROUTES``) drives these tests, so a new route cannot skip the
rules: every private operation answers 401 without a valid token, and every operation on a
record answers 404 (never 403) to an owner who does not own it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_tunnels._core.errors import ErrorCode
from jupyter_tunnels.connector import Connector
from jupyter_tunnels.hub.api._routes import ROUTES, Operation
from tests._api import (
    assert_error,
    client,
    create_lease,
    create_tunnel,
    heartbeat,
    ok,
    shared_hub,
    snapshot,
)
from tests._hubs import RunningHub

_PARAM = re.compile(r"\{(\w+)\}")

OPERATIONS = [(route.path, op) for route in ROUTES for op in route.operations]
PRIVATE = [(path, op) for path, op in OPERATIONS if not op.public]
WITH_ID = [(path, op) for path, op in OPERATIONS if _PARAM.search(path)]

BODIES: dict[str, dict[str, Any]] = {
    "createTunnel": {"target": "8050"},
    "createLease": {"clientInstanceId": "agent"},
    "createRelayLease": {"clientInstanceId": "job", "target": "8000"},
    "updateTunnel": {"name": "stolen"},
    "rotateTunnel": {"target": "9999"},
    "heartbeat": {"connectedToHub": True},
    "refreshLease": {"ttlSeconds": 600},
    "createWebhook": {"url": "http://127.0.0.1:9/hook", "events": ["*"]},
    "createShare": {"name": "link"},
    "connectTunnel": {"agentId": "no-such-agent"},
}
"""A valid body for each operation that takes one (a new operation must add its own)."""

NOT_FOUND = {
    "tunnelId": ErrorCode.TUNNEL_NOT_FOUND,
    "leaseId": ErrorCode.LEASE_NOT_FOUND,
    "relayLeaseId": ErrorCode.RELAY_LEASE_NOT_FOUND,
    "webhookId": ErrorCode.WEBHOOK_NOT_FOUND,
    "shareId": ErrorCode.SHARE_NOT_FOUND,
    "connectionId": ErrorCode.CONNECTION_NOT_FOUND,
}
"""The error for an unknown (or someone else's) record, by path parameter."""

UNKNOWN_IDS = dict.fromkeys(NOT_FOUND, "no-such-record")
AUTHENTICATE = 'Bearer realm="jupyter-tunnels"'


def _url(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda match: values[match.group(1)], path)


def _body(op: Operation) -> dict[str, Any] | None:
    return None if op.body is None else BODIES[op.operation_id]


def _id(value: object) -> str:
    return value.operation_id if isinstance(value, Operation) else str(value)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """One hub for the tests below that leave it as they found it."""
    with shared_hub(tmp_path_factory.mktemp("auth")) as hub:
        yield hub


# --- 401 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "op"), PRIVATE, ids=_id)
def test_missing_token_is_401_with_www_authenticate(
    shared: RunningHub, path: str, op: Operation
) -> None:
    with client(shared, token="") as anonymous:
        answer = anonymous.request(op.method.upper(), _url(path, UNKNOWN_IDS), json=_body(op))
    assert_error(answer, ErrorCode.MISSING_AUTH)
    assert answer.headers["www-authenticate"] == AUTHENTICATE


@pytest.mark.parametrize(("path", "op"), PRIVATE, ids=_id)
def test_wrong_token_is_401_with_www_authenticate(
    shared: RunningHub, path: str, op: Operation
) -> None:
    with client(shared, token="jtu_this-token-was-never-issued") as stranger:
        answer = stranger.request(op.method.upper(), _url(path, UNKNOWN_IDS), json=_body(op))
    assert_error(answer, ErrorCode.INVALID_TOKEN)
    assert answer.headers["www-authenticate"] == AUTHENTICATE


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", "bearer"])
def test_malformed_authorization_counts_as_missing(hub: RunningHub, header: str) -> None:
    with client(hub, token="") as anonymous:
        answer = anonymous.get("/v1/tunnels", headers={"Authorization": header})
    assert_error(answer, ErrorCode.MISSING_AUTH)


def test_scheme_is_case_insensitive(hub: RunningHub) -> None:
    with client(hub, token="") as anonymous:
        answer = anonymous.get("/v1/tunnels", headers={"Authorization": f"bearer {hub.token}"})
    assert ok(answer) == []


def test_agent_and_worker_tokens_are_not_api_tokens(hub: RunningHub) -> None:
    with client(hub) as api:
        lease = create_lease(api, "laptop")
        relay = ok(api.post("/v1/relay-leases", json=BODIES["createRelayLease"]), 201)
    for token in (lease["agentToken"], relay["agentToken"], relay["workerToken"]):
        with client(hub, token) as other:
            assert_error(other.get("/v1/tunnels"), ErrorCode.INVALID_TOKEN)
            assert_error(other.get(f"/v1/leases/{lease['id']}"), ErrorCode.INVALID_TOKEN)
            assert ok(other.get("/v1/health"))["counts"] is None


def test_health_without_a_token_has_no_counts(hub: RunningHub) -> None:
    with client(hub, token="") as anonymous:
        health = ok(anonymous.get("/v1/health"))
    assert health["status"] == "ok"
    assert health["counts"] is None


def test_openapi_document_needs_no_token(hub: RunningHub) -> None:
    with client(hub, token="") as anonymous:
        assert ok(anonymous.get("/v1/openapi.json"))["openapi"].startswith("3.")


# --- 404 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "op"), WITH_ID, ids=_id)
def test_unknown_id_is_404(shared: RunningHub, path: str, op: Operation) -> None:
    with client(shared) as api:
        before = snapshot(api)
        answer = api.request(op.method.upper(), _url(path, UNKNOWN_IDS), json=_body(op))
        (param,) = _PARAM.findall(path)
        body = assert_error(answer, NOT_FOUND[param])
        assert "no-such-record" in body["message"]
        assert snapshot(api) == before


@pytest.mark.parametrize(("path", "op"), WITH_ID, ids=_id)
def test_another_owner_gets_404_not_403(hub: RunningHub, path: str, op: Operation) -> None:
    bob = hub.new_owner("bob")
    with client(hub) as api, client(hub, bob) as other, contextlib.ExitStack() as cleanup:
        lease = create_lease(api, "laptop")
        tunnel = create_tunnel(api, slug="alices", leaseId=lease["id"])
        relay = ok(api.post("/v1/relay-leases", json=BODIES["createRelayLease"]), 201)
        webhook = ok(api.post("/v1/webhooks", json=BODIES["createWebhook"]), 201)
        ids = {
            "tunnelId": tunnel["id"],
            "leaseId": lease["id"],
            "relayLeaseId": relay["id"],
            "webhookId": webhook["id"],
        }
        if "{shareId}" in path:
            share = ok(api.post(f"/v1/tunnels/{tunnel['id']}/shares", json={"name": "s"}), 201)
            ids["shareId"] = share["id"]
        if "{connectionId}" in path:  # reach: an online agent of alice binds a port
            agent = Connector(hub.url, hub.token, client_instance_id="reacher")
            hub.call(agent.start())
            cleanup.callback(lambda: hub.call(agent.close()))
            body = {"agentId": agent.agent_id}
            connected = ok(api.post(f"/v1/tunnels/{tunnel['id']}/connect", json=body), 201)
            ids["connectionId"] = connected["id"]
        before = unbeaten(snapshot(api))
        relay_before = ok(api.get(f"/v1/relay-leases/{relay['id']}"))
        urls = [_url(path, ids)]
        if "{tunnelId}" in path:
            urls.append(_url(path, {**ids, "tunnelId": tunnel["slug"]}))
        (param,) = _PARAM.findall(path)
        for url in urls:
            assert_error(other.request(op.method.upper(), url, json=_body(op)), NOT_FOUND[param])
        assert unbeaten(snapshot(api)) == before
        assert ok(api.get(f"/v1/relay-leases/{relay['id']}")) == relay_before
        assert snapshot(other) == {
            "tunnels": [],
            "leases": [],
            "agents": [],
            "webhooks": [],
            "deliveries": {},
        }


def test_another_owner_cannot_bind_to_my_lease(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with client(hub) as api, client(hub, bob) as other:
        lease = create_lease(api, "laptop")
        answer = other.post("/v1/tunnels", json={"target": "8050", "leaseId": lease["id"]})
        assert_error(answer, ErrorCode.LEASE_NOT_FOUND)
        tunnel = create_tunnel(other)
        moved = other.patch(f"/v1/tunnels/{tunnel['id']}", json={"leaseId": lease["id"]})
        assert_error(moved, ErrorCode.LEASE_NOT_FOUND)
        assert ok(api.get(f"/v1/leases/{lease['id']}"))["tunnelIds"] == []
        assert ok(other.get(f"/v1/tunnels/{tunnel['id']}"))["status"] == "creating"


def test_same_client_instance_id_is_separate_per_owner(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with client(hub) as api, client(hub, bob) as other:
        mine = create_lease(api, "laptop")
        theirs = create_lease(other, "laptop")
        assert theirs["created"] is True
        assert theirs["id"] != mine["id"]
        assert theirs["agentId"] != mine["agentId"]
        # Idempotency keys are per owner too.
        assert create_lease(other, "laptop", idempotencyKey="k")["id"] == theirs["id"]
        assert create_lease(api, "laptop", idempotencyKey="k")["id"] == mine["id"]
        assert [lease["id"] for lease in ok(api.get("/v1/leases"))] == [mine["id"]]
        assert [a["clientInstanceId"] for a in ok(api.get("/v1/agents"))] == ["laptop"]
        assert_error(heartbeat(other, mine["id"]), ErrorCode.LEASE_NOT_FOUND)


def test_owners_see_only_their_own_records(hub: RunningHub) -> None:
    bob = hub.new_owner("bob")
    with client(hub) as api, client(hub, bob) as other:
        create_tunnel(api, name="alices")
        create_lease(api, "alice-laptop")
        theirs = create_tunnel(other, name="bobs")
        assert [t["id"] for t in ok(other.get("/v1/tunnels"))] == [theirs["id"]]
        assert ok(other.get("/v1/leases")) == []
        assert ok(other.get("/v1/agents")) == []
        assert len(ok(api.get("/v1/tunnels"))) == 1
        assert len(ok(api.get("/v1/agents"))) == 1


def unbeaten(state: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without the times a live agent's heartbeats move on their own."""
    snapshot: dict[str, Any] = json.loads(json.dumps(state), object_hook=_drop_heartbeat_times)
    return snapshot


def _drop_heartbeat_times(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in item.items() if k not in ("lastHeartbeatAt", "expiresAt", "lastSeenAt")
    }
