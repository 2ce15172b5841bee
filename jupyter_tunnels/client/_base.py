"""What the sync and async clients share, none of it I/O.

:class:`BaseTunnelsClient` holds the configuration, turns a :class:`~._calls.Call` into an
:class:`httpx.Request`, reads an :class:`httpx.Response` into a model or the right exception,
and decides whether a failed attempt may be retried. :class:`~._sync.TunnelsClient` and
:class:`~._async.AsyncTunnelsClient` only add the sending and the waiting.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
import pydantic

from .._version import __version__
from ._calls import Call
from ._config import API_PREFIX, HUB_URL_ENV, ClientConfig
from ._exceptions import (
    HubTimeout,
    HubUnreachable,
    TransportError,
    UnexpectedResponse,
    api_error,
)

__all__ = ["IDEMPOTENT_METHODS", "USER_AGENT", "BaseTunnelsClient"]

T = TypeVar("T")

USER_AGENT = f"jupyter-tunnels/{__version__} (python-httpx/{httpx.__version__})"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
"""Methods whose repetition changes nothing more; ``PATCH`` too, as this API's sets fields."""

_NOT_CONNECTED = (httpx.ConnectError, httpx.ConnectTimeout)
"""Failures that happen before the request leaves: the hub has seen nothing."""
_CONNECTION_BROKEN = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
"""Failures after the request may have reached the hub."""


class BaseTunnelsClient:
    """Configuration, request building, answer reading and the retry rule; no I/O."""

    _config: ClientConfig

    def __init__(
        self,
        hub_url: str | None,
        token: str | None,
        *,
        timeout: float,
        retries: int,
        retry_backoff: float,
    ) -> None:
        self._config = ClientConfig.resolve(
            hub_url, token, timeout=timeout, retries=retries, retry_backoff=retry_backoff
        )

    @property
    def hub_url(self) -> str:
        """The hub's base URL (the API is under its ``/v1``)."""
        return self._config.hub_url

    @property
    def timeout(self) -> float:
        """Seconds each call may wait to connect, to send, and for each read of the answer."""
        return self._config.timeout

    @property
    def retries(self) -> int:
        """Extra attempts a call may make after a connection failure."""
        return self._config.retries

    def __repr__(self) -> str:
        return f"{type(self).__name__}(hub_url={self.hub_url!r})"

    def _build_request(
        self, http: httpx.Client | httpx.AsyncClient, call: Call[Any]
    ) -> httpx.Request:
        """The request for ``call``, with its credentials; raises if a needed token is missing."""
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        token = call.token
        if token is None:
            token = self._config.token if call.public else self._config.require_token()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return http.build_request(
            call.method,
            f"{self._config.hub_url}{API_PREFIX}{call.path}",
            params=dict(call.params) or None,
            json=None if call.json is None else dict(call.json),
            headers=headers,
            timeout=self._config.timeout,
        )

    def _retry_delay(
        self, request: httpx.Request, error: httpx.RequestError, attempt: int
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up.

        ``attempt`` counts the retries made so far. A failure to connect (refused, or timed
        out while connecting) is retried whatever the method, since nothing reached the hub; a
        connection that broke after the request went out is retried only for idempotent
        methods; a hub that is slow to answer is not retried.
        """
        if attempt >= self._config.retries:
            return None
        if isinstance(error, _NOT_CONNECTED):
            return self._config.retry_delay(attempt)
        if isinstance(error, _CONNECTION_BROKEN) and request.method in IDEMPOTENT_METHODS:
            return self._config.retry_delay(attempt)
        return None

    def _transport_error(
        self, request: httpx.Request, error: httpx.RequestError, attempts: int
    ) -> TransportError:
        """The SDK's exception for a request that failed on the network."""
        call = f"{request.method} {request.url.path}"
        tries = f" (tried {attempts} times)" if attempts > 1 else ""
        reason = str(error).rstrip(".") or type(error).__name__
        if isinstance(error, _NOT_CONNECTED):
            return HubUnreachable(
                f"cannot reach the hub at {self.hub_url} for {call}: {reason}{tries}; "
                f"is the hub running, and is the URL (hub_url= or {HUB_URL_ENV}) right?",
                request=request,
                attempts=attempts,
            )
        if isinstance(error, httpx.TimeoutException):
            return HubTimeout(
                f"the hub at {self.hub_url} did not answer {call} within "
                f"{self._config.timeout:g} s; pass a longer timeout= if it is just slow",
                request=request,
                attempts=attempts,
            )
        outcome = (
            ""
            if request.method in IDEMPOTENT_METHODS
            else "; the hub may or may not have carried it out: check before trying again"
        )
        return TransportError(
            f"the connection to the hub at {self.hub_url} failed during {call}: "
            f"{reason}{tries}{outcome}",
            request=request,
            attempts=attempts,
        )

    def _read(self, call: Call[T], response: httpx.Response) -> T:
        """The result of ``call`` from its answer, or the :class:`APIError` the answer means."""
        if not response.is_success:
            raise api_error(response)
        try:
            return call.parse(response.json())
        except ValueError as exc:
            raise UnexpectedResponse(
                f"the hub at {self.hub_url} answered {call.method} {API_PREFIX}{call.path} "
                f"with a body this SDK (version {__version__}) cannot read: {_first_problem(exc)}",
                response=response,
            ) from exc


def _first_problem(error: ValueError) -> str:
    """One line saying what is wrong with a body (pydantic's messages are long)."""
    if isinstance(error, pydantic.ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    if isinstance(error, json.JSONDecodeError):
        return f"it is not JSON ({error.msg})"
    return str(error) or type(error).__name__
