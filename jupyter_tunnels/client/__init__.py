"""The Python SDK: :class:`TunnelsClient` (blocking) and :class:`AsyncTunnelsClient` (async).

Both have one method per API operation, with the same names, arguments and typed results (the
models of :mod:`jupyter_tunnels`), and raise the one exception tree rooted at
:class:`TunnelError`. They find the hub and the token in their arguments or in
``JUPYTER_TUNNELS_HUB`` and ``JUPYTER_TUNNELS_TOKEN``.

The async client (``_async/``) runs on asyncio or trio, through anyio; it is the one written by
hand. The blocking client (``_sync/``) is generated from it by ``scripts/unasync.py``, and both
share the request building and answer reading of ``_base.py`` and ``_calls.py``, which do no
I/O.
"""

from ._async import AsyncTunnelsClient
from ._config import HUB_URL_ENV, TOKEN_ENV
from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    Conflict,
    Gone,
    HubTimeout,
    HubUnreachable,
    IllegalTransition,
    LeaseExpired,
    LeaseInactive,
    NotFound,
    ServerError,
    SlugTaken,
    TransportError,
    TunnelError,
    UnexpectedResponse,
)
from ._providers import TunnelProvider
from ._sync import TunnelsClient

__all__ = [
    "HUB_URL_ENV",
    "TOKEN_ENV",
    "APIError",
    "AsyncTunnelsClient",
    "AuthenticationError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "Gone",
    "HubTimeout",
    "HubUnreachable",
    "IllegalTransition",
    "LeaseExpired",
    "LeaseInactive",
    "NotFound",
    "ServerError",
    "SlugTaken",
    "TransportError",
    "TunnelError",
    "TunnelProvider",
    "TunnelsClient",
    "UnexpectedResponse",
]
