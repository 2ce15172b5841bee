"""``/v1/health`` and ``/v1/openapi.json``: the two routes that need no token."""

from __future__ import annotations

from typing import Protocol

from ..services._health import HealthService
from ..services._owners import OwnerService
from ._base import ApiHandler

__all__ = ["ApiDocument", "HealthHandler", "OpenApiHandler"]


class ApiDocument(Protocol):
    """The OpenAPI document as served (``_openapi.py`` builds it from the route table)."""

    @property
    def text(self) -> str:
        """The document as JSON text."""


class HealthHandler(ApiHandler):
    """``GET /v1/health``."""

    public = True
    health: HealthService

    def initialize(self, owners: OwnerService, health: HealthService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.health = health

    async def get(self) -> None:
        """Report status, version, uptime, store state and (with a token) the caller's counts."""
        self.send(await self.health.health(self.owner_id))


class OpenApiHandler(ApiHandler):
    """``GET /v1/openapi.json``."""

    public = True
    openapi: ApiDocument

    def initialize(self, owners: OwnerService, openapi: ApiDocument) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.openapi = openapi

    async def get(self) -> None:
        """Send the OpenAPI document of this API."""
        self.finish(self.openapi.text)
