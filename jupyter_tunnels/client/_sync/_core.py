# Generated from jupyter_tunnels/client/_async/_core.py by scripts/unasync.py: do not edit.
# Change the async module, then run `python scripts/unasync.py`.
"""What every method stands on: the httpx client a call goes through, its retries, closing.

The methods themselves, one per API operation, are in the modules beside this one; each builds
a :class:`~jupyter_tunnels.client._calls.Call` and hands it to :meth:`ClientCore._send`.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import TypeVar

import httpx

from .._base import BaseTunnelsClient
from .._calls import Call
from .._config import DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT
from .._exceptions import ConfigurationError

__all__ = ["ClientCore"]

T = TypeVar("T")
C = TypeVar("C", bound="ClientCore")


class ClientCore(BaseTunnelsClient):
    """Sends calls over an :class:`httpx.Client` it owns or is given, and closes it.

    The constructor's arguments are described by :class:`TunnelsClient`.
    """

    def __init__(
        self,
        hub_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            hub_url, token, timeout=timeout, retries=retries, retry_backoff=retry_backoff
        )
        if transport is not None and http_client is not None:
            raise ConfigurationError("give transport= or http_client=, not both")
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(transport=transport)

    def close(self) -> None:
        """Close the connections (an ``http_client`` passed in stays open)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self: C) -> C:
        """Return the client itself, to be closed when the block ends."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the client."""
        self.close()

    def _send(self, call: Call[T]) -> T:
        """Send ``call``, retrying as :class:`TunnelsClient` says, and read its answer."""
        request = self._build_request(self._http, call)
        attempt = 0
        while True:
            try:
                response = self._http.send(request)
            # A try in a loop costs nothing next to a network round trip.
            except httpx.RequestError as error:  # noqa: PERF203
                delay = self._retry_delay(request, error, attempt)
                if delay is None:
                    raise self._transport_error(request, error, attempt + 1) from error
                attempt += 1
                time.sleep(delay)
            else:
                return self._read(call, response)
