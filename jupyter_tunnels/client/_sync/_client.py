# Generated from jupyter_tunnels/client/_async/_client.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""The client class: the hub's own operation here, every other one from the modules beside it."""

from __future__ import annotations

from ..._core.models import Health
from .. import _calls
from ._leases import LeaseMethods
from ._shares import ShareMethods
from ._tunnels import TunnelMethods
from ._webhooks import WebhookMethods

__all__ = ["TunnelsClient"]


class TunnelsClient(TunnelMethods, ShareMethods, LeaseMethods, WebhookMethods):
    """Script everything a hub does: tunnels, agent leases, relay leases. Blocking.

    ::

        with TunnelsClient() as client:  # JUPYTER_TUNNELS_HUB, JUPYTER_TUNNELS_TOKEN
            tunnel = client.create(8050, name="dashboard")
            print(tunnel.url)

    :param hub_url: the hub's base URL; defaults to ``$JUPYTER_TUNNELS_HUB``.
    :param token: the API token; defaults to ``$JUPYTER_TUNNELS_TOKEN``. Only ``health`` works
        without one.
    :param timeout: seconds to wait to connect, to send, and for each read of an answer.
    :param retries: extra attempts after a connection failure. A call that could not connect is
        retried whatever its method, since nothing reached the hub; a call whose connection
        broke after the request went out is retried only if its method is idempotent (GET,
        PUT, PATCH, DELETE); a hub that is slow to answer is not retried.
    :param retry_backoff: seconds before the first retry; each next one waits twice as long.
    :param transport: an :class:`httpx.BaseTransport` to send through (tests, custom TLS).
    :param http_client: an :class:`httpx.Client` to use instead of the client's own; it
        is left open by :meth:`close`.
    :raises ConfigurationError: no hub URL, a malformed one, or a negative setting.
    """

    def health(self) -> Health:
        """The hub's status, version, uptime and store; with a token, the caller's counts."""
        return self._send(_calls.health())
