"""jupyter-tunnels: expose services running in Jupyter, share them, and reach them from afar.

The public API is what this module exports: the SDK (:class:`TunnelsClient`,
:class:`AsyncTunnelsClient`), its exceptions (rooted at :class:`TunnelError`) and the models
its methods return, plus the kernel side: :func:`expose` / :func:`aexpose` (an
:class:`ExposedTunnel`), :func:`run` / :func:`arun` (start an app and expose it) and the
``%tunnel`` magic (``%load_ext jupyter_tunnels``). Importing it is cheap: the hub, the
connector and the Jupyter hooks load only when used.
"""

import importlib
import typing

from ._core.errors import ErrorCode
from ._core.models import (
    Access,
    Agent,
    DeliveryStatus,
    Health,
    HeartbeatAction,
    HeartbeatResponse,
    Lease,
    LeaseGrant,
    LeaseStatus,
    Protocol,
    ReachConnection,
    ReachStatus,
    RelayLease,
    RelayLeaseGrant,
    RelayLeaseStatus,
    RequestLogEntry,
    Share,
    ShareExpiration,
    ShareGrant,
    Target,
    Tunnel,
    TunnelMetrics,
    TunnelReadiness,
    TunnelStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookGrant,
    WorkerToken,
)
from ._version import __version__

if typing.TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .client import (
        APIError,
        AsyncTunnelsClient,
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
        TunnelProvider,
        TunnelsClient,
        UnexpectedResponse,
    )
    from .kernel import ExposedTunnel, aexpose, arun, connection, expose, run

_KERNEL_NAMES = frozenset({"ExposedTunnel", "aexpose", "arun", "connection", "expose", "run"})
"""Exported names from ``.kernel``; every other name of ``__all__`` not defined here is from
``.client``. Both load on first use: the SDK (and httpx under it) and the kernel side are not
needed by the hub and connector processes, which import this package too."""


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = ".kernel" if name in _KERNEL_NAMES else ".client"
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "APIError",
    "Access",
    "Agent",
    "AsyncTunnelsClient",
    "AuthenticationError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "DeliveryStatus",
    "ErrorCode",
    "ExposedTunnel",
    "Gone",
    "Health",
    "HeartbeatAction",
    "HeartbeatResponse",
    "HubTimeout",
    "HubUnreachable",
    "IllegalTransition",
    "Lease",
    "LeaseExpired",
    "LeaseGrant",
    "LeaseInactive",
    "LeaseStatus",
    "NotFound",
    "Protocol",
    "ReachConnection",
    "ReachStatus",
    "RelayLease",
    "RelayLeaseGrant",
    "RelayLeaseStatus",
    "RequestLogEntry",
    "ServerError",
    "Share",
    "ShareExpiration",
    "ShareGrant",
    "SlugTaken",
    "Target",
    "TransportError",
    "Tunnel",
    "TunnelError",
    "TunnelMetrics",
    "TunnelProvider",
    "TunnelReadiness",
    "TunnelStatus",
    "TunnelsClient",
    "UnexpectedResponse",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookGrant",
    "WorkerToken",
    "__version__",
    "aexpose",
    "arun",
    "connection",
    "expose",
    "load_ipython_extension",
    "run",
    "unload_ipython_extension",
]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Where jupyter-server finds the extension (imported only when the server asks)."""
    from .jupyter import TunnelsApp

    return [{"module": "jupyter_tunnels", "app": TunnelsApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the built side panel (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jupyter-tunnels"}]


def load_ipython_extension(ipython: "InteractiveShell") -> None:
    """``%load_ext jupyter_tunnels``: register the ``%tunnel`` magic (docs/kernel.md)."""
    from .kernel._magic import load

    load(ipython)


def unload_ipython_extension(ipython: "InteractiveShell") -> None:
    """``%unload_ext jupyter_tunnels``: remove the ``%tunnel`` magic."""
    from .kernel._magic import unload

    unload(ipython)
