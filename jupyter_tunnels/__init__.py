"""jupyter-tunnels: expose services running in Jupyter, share them, and reach them from afar.

The public API is what this module exports: the SDK (:class:`TunnelsClient`,
:class:`AsyncTunnelsClient`), its exceptions (rooted at :class:`TunnelError`) and the models
its methods return. Importing it is cheap: the hub, the connector and the Jupyter hooks load
only when used.
"""

from ._errors import ErrorCode
from ._models import (
    Access,
    Agent,
    Health,
    HeartbeatAction,
    HeartbeatResponse,
    Lease,
    LeaseGrant,
    LeaseStatus,
    Protocol,
    RelayLease,
    RelayLeaseGrant,
    RelayLeaseStatus,
    Target,
    Tunnel,
    TunnelStatus,
    WorkerToken,
)
from ._version import __version__
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

__all__ = [
    "APIError",
    "Access",
    "Agent",
    "AsyncTunnelsClient",
    "AuthenticationError",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "ErrorCode",
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
    "RelayLease",
    "RelayLeaseGrant",
    "RelayLeaseStatus",
    "ServerError",
    "SlugTaken",
    "Target",
    "TransportError",
    "Tunnel",
    "TunnelError",
    "TunnelProvider",
    "TunnelStatus",
    "TunnelsClient",
    "UnexpectedResponse",
    "WorkerToken",
    "__version__",
]


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Where jupyter-server finds the extension (imported only when the server asks)."""
    from .jupyter import TunnelsApp

    return [{"module": "jupyter_tunnels", "app": TunnelsApp}]
