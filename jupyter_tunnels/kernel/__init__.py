"""The kernel side: the ``%tunnel`` magic and the Python API behind it (docs/kernel.md).

``%load_ext jupyter_tunnels`` registers the magic; :func:`expose`, :func:`aexpose`, :func:`run`
and :func:`arun` (also at the package's top level) and the other functions here do the same
from code. The kernel finds its Jupyter server by itself and falls back to a connector (and
hub) in the kernel when there is none. Importing this package imports neither IPython nor
the hub: the magic and the in-kernel hub load when first used.
"""

from .._core.app_process import AppFailed
from ._api import (
    Connection,
    aclose_all,
    aconnection,
    aexpose,
    arun,
    atunnel,
    atunnels,
    close_all,
    connection,
    expose,
    run,
    tunnel,
    tunnels,
)
from ._discovery import SERVER_TOKEN_ENV, SERVER_URL_ENV
from ._display import ExposedTunnel, TunnelDetails, TunnelList
from ._errors import AmbiguousName, InvalidArgument, PortNotListening, UnknownTunnel
from ._reach import ReachedPort, aconnect, connect, connections, disconnect
from ._session import shutdown

__all__ = [
    "SERVER_TOKEN_ENV",
    "SERVER_URL_ENV",
    "AmbiguousName",
    "AppFailed",
    "Connection",
    "ExposedTunnel",
    "InvalidArgument",
    "PortNotListening",
    "ReachedPort",
    "TunnelDetails",
    "TunnelList",
    "UnknownTunnel",
    "aclose_all",
    "aconnect",
    "aconnection",
    "aexpose",
    "arun",
    "atunnel",
    "atunnels",
    "close_all",
    "connect",
    "connection",
    "connections",
    "disconnect",
    "expose",
    "run",
    "shutdown",
    "tunnel",
    "tunnels",
]
