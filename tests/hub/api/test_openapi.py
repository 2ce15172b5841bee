"""``GET /v1/openapi.json`` over real HTTP: valid JSON describing every route of the route
table (hub/api/_routes.py ``ROUTES``) and every schema it mentions (hub/api/_openapi.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from jupyter_tunnels._version import __version__
from jupyter_tunnels.hub.api._routes import ROUTES
from tests._api import client, ok
from tests._hubs import RunningHub


@pytest.fixture
def document(hub: RunningHub) -> dict[str, Any]:
    """The hub's OpenAPI document, fetched without a token."""
    with client(hub, token="") as anonymous:
        answer = anonymous.get("/v1/openapi.json")
    assert answer.headers["content-type"].startswith("application/json")
    parsed: dict[str, Any] = json.loads(answer.text)
    return parsed


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_document_header(hub: RunningHub, document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == __version__
    assert document["servers"] == [{"url": hub.url}]
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert document["security"] == [{"bearer": []}]


def test_every_route_is_described(document: dict[str, Any]) -> None:
    paths = document["paths"]
    operation_ids = []
    for route in ROUTES:
        assert route.path in paths, route.path
        described = paths[route.path]
        assert set(described) == {op.method for op in route.operations}, route.path
        for op in route.operations:
            entry = described[op.method]
            operation_ids.append(entry["operationId"])
            assert entry["operationId"] == op.operation_id
            assert str(op.status) in entry["responses"]
            assert "401" in entry["responses"] or op.public
            assert ("requestBody" in entry) is (op.body is not None), op.operation_id
            if op.public:
                assert entry["security"] == []
            parameters = {p["name"]: p for p in entry["parameters"]}
            for name in (part[1:-1] for part in route.path.split("/") if part.startswith("{")):
                assert parameters[name]["in"] == "path"
                assert parameters[name]["required"] is True
            for query in op.query:
                assert parameters[query.name]["in"] == "query"
    assert "/v1/openapi.json" in paths
    assert len(operation_ids) == len(set(operation_ids))


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("Tunnel", "TunnelCreate", "Lease", "LeaseGrant", "RelayLeaseGrant", "ApiError"):
        assert name in schemas, name
    refs = set(_refs(document))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_schemas_use_camel_case(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "requestedPort" in schemas["Tunnel"]["properties"]
    assert "clientInstanceId" in schemas["LeaseCreate"]["required"]
    error = schemas["ApiError"]
    assert {"code", "message", "details"} <= set(error["properties"])


def test_list_operations_document_their_query_flags(hub: RunningHub) -> None:
    with client(hub) as api:
        paths = ok(api.get("/v1/openapi.json"))["paths"]
    include = {p["name"]: p for p in paths["/v1/tunnels"]["get"]["parameters"]}
    assert include["includeInactive"]["schema"]["enum"] == ["true", "1", "false", "0"]
    assert "stopped" in include["status"]["schema"]["enum"]
    leases = {p["name"] for p in paths["/v1/leases"]["get"]["parameters"]}
    assert leases == {"clientInstanceId", "includeExpired"}
