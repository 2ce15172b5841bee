"""``/v1/webhooks``: webhooks, test deliveries and the deliveries log."""

from __future__ import annotations

from ..._core.models import WebhookCreate
from ..services._owners import OwnerService
from ..services._webhooks import WebhookService
from ._base import ApiHandler

__all__ = ["WebhookDeliveriesHandler", "WebhookHandler", "WebhookTestHandler", "WebhooksHandler"]


class _WebhookApi(ApiHandler):
    """A handler of the webhooks resource."""

    webhooks: WebhookService

    def initialize(self, owners: OwnerService, webhooks: WebhookService) -> None:
        """Receive the services (tornado calls this per request)."""
        self.use(owners)
        self.webhooks = webhooks


class WebhooksHandler(_WebhookApi):
    """``/v1/webhooks``: list and create."""

    async def get(self) -> None:
        """List the caller's webhooks (never their secrets)."""
        self.send(await self.webhooks.list(self.owner))

    async def post(self) -> None:
        """Create a webhook; its secret is in this answer only."""
        self.send(await self.webhooks.create(self.owner, self.body_as(WebhookCreate)), 201)


class WebhookHandler(_WebhookApi):
    """``/v1/webhooks/{webhookId}``: get and delete."""

    async def get(self, webhook_id: str) -> None:
        """Get a webhook (without its secret)."""
        self.send(await self.webhooks.get(self.owner, webhook_id))

    async def delete(self, webhook_id: str) -> None:
        """Delete a webhook; its pending deliveries are dropped."""
        self.send(await self.webhooks.delete(self.owner, webhook_id))


class WebhookTestHandler(_WebhookApi):
    """``/v1/webhooks/{webhookId}/test``."""

    async def post(self, webhook_id: str) -> None:
        """Queue a ``webhook.test`` delivery."""
        self.send(await self.webhooks.test(self.owner, webhook_id), 202)


class WebhookDeliveriesHandler(_WebhookApi):
    """``/v1/webhooks/{webhookId}/deliveries``."""

    async def get(self, webhook_id: str) -> None:
        """The webhook's last deliveries, newest first."""
        self.send(await self.webhooks.deliveries(self.owner, webhook_id))
