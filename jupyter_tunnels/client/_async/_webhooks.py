"""Webhooks: signed POSTs of the hub's events to a URL of yours, and their deliveries."""

from __future__ import annotations

import builtins  # the client has a method named list: annotations say builtins.list
from collections.abc import Sequence

from ..._core.models import Webhook, WebhookDelivery, WebhookEvent, WebhookGrant
from .. import _calls
from ._core import AsyncClientCore

__all__ = ["AsyncWebhookMethods"]


class AsyncWebhookMethods(AsyncClientCore):
    """The methods of :class:`AsyncTunnelsClient` for ``/v1/webhooks``."""

    async def create_webhook(
        self,
        url: str,
        events: Sequence[WebhookEvent | str],
        *,
        description: str | None = None,
    ) -> WebhookGrant:
        """Have the hub POST signed events to ``url`` (docs/webhooks.md).

        The grant carries the signing secret, shown this once: keep it to verify
        ``X-Tunnels-Signature``.

        :param url: an ``http`` or ``https`` URL.
        :param events: event names (:class:`WebhookEvent`), or ``["*"]`` for all.
        :param description: a note of up to 500 characters.
        :raises BadRequest: a malformed URL, no events, or an unknown one.
        """
        return await self._send(_calls.create_webhook(url, events, description=description))

    async def list_webhooks(self) -> builtins.list[Webhook]:
        """The caller's webhooks, oldest first (without their secrets)."""
        return await self._send(_calls.list_webhooks())

    async def get_webhook(self, webhook_id: str) -> Webhook:
        """One webhook (without its secret)."""
        return await self._send(_calls.get_webhook(webhook_id))

    async def delete_webhook(self, webhook_id: str) -> Webhook:
        """Delete a webhook; deliveries not made yet are dropped."""
        return await self._send(_calls.delete_webhook(webhook_id))

    async def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        """Queue a ``webhook.test`` delivery (returned ``pending``; the worker sends it)."""
        return await self._send(_calls.test_webhook(webhook_id))

    async def list_webhook_deliveries(self, webhook_id: str) -> builtins.list[WebhookDelivery]:
        """The webhook's last 50 deliveries, newest first, with their attempts."""
        return await self._send(_calls.list_webhook_deliveries(webhook_id))
