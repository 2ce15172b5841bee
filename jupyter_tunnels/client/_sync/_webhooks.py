# Generated from jupyter_tunnels/client/_async/_webhooks.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""Webhooks: signed POSTs of the hub's events to a URL of yours, and their deliveries."""

from __future__ import annotations

import builtins  # the client has a method named list: annotations say builtins.list
from collections.abc import Sequence

from ..._core.models import Webhook, WebhookDelivery, WebhookEvent, WebhookGrant
from .. import _calls
from ._core import ClientCore

__all__ = ["WebhookMethods"]


class WebhookMethods(ClientCore):
    """The methods of :class:`TunnelsClient` for ``/v1/webhooks``."""

    def create_webhook(
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
        return self._send(_calls.create_webhook(url, events, description=description))

    def list_webhooks(self) -> builtins.list[Webhook]:
        """The caller's webhooks, oldest first (without their secrets)."""
        return self._send(_calls.list_webhooks())

    def get_webhook(self, webhook_id: str) -> Webhook:
        """One webhook (without its secret)."""
        return self._send(_calls.get_webhook(webhook_id))

    def delete_webhook(self, webhook_id: str) -> Webhook:
        """Delete a webhook; deliveries not made yet are dropped."""
        return self._send(_calls.delete_webhook(webhook_id))

    def test_webhook(self, webhook_id: str) -> WebhookDelivery:
        """Queue a ``webhook.test`` delivery (returned ``pending``; the worker sends it)."""
        return self._send(_calls.test_webhook(webhook_id))

    def list_webhook_deliveries(self, webhook_id: str) -> builtins.list[WebhookDelivery]:
        """The webhook's last 50 deliveries, newest first, with their attempts."""
        return self._send(_calls.list_webhook_deliveries(webhook_id))
