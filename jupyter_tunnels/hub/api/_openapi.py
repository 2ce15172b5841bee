"""The OpenAPI 3.1 document, generated from the route table and the pydantic models."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import pydantic
from pydantic.json_schema import models_json_schema

from ..._core.errors import HTTP_STATUS
from ..._core.models import ApiError
from ..._version import __version__
from ._routes import ROUTES, Operation

__all__ = ["OpenApiDocument", "build_openapi"]

_REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)\}")
_ERROR_STATUSES = sorted(set(HTTP_STATUS.values()))


def _ref(model: type[pydantic.BaseModel], mode: str, refs: dict[Any, Any]) -> dict[str, Any]:
    return dict(refs[(model, mode)])


def _accepts_empty(body: type[pydantic.BaseModel]) -> bool:
    """Whether a request without a body is valid (the hub reads an empty body as ``{}``)."""
    try:
        body.model_validate_json(b"{}", strict=True)
    except pydantic.ValidationError:
        return False
    return True


def _limit_hub_ports(schemas: dict[str, Any], hub_ports: tuple[int, int]) -> None:
    """Document this hub's own TCP/UDP port range as the bounds of ``hubPort``."""
    first, last = hub_ports
    for choice in schemas["TunnelCreate"]["properties"]["hubPort"]["anyOf"]:
        if choice.get("type") == "integer":
            choice.update(minimum=first, maximum=last)


def _id_sources() -> dict[str, type[pydantic.BaseModel]]:
    """Each path parameter (``tunnelId``) and the resource whose ``id`` it takes."""
    sources: dict[str, type[pydantic.BaseModel]] = {}
    for route in ROUTES:
        names = _PARAM.findall(route.path)
        if names and route.path.endswith(f"{{{names[-1]}}}"):
            for op in route.operations:
                if op.method == "get":
                    sources[names[-1]] = op.response
    return sources


def _links(op: Operation) -> dict[str, Any]:
    """OpenAPI links from an answer to the operations taking one of its ids in their path.

    A resource's ``id`` feeds its own routes; a field named like a path parameter (a relay
    lease's ``leaseId`` and ``tunnelId``) feeds that parameter's routes.
    """
    if op.many:
        return {}
    fields = {field.alias or name: field for name, field in op.response.model_fields.items()}
    links: dict[str, Any] = {}
    for param, resource in _id_sources().items():
        if issubclass(op.response, resource):
            pointer = "/id"
        elif param in fields and fields[param].annotation is str:
            pointer = f"/{param}"
        else:
            continue
        for route in ROUTES:
            if f"{{{param}}}" in route.path:
                for target in route.operations:
                    links[target.operation_id] = {
                        "operationId": target.operation_id,
                        "parameters": {param: f"$response.body#{pointer}"},
                    }
    return links


def _operation(op: Operation, path: str, refs: dict[Any, Any]) -> dict[str, Any]:
    schema = _ref(op.response, "serialization", refs)
    content = {"type": "array", "items": schema} if op.many else schema
    success = {"description": op.summary, "content": {"application/json": {"schema": content}}}
    links = _links(op)
    if links:
        success["links"] = links
    error = {
        "description": "Error: see the code and message",
        "content": {"application/json": {"schema": _ref(ApiError, "serialization", refs)}},
    }
    responses: dict[str, Any] = {str(status): success for status in (op.status, *op.also)}
    for status in _ERROR_STATUSES:
        responses.setdefault(str(status), error)
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(path)
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "description": q.description,
            "schema": q.schema,
        }
        for q in op.query
    ]
    document: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if op.body is not None:
        document["requestBody"] = {
            "required": not _accepts_empty(op.body),
            "content": {"application/json": {"schema": _ref(op.body, "validation", refs)}},
        }
    if op.public:
        document["security"] = []
    return document


def build_openapi(server_url: str, hub_ports: tuple[int, int] | None = None) -> dict[str, Any]:
    """Build the OpenAPI document for a hub whose API lives at ``server_url``.

    ``hub_ports`` is the hub's TCP/UDP port range, which bounds ``hubPort`` in the document.
    """
    models: list[tuple[type[pydantic.BaseModel], Any]] = [(ApiError, "serialization")]
    for route in ROUTES:
        for op in route.operations:
            models.append((op.response, "serialization"))
            if op.body is not None:
                models.append((op.body, "validation"))
    refs, definitions = models_json_schema(models, by_alias=True, ref_template=_REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})
    if hub_ports is not None:
        _limit_hub_ports(schemas, hub_ports)
    paths: dict[str, Any] = {}
    for route in ROUTES:
        paths[route.path] = {op.method: _operation(op, route.path, refs) for op in route.operations}
    paths["/v1/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "jupyter-tunnels hub",
            "version": __version__,
            "description": "Control API of a jupyter-tunnels hub: tunnels, leases, agents and "
            "relay leases. Errors are {code, message, details}.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


class OpenApiDocument:
    """The document of one hub, built the first time it is asked for."""

    def __init__(self, server_url: str, hub_ports: tuple[int, int] | None) -> None:
        self.server_url = server_url
        self.hub_ports = hub_ports

    @property
    def text(self) -> str:
        """The document as JSON text."""
        return _document(self.server_url, self.hub_ports)


@functools.lru_cache(maxsize=8)
def _document(server_url: str, hub_ports: tuple[int, int] | None) -> str:
    return json.dumps(build_openapi(server_url, hub_ports))
