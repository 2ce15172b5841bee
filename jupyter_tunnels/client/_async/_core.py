"""What every method stands on: the httpx client a call goes through, its retries, closing.

The methods themselves, one per API operation, are in the modules beside this one; each builds
a :class:`~jupyter_tunnels.client._calls.Call` and hands it to :meth:`AsyncClientCore._send`.
"""

from __future__ import annotations

from types import TracebackType
from typing import TypeVar

import anyio
import httpx

from .._base import BaseTunnelsClient
from .._calls import Call
from .._config import DEFAULT_RETRIES, DEFAULT_RETRY_BACKOFF, DEFAULT_TIMEOUT
from .._exceptions import ConfigurationError

__all__ = ["AsyncClientCore"]

T = TypeVar("T")
C = TypeVar("C", bound="AsyncClientCore")


class AsyncClientCore(BaseTunnelsClient):
    """Sends calls over an :class:`httpx.AsyncClient` it owns or is given, and closes it.

    The constructor's arguments are described by :class:`AsyncTunnelsClient`.
    """

    def __init__(
        self,
        hub_url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            hub_url, token, timeout=timeout, retries=retries, retry_backoff=retry_backoff
        )
        if transport is not None and http_client is not None:
            raise ConfigurationError("give transport= or http_client=, not both")
        self._owns_http = http_client is None
        self._http = (
            http_client if http_client is not None else httpx.AsyncClient(transport=transport)
        )

    async def aclose(self) -> None:
        """Close the connections (an ``http_client`` passed in stays open)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self: C) -> C:
        """Return the client itself, to be closed when the block ends."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the client."""
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        """Send ``call``, retrying as :class:`AsyncTunnelsClient` says, and read its answer."""
        request = self._build_request(self._http, call)
        attempt = 0
        while True:
            try:
                response = await self._http.send(request)
            # A try in a loop costs nothing next to a network round trip.
            except httpx.RequestError as error:  # noqa: PERF203
                delay = self._retry_delay(request, error, attempt)
                if delay is None:
                    raise self._transport_error(request, error, attempt + 1) from error
                attempt += 1
                await anyio.sleep(delay)
            else:
                return self._read(call, response)
