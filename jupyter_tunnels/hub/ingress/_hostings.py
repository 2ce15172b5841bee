"""What differs between the hostings of the one ingress policy (``_policy.py``): their settings,
as data (:class:`PolicySettings`), and who a request comes from (:class:`Identities`; the
standalone hub's :class:`BearerOwners`, inside Jupyter ``jupyter/_identity.py``)."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from ..._wire.http1 import RequestHead
from .._config import DEFAULT_HEAD_TIMEOUT, DEFAULT_MAX_UNFINISHED_HEADS, HubConfig
from ..services._routing import Router
from ._rewrite import JUPYTER_NEIGHBOURS, ForeignCredentials

__all__ = ["BearerOwners", "Identities", "PolicySettings"]


class Identities(Protocol):
    """Who a request comes from, as the hosting can tell: the owner it acts for."""

    def known(self, head: RequestHead, bearer: str | None) -> tuple[bool, str | None]:
        """``(known, owner_id)`` from what is in memory, without I/O; ``known`` is False when
        only :meth:`resolve` can tell. May raise :class:`~..._exceptions.HubError` to refuse
        the request outright."""

    async def resolve(self, head: RequestHead, bearer: str | None) -> str | None:
        """The owner the request acts for, or None (may ask the store or the hosting)."""


class BearerOwners:
    """The standalone hub's identities: the owner of the API token sent as a bearer, from
    the router's short cache, else the store."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def known(self, head: RequestHead, bearer: str | None) -> tuple[bool, str | None]:
        """See :meth:`Identities.known`."""
        if not bearer:
            return True, None
        return self.router.cached_owner(bearer)

    async def resolve(self, head: RequestHead, bearer: str | None) -> str | None:
        """See :meth:`Identities.resolve`."""
        return await self.router.owner_for_token(bearer) if bearer else None


@dataclasses.dataclass(frozen=True)
class PolicySettings:
    """What differs between hostings, as data."""

    scheme: bytes
    """``http`` or ``https``: how visitors reach the hub (``X-Forwarded-Proto``, cookies)."""
    mount: bytes = b""
    """The path the hub's own paths start under on this port (``/tunnels`` inside Jupyter)."""
    domain: bytes | None = None
    """Subdomain routing: tunnels are ``{slug}.{domain}``."""
    hub_name: bytes = b""
    """The hub's own host name, which is never a tunnel even under ``domain``."""
    foreign: ForeignCredentials = JUPYTER_NEIGHBOURS
    """The hosting's own credentials, kept from tunnels' apps (standalone: the XSRF and login
    cookies of Jupyter servers and JupyterHubs on the same domain)."""
    tell_hub_the_client: bool = True
    """Set ``X-Real-Ip`` on requests for the hub itself (the standalone API sits behind the
    front); False when the hub's host is a server that sees the connection itself."""
    login_hint: str = "send its token as a bearer"
    """How a visitor turned away from a private tunnel can get in."""
    login_url: bytes | None = None
    """Where a browser turned away from a private tunnel logs in (inside Jupyter: Jupyter's
    login page, which sends it back to ``?next=``); None: the hub's own login page."""
    authorize_path: bytes | None = None
    """Tunnels at ``{slug}.{domain}`` inside Jupyter (``domain`` is ``localhost``): the page
    that lets a browser in with a one-time code (``_origin.py``); None: no such logins."""
    jupyter_host: bytes = b"localhost"
    """The loopback name Jupyter's own pages are reached at (where its login cookie is)."""
    head_timeout: float = DEFAULT_HEAD_TIMEOUT
    """Seconds a visitor has to send a whole request head."""
    max_unfinished_heads: int = DEFAULT_MAX_UNFINISHED_HEADS
    """Unfinished request heads one client address may hold at once."""

    @classmethod
    def of(cls, config: HubConfig, **changes: Any) -> PolicySettings:
        """The settings of a hub with this configuration (``changes`` for the hosting)."""
        settings = cls(
            scheme=config.scheme.encode(),
            domain=config.domain.lower().encode() if config.domain else None,
            hub_name=config.public_host.lower().encode(),
            head_timeout=config.head_timeout,
            max_unfinished_heads=config.max_unfinished_heads,
        )
        return dataclasses.replace(settings, **changes)
