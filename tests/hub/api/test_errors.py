"""Every bad input gets ``{code, message, details}`` with the right status and changes nothing.

Each case is sent to a hub holding a bit of everything (live, creating and stopped tunnels,
an active and a released lease, an open and a closed relay lease); what the caller can list
is compared before and after.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from jupyter_tunnels._core.errors import ErrorCode
from jupyter_tunnels._core.models import MAX_NAME_LENGTH
from jupyter_tunnels.hub._config import MAX_BODY_BYTES
from tests._api import (
    assert_error,
    client,
    create_lease,
    create_tunnel,
    heartbeat,
    ok,
    shared_hub,
    snapshot,
    wait_for,
)
from tests._hubs import RunningHub


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad request: method, URL template (``{tunnel}``...), httpx arguments, answer."""

    method: str
    url: str
    code: ErrorCode
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    caller: str = "admin"
    """Who sends it: ``admin`` (who owns the records), ``bob`` (another owner), ``nobody``
    (no token) or ``stranger`` (a token the hub never issued)."""


def case(case_id: str, request: str, code: ErrorCode, **kwargs: Any) -> Any:
    """A parametrised :class:`Case`; ``request`` is ``"METHOD /url"``."""
    method, url = request.split(" ", 1)
    return pytest.param(Case(method, url, code, **kwargs), id=case_id)


def tunnel_body(**fields: Any) -> dict[str, Any]:
    """A tunnel create body, valid except for ``fields``."""
    return {"target": "8050", **fields}


E = ErrorCode
CASES = [
    # unknown ids
    case("get-unknown-tunnel", "GET /v1/tunnels/nope", E.TUNNEL_NOT_FOUND),
    case("patch-unknown-tunnel", "PATCH /v1/tunnels/nope", E.TUNNEL_NOT_FOUND, json={"name": "x"}),
    case("delete-unknown-tunnel", "DELETE /v1/tunnels/nope", E.TUNNEL_NOT_FOUND),
    case(
        "rotate-unknown-tunnel",
        "POST /v1/tunnels/nope/rotate",
        E.TUNNEL_NOT_FOUND,
        json={"target": "9000"},
    ),
    case("get-unknown-lease", "GET /v1/leases/nope", E.LEASE_NOT_FOUND),
    case("heartbeat-unknown-lease", "POST /v1/leases/nope/heartbeat", E.LEASE_NOT_FOUND, json={}),
    case("refresh-unknown-lease", "POST /v1/leases/nope/refresh", E.LEASE_NOT_FOUND, json={}),
    case("release-unknown-lease", "POST /v1/leases/nope/release", E.LEASE_NOT_FOUND),
    case("delete-unknown-lease", "DELETE /v1/leases/nope", E.LEASE_NOT_FOUND),
    case("get-unknown-relay", "GET /v1/relay-leases/nope", E.RELAY_LEASE_NOT_FOUND),
    case("close-unknown-relay", "DELETE /v1/relay-leases/nope", E.RELAY_LEASE_NOT_FOUND),
    case(
        "rotate-unknown-relay", "POST /v1/relay-leases/nope/worker-token", E.RELAY_LEASE_NOT_FOUND
    ),
    case(
        "tunnel-on-unknown-lease",
        "POST /v1/tunnels",
        E.LEASE_NOT_FOUND,
        json=tunnel_body(leaseId="nope"),
    ),
    case(
        "bind-unknown-lease",
        "PATCH /v1/tunnels/{creating}",
        E.LEASE_NOT_FOUND,
        json={"leaseId": "nope"},
    ),
    # bad JSON and bodies that are not objects
    case("bad-json", "POST /v1/tunnels", E.INVALID_JSON, content=b'{"target": 80'),
    case("bad-json-patch", "PATCH /v1/tunnels/{tunnel}", E.INVALID_JSON, content=b"{name}"),
    case("bad-json-lease", "POST /v1/leases", E.INVALID_JSON, content=b"nope"),
    case("bad-json-heartbeat", "POST /v1/leases/{lease}/heartbeat", E.INVALID_JSON, content=b"{,}"),
    case("bad-json-relay", "POST /v1/relay-leases", E.INVALID_JSON, content=b"[1,"),
    case("not-utf8", "POST /v1/tunnels", E.INVALID_JSON, content=b'{"target": "\xff"}'),
    case("array-body", "POST /v1/tunnels", E.INVALID_INPUT, json=[{"target": "8050"}]),
    case("string-body", "POST /v1/leases", E.INVALID_INPUT, json="laptop"),
    case("null-body", "POST /v1/tunnels", E.INVALID_INPUT, json=None, content=b"null"),
    case("empty-body", "POST /v1/tunnels", E.INVALID_INPUT),
    case("empty-patch", "PATCH /v1/tunnels/{tunnel}", E.INVALID_INPUT, json={}),
    case("unknown-field", "POST /v1/tunnels", E.INVALID_INPUT, json=tunnel_body(nmae="x")),
    case(
        "unknown-field-heartbeat",
        "POST /v1/leases/{lease}/heartbeat",
        E.INVALID_INPUT,
        json={"connected": True},
    ),
    # wrong types
    case("port-as-string", "POST /v1/tunnels", E.INVALID_PORT, json={"target": {"port": "8050"}}),
    case("port-as-float", "POST /v1/tunnels", E.INVALID_PORT, json={"target": {"port": 80.5}}),
    case("port-as-bool", "POST /v1/tunnels", E.INVALID_PORT, json={"target": {"port": True}}),
    case("target-as-list", "POST /v1/tunnels", E.INVALID_INPUT, json={"target": [8050]}),
    case("bad-target-string", "POST /v1/tunnels", E.INVALID_INPUT, json={"target": "a:b:c"}),
    case(
        "bad-target-host",
        "POST /v1/tunnels",
        E.INVALID_INPUT,
        json={"target": {"host": "bad host!", "port": 80}},
    ),
    case("name-as-number", "POST /v1/tunnels", E.INVALID_NAME, json=tunnel_body(name=5)),
    case("slug-as-number", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug=5)),
    case("metadata-as-string", "POST /v1/tunnels", E.INVALID_INPUT, json=tunnel_body(metadata="x")),
    case("metadata-as-list", "PATCH /v1/tunnels/{tunnel}", E.INVALID_INPUT, json={"metadata": [1]}),
    case("unknown-protocol", "POST /v1/tunnels", E.INVALID_INPUT, json=tunnel_body(protocol="ftp")),
    case(
        "access-token-by-hand",
        "POST /v1/tunnels",
        E.INVALID_INPUT,
        json=tunnel_body(access="token"),
    ),
    case(
        "status-stopped-by-patch",
        "PATCH /v1/tunnels/{tunnel}",
        E.INVALID_INPUT,
        json={"status": "stopped"},
    ),
    case("client-id-as-number", "POST /v1/leases", E.INVALID_INPUT, json={"clientInstanceId": 7}),
    case(
        "client-id-with-space",
        "POST /v1/leases",
        E.INVALID_INPUT,
        json={"clientInstanceId": "my laptop"},
    ),
    case("client-id-missing", "POST /v1/leases", E.INVALID_INPUT, json={}),
    case(
        "ttl-as-string",
        "POST /v1/leases",
        E.INVALID_INPUT,
        json={"clientInstanceId": "a", "ttlSeconds": "60"},
    ),
    case(
        "ttl-zero",
        "POST /v1/leases",
        E.INVALID_INPUT,
        json={"clientInstanceId": "a", "ttlSeconds": 0},
    ),
    case(
        "ttl-too-long",
        "POST /v1/leases/{lease}/refresh",
        E.INVALID_INPUT,
        json={"ttlSeconds": 10**9},
    ),
    case(
        "empty-idempotency-key",
        "POST /v1/leases",
        E.INVALID_INPUT,
        json={"clientInstanceId": "a", "idempotencyKey": ""},
    ),
    case(
        "readiness-as-string",
        "POST /v1/leases/{lease}/heartbeat",
        E.INVALID_INPUT,
        json={"connectedToHub": "yes"},
    ),
    case(
        "relay-without-target",
        "POST /v1/relay-leases",
        E.INVALID_INPUT,
        json={"clientInstanceId": "job"},
    ),
    case(
        "long-rotate-reason",
        "POST /v1/tunnels/{tunnel}/rotate",
        E.INVALID_INPUT,
        json={"target": "9000", "reason": "r" * 501},
    ),
    # out-of-range ports
    case("port-zero", "POST /v1/tunnels", E.INVALID_PORT, json={"target": {"port": 0}}),
    case("port-negative", "POST /v1/tunnels", E.INVALID_PORT, json={"target": {"port": -1}}),
    case("port-too-big", "POST /v1/tunnels", E.INVALID_PORT, json={"target": {"port": 65536}}),
    case("port-too-big-string", "POST /v1/tunnels", E.INVALID_PORT, json={"target": "99999"}),
    case(
        "rotate-port-zero",
        "POST /v1/tunnels/{tunnel}/rotate",
        E.INVALID_PORT,
        json={"target": {"port": 0}},
    ),
    case(
        "relay-port-too-big",
        "POST /v1/relay-leases",
        E.INVALID_PORT,
        json={"clientInstanceId": "job", "target": "localhost:70000"},
    ),
    case(
        "hub-port-too-big",
        "POST /v1/tunnels",
        E.INVALID_PORT,
        json=tunnel_body(target="5432", hubPort=70000),
    ),
    case(
        "hub-port-outside-range",
        "POST /v1/tunnels",
        E.INVALID_PORT,
        json=tunnel_body(target="5432", hubPort=1024),
    ),
    case(
        "hub-port-on-http",
        "POST /v1/tunnels",
        E.INVALID_INPUT,
        json=tunnel_body(protocol="http", hubPort=20050),
    ),
    # names and slugs
    case(
        "name-too-long",
        "POST /v1/tunnels",
        E.INVALID_NAME,
        json=tunnel_body(name="n" * (MAX_NAME_LENGTH + 1)),
    ),
    case("name-empty", "POST /v1/tunnels", E.INVALID_NAME, json=tunnel_body(name="")),
    case(
        "rename-too-long",
        "PATCH /v1/tunnels/{tunnel}",
        E.INVALID_NAME,
        json={"name": "n" * (MAX_NAME_LENGTH + 1)},
    ),
    case(
        "relay-name-too-long",
        "POST /v1/relay-leases",
        E.INVALID_NAME,
        json={"clientInstanceId": "job", "target": "8000", "name": "n" * 101},
    ),
    case("slug-upper-case", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="MyApp")),
    case("slug-underscore", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="my_app")),
    case("slug-leading-hyphen", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="-app")),
    case("slug-trailing-hyphen", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="app-")),
    case("slug-too-long", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="a" * 33)),
    case("slug-empty", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="")),
    case("slug-with-dot", "POST /v1/tunnels", E.INVALID_SLUG, json=tunnel_body(slug="a.b")),
    case("duplicate-slug", "POST /v1/tunnels", E.SLUG_TAKEN, json=tunnel_body(slug="taken")),
    case(
        "duplicate-slug-of-another-owner",
        "POST /v1/tunnels",
        E.SLUG_TAKEN,
        json=tunnel_body(slug="taken"),
        caller="bob",
    ),
    case(
        "reserved-slug-of-a-stopped-tunnel",
        "POST /v1/tunnels",
        E.SLUG_TAKEN,
        json=tunnel_body(slug="stopped"),
        caller="bob",
    ),
    # conflicts with the state of a record
    case(
        "pause-a-creating-tunnel",
        "PATCH /v1/tunnels/{creating}",
        E.ILLEGAL_TRANSITION,
        json={"status": "paused"},
    ),
    case(
        "resume-a-stopped-tunnel",
        "PATCH /v1/tunnels/{stopped}",
        E.ILLEGAL_TRANSITION,
        json={"status": "active"},
    ),
    case(
        "rotate-a-stopped-tunnel",
        "POST /v1/tunnels/{stopped}/rotate",
        E.ILLEGAL_TRANSITION,
        json={"target": "9000"},
    ),
    case(
        "bind-a-stopped-tunnel",
        "PATCH /v1/tunnels/{stopped}",
        E.ILLEGAL_TRANSITION,
        json={"leaseId": "{lease}"},
    ),
    case(
        "tunnel-on-released-lease",
        "POST /v1/tunnels",
        E.LEASE_INACTIVE,
        json=tunnel_body(leaseId="{released}"),
    ),
    case("refresh-released-lease", "POST /v1/leases/{released}/refresh", E.LEASE_INACTIVE, json={}),
    case(
        "idempotency-key-of-another-agent",
        "POST /v1/leases",
        E.IDEMPOTENCY_CONFLICT,
        json={"clientInstanceId": "someone-else", "idempotencyKey": "key-1"},
    ),
    case(
        "rotate-token-of-closed-relay",
        "POST /v1/relay-leases/{closed_relay}/worker-token",
        E.LEASE_INACTIVE,
    ),
    # credentials
    case("missing-token", "POST /v1/tunnels", E.MISSING_AUTH, json=tunnel_body(), caller="nobody"),
    case("wrong-token", "POST /v1/tunnels", E.INVALID_TOKEN, json=tunnel_body(), caller="stranger"),
    case("missing-token-delete", "DELETE /v1/tunnels/{tunnel}", E.MISSING_AUTH, caller="nobody"),
    case(
        "wrong-token-release", "POST /v1/leases/{lease}/release", E.INVALID_TOKEN, caller="stranger"
    ),
    # the HTTP layer
    case("unknown-route", "GET /v1/nothing-here", E.NOT_FOUND),
    case("unknown-route-post", "POST /v1/tunnels/{tunnel}/explode", E.NOT_FOUND, json={}),
    case("outside-the-api", "GET /favicon.ico", E.NOT_FOUND),
    case("put-tunnels", "PUT /v1/tunnels", E.METHOD_NOT_ALLOWED, json=tunnel_body()),
    case("delete-tunnels", "DELETE /v1/tunnels", E.METHOD_NOT_ALLOWED),
    case("put-tunnel", "PUT /v1/tunnels/{tunnel}", E.METHOD_NOT_ALLOWED, json={"name": "x"}),
    case("post-health", "POST /v1/health", E.METHOD_NOT_ALLOWED, json={}),
    case("list-relay-leases", "GET /v1/relay-leases", E.METHOD_NOT_ALLOWED),
    case("get-heartbeat", "GET /v1/leases/{lease}/heartbeat", E.METHOD_NOT_ALLOWED),
    case(
        "oversize-body",
        "POST /v1/tunnels",
        E.PAYLOAD_TOO_LARGE,
        json=tunnel_body(metadata={"blob": "x" * MAX_BODY_BYTES}),
    ),
    case(
        "oversize-heartbeat",
        "POST /v1/leases/{lease}/heartbeat",
        E.PAYLOAD_TOO_LARGE,
        content=b" " * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    ),
    case(
        "text-plain",
        "POST /v1/tunnels",
        E.UNSUPPORTED_MEDIA_TYPE,
        content=b'{"target": "8050"}',
        headers={"Content-Type": "text/plain"},
    ),
    case(
        "form-body",
        "PATCH /v1/tunnels/{tunnel}",
        E.UNSUPPORTED_MEDIA_TYPE,
        content=b"name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    # query arguments
    case(
        "include-inactive-maybe",
        "GET /v1/tunnels",
        E.INVALID_INPUT,
        params={"includeInactive": "maybe"},
    ),
    case(
        "include-inactive-empty", "GET /v1/tunnels", E.INVALID_INPUT, params={"includeInactive": ""}
    ),
    case("unknown-status", "GET /v1/tunnels", E.INVALID_INPUT, params={"status": "running"}),
    case(
        "include-expired-yes", "GET /v1/leases", E.INVALID_INPUT, params={"includeExpired": "yes"}
    ),
]


@dataclasses.dataclass(frozen=True)
class World:
    """A hub with one of everything, the ids the cases refer to, and what its owner sees."""

    hub: RunningHub
    ids: dict[str, str]
    seen: dict[str, Any]
    bob: str
    """The API token of a second owner."""


def everything(api: httpx.Client, ids: dict[str, str]) -> dict[str, Any]:
    """What the caller can see: listings, plus both relay leases."""
    relays = [ok(api.get(f"/v1/relay-leases/{ids[key]}")) for key in ("relay", "closed_relay")]
    return {**snapshot(api), "relays": relays}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One hub for every case: each case checks it changed nothing, so they can share it."""
    with shared_hub(tmp_path_factory.mktemp("errors")) as hub, client(hub) as api:
        lease = create_lease(api, "laptop", idempotencyKey="key-1")
        tunnel = create_tunnel(api, slug="taken", leaseId=lease["id"], metadata={"k": "v"})
        create_tunnel(api, target="5432", leaseId=lease["id"])
        creating = create_tunnel(api, name="creating")
        stopped = create_tunnel(api, name="stopped")
        ok(api.delete(f"/v1/tunnels/{stopped['id']}"))
        released = create_lease(api, "old-laptop")
        ok(api.post(f"/v1/leases/{released['id']}/release"))
        relay = ok(api.post("/v1/relay-leases", json=relay_body("job", "8000")), 201)
        closed = ok(api.post("/v1/relay-leases", json=relay_body("job2", "8001")), 201)
        ok(api.delete(f"/v1/relay-leases/{closed['id']}"))
        ids = {
            "tunnel": tunnel["id"],
            "creating": creating["id"],
            "stopped": stopped["id"],
            "lease": lease["id"],
            "released": released["id"],
            "relay": relay["id"],
            "closed_relay": closed["id"],
        }
        yield World(hub, ids, everything(api, ids), hub.new_owner("bob"))


def relay_body(client_instance_id: str, target: str) -> dict[str, str]:
    """A relay lease create body."""
    return {"clientInstanceId": client_instance_id, "target": target}


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    return value


@pytest.mark.parametrize("bad", CASES)
def test_bad_request_is_refused_and_changes_nothing(world: World, bad: Case) -> None:
    hub = world.hub
    tokens = {"admin": hub.token, "bob": world.bob, "nobody": "", "stranger": "jtu_never-issued"}
    with client(hub) as api, client(hub, tokens[bad.caller]) as caller:
        answer = caller.request(
            bad.method,
            _fill(bad.url, world.ids),
            json=_fill(bad.json, world.ids) if bad.content is None else None,
            content=bad.content,
            headers=bad.headers,
            params=bad.params,
        )
        body = assert_error(answer, bad.code)
        assert "Traceback" not in body["message"]
        assert everything(api, world.ids) == world.seen


def test_validation_errors_name_the_field(hub: RunningHub) -> None:
    with client(hub) as api:
        body = assert_error(
            api.post("/v1/tunnels", json={"target": {"port": 70000}}), ErrorCode.INVALID_PORT
        )
        assert body["message"].startswith("target.port:")
        assert body["details"][0]["field"] == "target.port"
        body = assert_error(
            api.post("/v1/tunnels", json=tunnel_body(name="n" * 101)), ErrorCode.INVALID_NAME
        )
        assert body["details"][0]["field"] == "name"
        assert "100" in body["message"]
        body = assert_error(
            api.get("/v1/tunnels", params={"includeInactive": "maybe"}), ErrorCode.INVALID_INPUT
        )
        assert body["message"] == "includeInactive must be true, 1, false or 0, not 'maybe'"
        assert body["details"] == {"field": "includeInactive"}


def test_expired_lease_is_refused_and_changes_nothing(
    make_hub: Callable[..., RunningHub],
) -> None:
    hub = make_hub(lease_ttl=1)
    with client(hub) as api:
        lease = create_lease(api, "laptop", idempotencyKey="first")
        creating = create_tunnel(api, name="unbound")
        wait_for(lambda: ok(api.get(f"/v1/leases/{lease['id']}"))["status"] == "expired")
        before = snapshot(api)
        attempts = [
            heartbeat(api, lease["id"], connectedToHub=True),
            api.post(f"/v1/leases/{lease['id']}/refresh", json={}),
            api.post("/v1/tunnels", json=tunnel_body(leaseId=lease["id"])),
            api.patch(f"/v1/tunnels/{creating['id']}", json={"leaseId": lease["id"]}),
            api.post("/v1/leases", json={"clientInstanceId": "laptop", "idempotencyKey": "first"}),
        ]
        for answer in attempts:
            body = assert_error(answer, ErrorCode.LEASE_EXPIRED)
            assert "expired" in body["message"]
        assert snapshot(api) == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/tunnels", "GET, POST"),
        ("POST", "/v1/tunnels/some-id", "GET, DELETE, PATCH"),
        ("GET", "/v1/leases/some-id/heartbeat", "POST"),
        ("DELETE", "/v1/health", "GET"),
    ],
)
def test_method_not_allowed_names_the_allowed_methods(
    world: World, method: str, path: str, allowed: str
) -> None:
    with client(world.hub) as api:
        answer = api.request(method, path)
    assert_error(answer, ErrorCode.METHOD_NOT_ALLOWED)
    assert answer.headers["allow"] == allowed
