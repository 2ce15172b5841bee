"""The one exception the hub's services raise for a refused request."""

from __future__ import annotations

from typing import Any

from .._core.errors import HTTP_STATUS, ErrorCode, TunnelError

__all__ = ["HubError"]


class HubError(TunnelError):
    """A request the hub refuses; becomes ``{code, message, details}`` with its HTTP status."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        """The HTTP status for this error."""
        return HTTP_STATUS[self.code]
