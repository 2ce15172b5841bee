"""Who a visitor of a private tunnel is, as Jupyter itself says: the embedded ingress's identities.

Inside a Jupyter server a private tunnel of the local owner is open to every user Jupyter lets
in. The front (``hub/ingress/_front.py``) judges every request of a visitor connection itself,
so for each such request it asks :class:`JupyterIdentities`, which runs **Jupyter's own identity
provider** (whatever the deployment configured: the token, the login cookie, JupyterHub's
OAuth) on a probe handler built from the request's head, exactly as for a request to Jupyter's
API. Nothing is relaxed: the same user, the same cookie validity, the same host check.

A positive answer is remembered for :data:`IDENTITY_CACHE_SECONDS`, keyed by the exact
credentials the request carried (``Host``, ``Authorization``, ``Cookie`` and the ``token``
query parameter): a request with other credentials, such as a browser's first request after
logging out (its login cookie is gone), is asked about afresh, so a logout takes effect at the
next request. A negative answer is never remembered.

Cross-site requests: a request that changes something (not ``GET``, ``HEAD`` or ``OPTIONS``) or
opens a WebSocket and carries no token, only cookies, is refused when its ``Origin`` is another
site than the tunnel's (``403 CROSS_SITE_REQUEST``). Tunnels' apps cannot use Jupyter's XSRF
token (they do not know it); the origin check is the defence that keeps another site's page
from using the visitor's Jupyter login against a private tunnel.
"""

from __future__ import annotations

import collections
import inspect
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from jupyter_server.base.handlers import JupyterHandler
from tornado import httputil, web

from .._core.errors import ErrorCode
from .._wire.http1 import RequestHead
from ..hub._exceptions import HubError
from ..hub.ingress._login import foreign_origin
from ..hub.services._routing import Router

__all__ = ["IDENTITY_CACHE_SECONDS", "MAX_REMEMBERED", "JupyterIdentities"]

IDENTITY_CACHE_SECONDS = 2.0
"""How long Jupyter's yes for exactly these credentials is remembered."""
MAX_REMEMBERED = 1024
"""Credentials remembered at most (the oldest are forgotten first)."""

Credentials = tuple[bytes, bytes, bytes, bytes]


class _ProbeConnection(httputil.HTTPConnection):
    """The connection a probe request claims to have come on (it is never written to)."""

    def __init__(self, remote_ip: str, protocol: str) -> None:
        self.context = self
        self.remote_ip = remote_ip
        self.protocol = protocol

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        """Nothing to close."""


class _Probe(JupyterHandler):
    """A Jupyter handler that only ever answers who the request's user is."""


class JupyterIdentities:
    """The embedded ingress's :class:`~jupyter_tunnels.hub.ingress.Identities`.

    ``local_owner`` gives the local owner's id (every Jupyter user acts as it); ``router``
    knows the hub's own API tokens, which also open the owner's private tunnels.
    """

    def __init__(
        self,
        application: web.Application,
        router: Router,
        local_owner: Callable[[], str | None],
        protocol: str = "http",
    ) -> None:
        self.application = application
        self.router = router
        self.local_owner = local_owner
        self.protocol = protocol
        self._yes: collections.OrderedDict[Credentials, float] = collections.OrderedDict()

    def known(self, head: RequestHead, bearer: str | None) -> tuple[bool, str | None]:
        """The owner from memory: a hub token in the router's cache, or Jupyter's recent yes."""
        if bearer:
            known, owner = self.router.cached_owner(bearer)
            if owner is not None:
                return True, owner
            if not known:
                return False, None
        _refuse_cross_site(head)
        until = self._yes.get(_credentials(head))
        if until is not None and until > time.monotonic():
            return True, self.local_owner()
        return False, None

    async def resolve(self, head: RequestHead, bearer: str | None) -> str | None:
        """Ask the store about a hub token, then Jupyter's identity provider."""
        if bearer:
            owner = await self.router.owner_for_token(bearer)
            if owner is not None:
                return owner
        _refuse_cross_site(head)
        if await self.jupyter_user(head) is None:
            return None
        self._remember(_credentials(head))
        return self.local_owner()

    async def jupyter_user(self, head: RequestHead, remote_ip: str = "") -> Any:
        """Jupyter's user for a request with this head, or None (no redirect, no 403)."""
        fields = httputil.HTTPHeaders()
        for name, value in head.fields:
            fields.add(name.decode("latin-1"), value.decode("latin-1"))
        start = httputil.RequestStartLine(
            head.method.decode("latin-1"), head.target.decode("latin-1"), head.version.decode()
        )
        try:
            request = httputil.HTTPServerRequest(
                headers=fields,
                start_line=start,
                connection=_ProbeConnection(remote_ip, self.protocol),
            )
        except httputil.HTTPInputError:
            return None
        handler = _Probe(self.application, request)
        if not handler.check_host():
            return None
        user: Any = handler.identity_provider.get_user(handler)
        if inspect.isawaitable(user):
            user = await user
        return user

    def _remember(self, credentials: Credentials) -> None:
        self._yes[credentials] = time.monotonic() + IDENTITY_CACHE_SECONDS
        self._yes.move_to_end(credentials)
        while len(self._yes) > MAX_REMEMBERED:
            self._yes.popitem(last=False)


def _credentials(head: RequestHead) -> Credentials:
    target = head.target
    token = b""
    if b"token=" in target:
        query = target.partition(b"?")[2].decode("latin-1")
        token = dict(parse_qsl(query)).get("token", "").encode("latin-1")
    cookie = b"; ".join(value for name, value in head.fields if name.lower() == b"cookie")
    return head.host.lower(), head.get(b"authorization") or b"", cookie, token


def _refuse_cross_site(head: RequestHead) -> None:
    """Refuse a cookie-only request that changes something, or opens a WebSocket, and comes
    from another site (:func:`~..hub.ingress._login.foreign_origin`)."""
    if head.get(b"authorization") is not None or b"token=" in head.target:
        return
    origin = foreign_origin(head)
    if origin is not None:
        raise HubError(
            ErrorCode.CROSS_SITE_REQUEST,
            f"a {'WebSocket' if head.upgrade else head.method.decode()} from {origin} with "
            "Jupyter's login is refused: another site may not act on a private tunnel for "
            "its visitor",
        )
