"""Shares: capability links to a tunnel, with an expiry, allowed methods and a rate limit."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .base import Name, RequestBody, Resource, integral

__all__ = [
    "SHARE_PATH_PATTERN",
    "HttpMethod",
    "Share",
    "ShareCreate",
    "ShareExpiration",
    "ShareGrant",
]


class ShareExpiration(str, enum.Enum):
    """How long a share link works after it is created."""

    ONE_HOUR = "1h"
    ONE_DAY = "24h"
    ONE_WEEK = "7d"
    ONE_MONTH = "30d"
    NEVER = "never"

    def __str__(self) -> str:
        return self.value

    @property
    def seconds(self) -> float | None:
        """The lifetime in seconds; None for ``never``."""
        return _EXPIRATION_SECONDS[self]


_EXPIRATION_SECONDS: dict[ShareExpiration, float | None] = {
    ShareExpiration.ONE_HOUR: 3600.0,
    ShareExpiration.ONE_DAY: 86400.0,
    ShareExpiration.ONE_WEEK: 7 * 86400.0,
    ShareExpiration.ONE_MONTH: 30 * 86400.0,
    ShareExpiration.NEVER: None,
}

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT"]
"""A method a share may allow; ``CONNECT`` is a raw stream (reach), not an HTTP request."""
SHARE_PATH_PATTERN = r"^/[!-~]{0,499}$"
"""A share's path prefix: starts with ``/``, printable ASCII, no spaces."""


def _upper_methods(value: Any) -> Any:
    if isinstance(value, list):
        return [item.upper() if isinstance(item, str) else item for item in value]
    return value


class ShareCreate(RequestBody):
    """Body of ``POST /v1/tunnels/{id}/shares``."""

    name: Name
    description: Annotated[str, Field(max_length=500)] | None = None
    expiration: ShareExpiration = ShareExpiration.ONE_DAY
    allowed_methods: (
        Annotated[
            list[HttpMethod], Field(min_length=1, max_length=8), BeforeValidator(_upper_methods)
        ]
        | None
    ) = Field(
        default=None,
        description="The methods the link allows (any case); null or absent: every method.",
    )
    rate_limit_per_minute: (
        Annotated[int, Field(ge=1, le=1000), BeforeValidator(integral)] | None
    ) = Field(default=None, description="Requests (or reach connections) a minute; null: no limit.")
    path_prefix: Annotated[str, Field(pattern=SHARE_PATH_PATTERN, max_length=500)] | None = Field(
        default=None,
        description="Only paths under this prefix (from the tunnel's root, e.g. /api); null: all.",
    )


class Share(Resource):
    """A capability link to a tunnel; its token is shown only when it is created."""

    id: str
    tunnel_id: str
    name: str
    description: str | None
    expiration: ShareExpiration
    expires_at: datetime | None
    allowed_methods: list[str] | None
    rate_limit_per_minute: int | None
    path_prefix: str | None
    active: bool
    """Neither revoked nor expired."""
    access_count: int
    """Requests (and reach connections) let through with this link."""
    last_accessed_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None


class ShareGrant(Share):
    """A new share with its link and token, shown this once."""

    share_url: str | None
    """The link: the tunnel's URL (plus the path prefix) with ``?share_token=``; null for a
    tcp tunnel, which is reached with the token (``jupyter-tunnels connect``)."""
    token: str
