"""The SDK's exceptions: one tree, rooted at :class:`TunnelError`.

::

    TunnelError
    ├── ConfigurationError        no hub URL, no token, or a malformed setting
    ├── TransportError            the call did not complete over the network
    │   ├── HubUnreachable        no connection could be made (after the retries)
    │   └── HubTimeout            the hub did not answer within the timeout
    ├── UnexpectedResponse        a success whose body is not what the API promises
    └── APIError                  the hub refused the call: ``{code, message, details}``
        ├── BadRequest            400: invalid input; nothing was changed
        ├── AuthenticationError   401: missing or wrong token
        ├── NotFound              404: no such tunnel, lease or relay lease (for this owner)
        ├── Conflict              409: the call clashes with the current state
        │   ├── IllegalTransition a status change the transition table forbids
        │   ├── SlugTaken         the slug is used or reserved by someone else
        │   └── LeaseInactive     the lease was released or closed
        ├── Gone                  410: the resource has ended for good
        │   └── LeaseExpired      the lease missed its heartbeats
        └── ServerError           5xx: the hub failed or cannot serve the call now

Every error raised once a request was built carries it as ``request`` (an
:class:`httpx.Request`), so a log line can say which call failed. :class:`APIError` is chosen
by the API's ``code`` first (see :mod:`jupyter_tunnels._core.errors`) and by the HTTP status when
the code is unknown, so a newer hub's new codes still land on the right branch.
"""

from __future__ import annotations

from typing import Any

import httpx

from .._core.errors import ErrorCode, TunnelError

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Gone",
    "HubTimeout",
    "HubUnreachable",
    "IllegalTransition",
    "LeaseExpired",
    "LeaseInactive",
    "NotFound",
    "ServerError",
    "SlugTaken",
    "TransportError",
    "TunnelError",
    "UnexpectedResponse",
    "api_error",
]


class ConfigurationError(TunnelError):
    """The client lacks a setting it needs (hub URL, token) or was given a malformed one."""


class TransportError(TunnelError):
    """The call did not complete over the network; ``request`` is the call that failed."""

    def __init__(self, message: str, *, request: httpx.Request, attempts: int = 1) -> None:
        super().__init__(message)
        self.request = request
        self.attempts = attempts
        """How many times the request was tried before giving up."""


class HubUnreachable(TransportError):
    """No connection to the hub could be made: it is down, or the hub URL is wrong."""


class HubTimeout(TransportError):
    """The hub did not answer within the client's timeout."""


class UnexpectedResponse(TunnelError):
    """The hub answered with success, but with a body this SDK cannot read."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response
        self.request = response.request


class APIError(TunnelError):
    """The hub refused the call; ``code``, ``message`` and ``details`` come from its answer.

    ``str(error)`` reads like ``409 ILLEGAL_TRANSITION: a tunnel cannot go from creating to
    paused``. ``code`` is an :class:`~jupyter_tunnels._core.errors.ErrorCode` when the SDK knows it,
    the raw string when a newer hub sent a new one, and None when the answer was not the API's
    error envelope (a proxy's error page, for instance).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        details: Any = None,
        response: httpx.Response,
    ) -> None:
        prefix = f"{status_code} {code}" if code else str(status_code)
        super().__init__(f"{prefix}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.response = response
        self.request = response.request


class BadRequest(APIError):
    """The hub rejected the input (400); nothing was changed."""


class AuthenticationError(APIError):
    """The token is missing or not valid for this hub (401)."""


class NotFound(APIError):
    """No such record for this owner (404); other owners' records look the same."""


class Conflict(APIError):
    """The call clashes with the record's current state (409)."""


class IllegalTransition(Conflict):
    """The status change is not allowed from the tunnel's current status."""


class SlugTaken(Conflict):
    """The slug is in use, or reserved for another owner's returning connector."""


class LeaseInactive(Conflict):
    """The lease (or relay lease) was released or closed; create a new one."""


class Gone(APIError):
    """The record has ended for good (410)."""


class LeaseExpired(Gone):
    """The lease expired because its heartbeats stopped; create a new lease."""


class ServerError(APIError):
    """The hub failed, or cannot serve this call right now (5xx)."""


_CODE_CLASSES: dict[str, type[APIError]] = {
    ErrorCode.ILLEGAL_TRANSITION.value: IllegalTransition,
    ErrorCode.SLUG_TAKEN.value: SlugTaken,
    ErrorCode.LEASE_INACTIVE.value: LeaseInactive,
    ErrorCode.LEASE_EXPIRED.value: LeaseExpired,
}
_STATUS_CLASSES: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationError,
    404: NotFound,
    409: Conflict,
    410: Gone,
}
_NOT_THE_API = "the answer is not from a jupyter-tunnels hub API: is the hub URL right?"


def api_error(response: httpx.Response) -> APIError:
    """Build the most specific :class:`APIError` for an error ``response``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    status = response.status_code
    if isinstance(body, dict) and isinstance(body.get("code"), str) and body.get("message"):
        code = _known_code(body["code"])
        message = str(body["message"])
        details = body.get("details")
    else:
        code, details = None, None
        reason = response.reason_phrase or "error"
        message = f"{reason.lower()}; {_NOT_THE_API}"
    cls = _CODE_CLASSES.get(code or "") or _STATUS_CLASSES.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else APIError
    return cls(message, status_code=status, code=code, details=details, response=response)


def _known_code(code: str) -> str:
    """Return ``code`` as an :class:`ErrorCode` when it is one, else unchanged."""
    try:
        return ErrorCode(code)
    except ValueError:
        return code
