"""Where the SDK finds its hub and token, and how patient it is.

Each setting comes from the constructor's argument when given, else from the environment:

- ``JUPYTER_TUNNELS_HUB``: the hub's base URL, e.g. ``http://127.0.0.1:8765``. The API lives
  under ``/v1`` of it; a URL that already ends in ``/v1`` is accepted too. A hub mounted inside
  jupyter-server has a path prefix (``http://host:8888/tunnels``), which is kept.
- ``JUPYTER_TUNNELS_TOKEN``: the API token (``jupyter-tunnels token create NAME`` makes one).

Empty values count as unset. The hub URL is required when the client is made; the token only
when a call needs it (``health`` does not), so a missing token is reported by the first call
that does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from .._core.env import HUB_URL_ENV, TOKEN_ENV
from ._exceptions import ConfigurationError

__all__ = [
    "API_PREFIX",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_TIMEOUT",
    "HUB_URL_ENV",
    "MAX_RETRY_DELAY",
    "TOKEN_ENV",
    "ClientConfig",
]

API_PREFIX = "/v1"
"""Path of the API under the hub's base URL."""
DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for connecting, sending, and each read of an answer."""
DEFAULT_RETRIES = 3
"""Extra attempts after a connection failure (see the clients' docstrings for which)."""
DEFAULT_RETRY_BACKOFF = 0.25
"""Seconds before the first retry; each further retry waits twice as long."""
MAX_RETRY_DELAY = 5.0
"""The longest wait between two attempts."""


@dataclasses.dataclass(frozen=True)
class ClientConfig:
    """The settings a client runs with, resolved and checked."""

    hub_url: str
    """The hub's base URL, without a trailing slash or ``/v1``."""
    token: str | None = dataclasses.field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF

    @classmethod
    def resolve(
        cls,
        hub_url: str | None,
        token: str | None,
        *,
        timeout: float,
        retries: int,
        retry_backoff: float,
        environ: Mapping[str, str] = os.environ,
    ) -> ClientConfig:
        """Combine arguments with the environment; raise :class:`ConfigurationError` if unusable."""
        url = _setting(hub_url, environ.get(HUB_URL_ENV))
        if url is None:
            raise ConfigurationError(
                f"no hub URL: pass hub_url=... or set {HUB_URL_ENV} "
                "(e.g. http://127.0.0.1:8765; start a hub with `jupyter-tunnels hub`)"
            )
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout}")
        if retries < 0:
            raise ConfigurationError(f"retries must be 0 or more, not {retries}")
        if retry_backoff < 0:
            raise ConfigurationError(f"retry_backoff must be 0 or more, not {retry_backoff}")
        return cls(
            hub_url=normalize_hub_url(url),
            token=_setting(token, environ.get(TOKEN_ENV)),
            timeout=float(timeout),
            retries=retries,
            retry_backoff=float(retry_backoff),
        )

    def require_token(self) -> str:
        """Return the API token, or explain how to provide one."""
        if self.token is None:
            raise ConfigurationError(
                f"no API token: pass token=... or set {TOKEN_ENV} "
                "(`jupyter-tunnels token create NAME` makes one)"
            )
        return self.token

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (counted from 0)."""
        return min(MAX_RETRY_DELAY, self.retry_backoff * 2.0**attempt)


def normalize_hub_url(url: str) -> str:
    """Check a hub URL and strip its trailing slash and ``/v1``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"hub URL {url!r} must start with http:// or https://, e.g. http://127.0.0.1:8765"
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"hub URL {url!r} must not have a query or a fragment")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def _setting(argument: str | None, environment: str | None) -> str | None:
    """The argument if given, else the environment's value; blank counts as unset."""
    value = argument if argument is not None else environment
    value = value.strip() if value is not None else None
    return value or None
