"""The root of every error users can catch, and the error codes of the hub's API.

:class:`TunnelError` is the one root: the SDK's errors (``client/_exceptions.py``), the hub's
refusals (``HubError``), the connector's (``TargetNotAllowed``) and the wire protocol's derive
from it, so ``except TunnelError`` catches whatever jupyter-tunnels raises on purpose.

Every error response has the body ``{"code": ..., "message": ..., "details": ...}``; ``code``
is one of :class:`ErrorCode` and decides the HTTP status (:data:`HTTP_STATUS`).
"""

from __future__ import annotations

import enum

__all__ = ["HTTP_STATUS", "ErrorCode", "TunnelError"]


class TunnelError(Exception):
    """The root of every error jupyter-tunnels raises on purpose."""


class ErrorCode(str, enum.Enum):
    """A machine-readable reason for a failed API call."""

    INVALID_JSON = "INVALID_JSON"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_PORT = "INVALID_PORT"
    INVALID_NAME = "INVALID_NAME"
    INVALID_SLUG = "INVALID_SLUG"
    INVALID_URL = "INVALID_URL"
    INVALID_EVENT = "INVALID_EVENT"
    MISSING_AUTH = "MISSING_AUTH"
    INVALID_TOKEN = "INVALID_TOKEN"
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    CROSS_SITE_REQUEST = "CROSS_SITE_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    TUNNEL_NOT_FOUND = "TUNNEL_NOT_FOUND"
    LEASE_NOT_FOUND = "LEASE_NOT_FOUND"
    RELAY_LEASE_NOT_FOUND = "RELAY_LEASE_NOT_FOUND"
    WEBHOOK_NOT_FOUND = "WEBHOOK_NOT_FOUND"
    SHARE_NOT_FOUND = "SHARE_NOT_FOUND"
    INVALID_SHARE = "INVALID_SHARE"
    SHARE_REVOKED = "SHARE_REVOKED"
    SHARE_EXPIRED = "SHARE_EXPIRED"
    PATH_NOT_SHARED = "PATH_NOT_SHARED"
    RATE_LIMITED = "RATE_LIMITED"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    ILLEGAL_TRANSITION = "ILLEGAL_TRANSITION"
    SLUG_TAKEN = "SLUG_TAKEN"
    HUB_PORT_TAKEN = "HUB_PORT_TAKEN"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    LEASE_INACTIVE = "LEASE_INACTIVE"
    LEASE_EXPIRED = "LEASE_EXPIRED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NO_HUB_PORTS = "NO_HUB_PORTS"
    AGENT_UNAVAILABLE = "AGENT_UNAVAILABLE"
    LOCAL_UNAVAILABLE = "LOCAL_UNAVAILABLE"
    REQUEST_HEAD_TOO_LARGE = "REQUEST_HEAD_TOO_LARGE"
    UNSUPPORTED_HTTP_VERSION = "UNSUPPORTED_HTTP_VERSION"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # --- connections (reach) ---
    CONNECTION_NOT_FOUND = "CONNECTION_NOT_FOUND"
    AGENT_NOT_FOUND = "AGENT_NOT_FOUND"
    PORT_IN_USE = "PORT_IN_USE"
    UNSUPPORTED_PROTOCOL = "UNSUPPORTED_PROTOCOL"

    def __str__(self) -> str:
        return self.value


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_INPUT: 400,
    ErrorCode.INVALID_PORT: 400,
    ErrorCode.INVALID_NAME: 400,
    ErrorCode.INVALID_SLUG: 400,
    ErrorCode.INVALID_URL: 400,
    ErrorCode.INVALID_EVENT: 400,
    ErrorCode.MISSING_AUTH: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.HOST_NOT_ALLOWED: 403,
    ErrorCode.CROSS_SITE_REQUEST: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.TUNNEL_NOT_FOUND: 404,
    ErrorCode.LEASE_NOT_FOUND: 404,
    ErrorCode.RELAY_LEASE_NOT_FOUND: 404,
    ErrorCode.WEBHOOK_NOT_FOUND: 404,
    ErrorCode.SHARE_NOT_FOUND: 404,
    ErrorCode.INVALID_SHARE: 403,
    ErrorCode.SHARE_REVOKED: 403,
    ErrorCode.SHARE_EXPIRED: 410,
    ErrorCode.PATH_NOT_SHARED: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.ILLEGAL_TRANSITION: 409,
    ErrorCode.SLUG_TAKEN: 409,
    ErrorCode.HUB_PORT_TAKEN: 409,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.LEASE_INACTIVE: 409,
    ErrorCode.LEASE_EXPIRED: 410,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.NO_HUB_PORTS: 503,
    ErrorCode.AGENT_UNAVAILABLE: 503,
    ErrorCode.LOCAL_UNAVAILABLE: 502,
    ErrorCode.REQUEST_HEAD_TOO_LARGE: 431,
    ErrorCode.UNSUPPORTED_HTTP_VERSION: 505,
    ErrorCode.INTERNAL_ERROR: 500,
    # --- connections (reach) ---
    ErrorCode.CONNECTION_NOT_FOUND: 404,
    ErrorCode.AGENT_NOT_FOUND: 404,
    ErrorCode.PORT_IN_USE: 409,
    ErrorCode.UNSUPPORTED_PROTOCOL: 409,
}
"""The HTTP status the hub answers with for each error code."""
