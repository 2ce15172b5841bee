"""The base of every API handler: JSON in and out, bearer auth, and the error envelope.

Handlers stay thin: parse the request with a model from ``_models.py``, call a service, send
the resulting model. Every failure leaves as ``{code, message, details}`` with the status that
belongs to its code, including tornado's own 404/405 and unexpected exceptions (a 500 whose
body says nothing internal; the traceback goes to the log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, TypeVar

import pydantic
from tornado import web

from ..._core.errors import ErrorCode
from ..._core.models import ApiError
from .._config import MAX_BODY_BYTES
from .._exceptions import HubError
from ..services._owners import OwnerService

__all__ = ["ApiHandler", "NotFoundHandler"]

log = logging.getLogger("jupyter_tunnels.hub")

M = TypeVar("M", bound=pydantic.BaseModel)

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_FIELD_CODES = {
    "port": ErrorCode.INVALID_PORT,
    "hubPort": ErrorCode.INVALID_PORT,
    "localPort": ErrorCode.INVALID_PORT,
    "name": ErrorCode.INVALID_NAME,
    "slug": ErrorCode.INVALID_SLUG,
    "url": ErrorCode.INVALID_URL,
    "events": ErrorCode.INVALID_EVENT,
}
_TORNADO_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}
_PATTERN_MESSAGES = {
    "slug": "1 to 32 lower-case letters, digits and inner hyphens",
    "clientInstanceId": "letters, digits and . _ : - (starting with a letter or digit)",
    "host": "a host name or an IP address",
    "url": "an http:// or https:// URL without spaces",
    "pathPrefix": "a path starting with / (visible ASCII characters, no spaces)",
}
"""What a field that must match a pattern looks like, said instead of the regular expression."""


def _validation_error(exc: pydantic.ValidationError) -> HubError:
    """Turn pydantic's errors into one clear HubError naming the first bad field."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return HubError(ErrorCode.INVALID_JSON, f"the body is not valid JSON: {first['msg']}")
    if first["type"] == "model_type" and not first["loc"]:
        return HubError(ErrorCode.INVALID_INPUT, "the body must be a JSON object")
    details = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": _message(error)}
        for error in errors
    ]
    field = details[0]["field"]
    last = str(first["loc"][-1]) if first["loc"] else ""
    top = str(first["loc"][0]) if first["loc"] else ""
    # a list item's last part is its index (events.0): its list names the error then
    code = _FIELD_CODES.get(last) or _FIELD_CODES.get(top, ErrorCode.INVALID_INPUT)
    where = f"{field}: " if field else ""
    return HubError(code, f"{where}{details[0]['message']}", details)


def _message(error: Any) -> str:
    """pydantic's message, except a pattern's regular expression is said in words."""
    wanted = _PATTERN_MESSAGES.get(str(error["loc"][-1]) if error["loc"] else "")
    if error["type"] == "string_pattern_mismatch" and wanted is not None:
        return f"must be {wanted}"
    return str(error["msg"])


class ApiHandler(web.RequestHandler):
    """JSON API handler; requires a bearer token unless ``public``.

    Each handler receives the services it needs, as keyword arguments of its ``initialize``
    (tornado calls it per request with the route's arguments): the hub's composition root
    (``_app.py``) reads the parameter names and passes the services of those names, so a
    handler states its dependencies in its signature and never sees the whole hub.
    """

    public = False
    """Whether the route answers without a token (health, OpenAPI document)."""

    owners: OwnerService
    owner_id: str | None

    def use(self, owners: OwnerService) -> None:
        """Receive the owner lookup every handler needs; each handler's ``initialize`` (which
        tornado calls per request with the route's arguments) calls it first."""
        self.owners = owners
        self.owner_id = None

    def set_default_headers(self) -> None:
        """Every answer is JSON and never cached."""
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")

    async def prepare(self) -> None:
        """Check the body's size and type, then the caller's token."""
        body = self.request.body
        if len(body) > MAX_BODY_BYTES:
            raise HubError(
                ErrorCode.PAYLOAD_TOO_LARGE,
                f"the body has {len(body)} bytes; the limit is {MAX_BODY_BYTES}",
            )
        content_type = self.request.headers.get("Content-Type", "")
        if body and content_type and "json" not in content_type.lower():
            raise HubError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                f"send JSON (Content-Type: application/json), not {content_type}",
            )
        token = self.bearer_token()
        if token is not None:
            self.owner_id = await self.owners.owner_for_token(token)
        if self.public or self.owner_id is not None or await self.authorize_other(token):
            return
        if token is None:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-tunnels"')
            raise HubError(
                ErrorCode.MISSING_AUTH, "send an API token as 'Authorization: Bearer <token>'"
            )
        raise HubError(ErrorCode.INVALID_TOKEN, "the token is not valid for this hub")

    def allowed_methods(self) -> list[str]:
        """The HTTP methods this handler implements (the ``Allow`` header of a 405 lists them)."""
        return [
            method
            for method in self.SUPPORTED_METHODS
            if getattr(type(self), method.lower(), None)
            is not getattr(web.RequestHandler, method.lower(), None)
        ]

    async def authorize_other(self, token: str | None) -> bool:
        """Accept a credential other than an API token; handlers that take one override this."""
        return False

    def bearer_token(self) -> str | None:
        """The token of the ``Authorization: Bearer`` header, if any."""
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    @property
    def owner(self) -> str:
        """The authenticated owner's id (only on routes that are not public)."""
        if self.owner_id is None:
            raise HubError(ErrorCode.MISSING_AUTH, "this operation needs an API token")
        return self.owner_id

    def body_as(self, model: type[M]) -> M:
        """Validate the JSON body against ``model`` (an empty body counts as ``{}``)."""
        try:
            return model.model_validate_json(self.request.body or b"{}", strict=True)
        except pydantic.ValidationError as exc:
            raise _validation_error(exc) from None

    def query_bool(self, name: str, default: bool = False) -> bool:
        """Read a boolean query argument given as ``true``/``1``/``false``/``0``, exactly as
        documented (not ``TRUE`` or `` true``)."""
        value = self.get_query_argument(name, None, strip=False)
        if value is None:
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise HubError(
            ErrorCode.INVALID_INPUT,
            f"{name} must be true, 1, false or 0, not {value!r}",
            {"field": name},
        )

    def send(
        self, result: pydantic.BaseModel | Sequence[pydantic.BaseModel], status: int = 200
    ) -> None:
        """Send a model (or a list of models) as camelCase JSON."""
        self.set_status(status)
        if isinstance(result, pydantic.BaseModel):
            payload: Any = result.model_dump(mode="json", by_alias=True)
        else:
            payload = [item.model_dump(mode="json", by_alias=True) for item in result]
        self.finish(json.dumps(payload))

    def send_error_body(self, error: HubError) -> None:
        """Send the error envelope for ``error``."""
        self.clear()
        self.set_status(error.status)
        if error.code in (ErrorCode.MISSING_AUTH, ErrorCode.INVALID_TOKEN):
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-tunnels"')
        if error.code is ErrorCode.METHOD_NOT_ALLOWED:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        body = ApiError(code=error.code.value, message=error.message, details=error.details)
        self.finish(json.dumps(body.to_json()))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, HubError):
            if not self._finished:
                self.send_error_body(e)
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Render tornado's own errors and unexpected exceptions in the error envelope."""
        code = _TORNADO_CODES.get(status_code)
        if code is not None:
            reason = HTTPStatus(status_code).phrase.lower()
            message = f"{reason}: {self.request.method} {self.request.path}"
            self.send_error_body(HubError(code, message))
            return
        if status_code >= 500:
            self.send_error_body(
                HubError(ErrorCode.INTERNAL_ERROR, "internal error: see the hub's log")
            )
            return
        self.set_status(status_code)
        body = {"code": ErrorCode.INVALID_INPUT.value, "message": self._reason, "details": None}
        self.finish(json.dumps(body))


class NotFoundHandler(ApiHandler):
    """Answers any path the API does not know with a JSON 404."""

    public = True

    def initialize(self, owners: OwnerService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)

    async def prepare(self) -> None:
        """Refuse every request, whatever its method."""
        raise HubError(ErrorCode.NOT_FOUND, f"no such route: {self.request.path}")
