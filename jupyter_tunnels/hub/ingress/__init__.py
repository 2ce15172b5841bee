"""The ingress: one policy (``_policy.py``, no I/O) and one front (``_front.py``, asyncio) for
every hosting, plus what a hosting plugs in: identities, a dialer, its way to the hub's host.
"""

from __future__ import annotations

from ._dialers import AgentDialer, Dialer, DirectDialer, RoutedDialer
from ._engine import HubSide, Ingress, RelayToHub, TakeBack
from ._front import FrontProtocol
from ._handover import GiveBack, HandoverHandler
from ._policy import BearerOwners, Identities, IngressPolicy, PolicySettings
from ._rewrite import ForeignCredentials

__all__ = [
    "AgentDialer",
    "BearerOwners",
    "Dialer",
    "DirectDialer",
    "ForeignCredentials",
    "FrontProtocol",
    "GiveBack",
    "HandoverHandler",
    "HubSide",
    "Identities",
    "Ingress",
    "IngressPolicy",
    "PolicySettings",
    "RelayToHub",
    "RoutedDialer",
    "TakeBack",
]
