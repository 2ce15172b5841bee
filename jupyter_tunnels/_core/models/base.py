"""What every API model shares: the bases, the field types and patterns, and three models.

The hub validates requests with the models and serialises its answers with them, the SDK
parses answers into them, and the OpenAPI document is generated from them, so the three can
never disagree. JSON uses camelCase (``requestedPort``); Python uses snake_case
(``requested_port``). Request models reject unknown fields, so a typo is a clear 400 instead of
a silent no-op; resource models ignore unknown fields, so an older SDK can talk to a newer hub.

The models live one topic per module beside this one; here is what several of them use: the
bases, the annotated field types (``Name``, ``Port``, ``Metadata``, ...) and the patterns they
check, and the models that belong to no one topic: :class:`Target`, :class:`Readiness` and
:class:`ApiError`. ``__all__`` lists what the package exports; the rest is for the models'
modules.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

__all__ = [
    "MAX_NAME_LENGTH",
    "SLUG_PATTERN",
    "TARGET_STRING_PATTERN",
    "ApiError",
    "Readiness",
    "Target",
]

MAX_NAME_LENGTH = 100
"""The longest tunnel name accepted."""
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"
"""What a slug looks like: 1 to 32 lower-case letters, digits and inner hyphens."""
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""What a client instance id looks like: 1 to 128 letters, digits, ``.``, ``_``, ``:`` and
``-``, starting with a letter or digit."""
HOST_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?"
"""A host name, as a part of a pattern (not anchored)."""
HOST_PATTERN = rf"^{HOST_NAME}$|^\[?[0-9A-Fa-f:.]+\]?$"
"""What a target host looks like: a host name, or an IP address (IPv6 with or without brackets)."""
MAX_TTL_SECONDS = 7 * 24 * 3600
"""The longest TTL a lease may ask for (``ttlSeconds``): 7 days."""

# A target string is "[host:]port", the host a name or a bracketed IPv6 address. The validator
# parses the port as up to five digits (after any leading zeros) and lets ``Port`` check the
# range, so "99999" is an INVALID_PORT; the documented pattern spells the range out, so both
# accept exactly the same strings (tests/hub/api/test_fuzz.py checks it).
_TARGET_HOST = rf"{HOST_NAME}|\[[0-9A-Fa-f:.]{{1,253}}\]"
_TARGET_STRING = re.compile(rf"(?:(?P<host>{_TARGET_HOST}):)?(?P<port>0*[0-9]{{1,5}})")
PORT_1_65535 = (
    r"0*(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
)
"""A port number from 1 to 65535, as a part of a pattern (not anchored)."""
TARGET_STRING_PATTERN = rf"^(?:(?:{_TARGET_HOST}):)?{PORT_1_65535}$"
"""The ``"host:port"`` (or bare ``"port"``) form of a target, as documented in the schema."""


class ApiModel(BaseModel):
    """Base of every API model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON-ready dict the API sends (camelCase, ISO 8601 times)."""
        return self.model_dump(mode="json", by_alias=True)


class RequestBody(ApiModel):
    """Base of request bodies: unknown fields are an error."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class Resource(ApiModel):
    """Base of resources returned by the hub: unknown fields are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


def integral(value: Any) -> Any:
    """Take ``8050.0`` as ``8050``: JSON has one number type; JSON Schema calls that an integer."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _finite(value: Any) -> Any:
    """Refuse ``NaN`` and ``Infinity`` (or ``1e400``) anywhere inside: they are not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, max_length=32)]
ClientInstanceId = Annotated[str, Field(pattern=CLIENT_ID_PATTERN, max_length=128)]
TtlSeconds = Annotated[int, Field(ge=1, le=MAX_TTL_SECONDS), BeforeValidator(integral)]
Port = Annotated[int, Field(ge=1, le=65535), BeforeValidator(integral)]
Metadata = Annotated[dict[str, Any], AfterValidator(_finite)]


class Target(ApiModel):
    """A local service a connector dials: ``host`` and ``port``."""

    host: Annotated[str, Field(pattern=HOST_PATTERN, max_length=253)] = "127.0.0.1"
    port: Port

    @model_validator(mode="before")
    @classmethod
    def _parse_string(cls, value: Any) -> Any:
        """Accept ``"host:port"``, ``"[ipv6]:port"`` or a bare ``"port"`` as well as an object."""
        if isinstance(value, str):
            match = _TARGET_STRING.fullmatch(value)
            if match is None:
                raise ValueError(f"target {value!r} is not 'host:port' or a port number")
            host = match.group("host") or "127.0.0.1"
            if host.startswith("["):
                host = host[1:-1]
            return {"host": host, "port": int(match.group("port").lstrip("0") or "0")}
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Document the string form too, in requests (responses always carry the object)."""
        schema = handler(core_schema)
        if handler.mode == "serialization":
            return schema
        as_object = dict(handler.resolve_ref_schema(schema))
        as_string = {
            "type": "string",
            "pattern": TARGET_STRING_PATTERN,
            "description": "'host:port', '[ipv6]:port' or a bare port ('8050').",
        }
        return {"anyOf": [as_object, as_string], "title": as_object.get("title", cls.__name__)}

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Readiness(Resource):
    """What the connector last reported; a fact about the data path, not a status."""

    connected_to_hub: bool = False
    local_ready: bool = False
    last_error: str | None = None


class ApiError(Resource):
    """The body of every error response."""

    code: str
    message: str
    details: Any = None
