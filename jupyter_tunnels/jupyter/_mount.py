"""The embedded hub's tornado rules, put behind Jupyter's own authentication.

Decision: the hub's handlers are reused as they are, each wrapped in a class that also derives
from Jupyter's ``APIHandler`` (or ``JupyterHandler`` for the ingress), so Jupyter's identity
provider, token, cookie, XSRF, origin and host checks run exactly as for Jupyter's own API, and
whatever identity provider the deployment configured (JupyterHub's included) is honoured.
The method order puts the hub handler first (JSON envelope, hub logic), then Jupyter's.

API requests are judged in this order:

1. a bearer token the hub itself accepts (the local owner's API token, which only the
   extension's connector holds, or a lease's agent token on its heartbeat route) is served by
   the hub as it would be standalone, with no XSRF check (a bearer header is no ambient
   credential) and without counting as user activity, so the connector's heartbeats do not
   keep an idle server alive;
2. anything else must pass Jupyter's authentication (``Authorization: token …``, ``?token=``,
   or the login cookie plus ``_xsrf``/``X-XSRFToken`` on POST, PATCH, PUT and DELETE) and then
   acts as the local owner; without it Jupyter answers 403.

The ingress (``/t/{slug}``) lets public tunnels through with no credential; a private tunnel of
the local owner needs a Jupyter-authenticated request (or the owner's bearer token). Jupyter's
XSRF check is not applied there: a tunnel's app has its own forms and its own defences. What
the app receives never carries Jupyter's credentials: no ``Authorization``, no ``X-XSRFToken``,
no ``_xsrf`` or login cookies (Jupyter's ``username-*``, JupyterHub's ``jupyterhub-*``), and no
``_xsrf`` or Jupyter ``token`` in the query. The server's own connector's targets are dialled
in-process; other connectors attached to the embedded hub serve through data connections.
The control channel (a WebSocket authenticated by the lease's agent token) is mounted as is,
and so are reach streams (authenticated by their connection's reach token), which reach the
server's own tunnels in-process too.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

from jupyter_server.auth import User
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web

from .._core.errors import ErrorCode
from ..hub import ApiHandler, Hub, IngressHandler
from ..hub.ingress._reach_streams import ReachStreamHandler
from ..hub.services._routing import Route
from ._embedded import EmbeddedHub, Streams

__all__ = ["jupyter_rules"]

Rule = tuple[str, Any, dict[str, Any]]
_STARTING = "the tunnels extension is still starting: try again in a moment"
START_WAIT = 10.0
"""Seconds a request arriving before the extension's start hook waits for it."""
_JUPYTER_FIELDS = frozenset({"authorization", "x-xsrftoken", "x-csrftoken"})
"""Request fields that carry Jupyter credentials (the tunnel's app never sees them)."""
_JUPYTER_COOKIE_PREFIXES = ("username-", "jupyterhub-")
"""Login cookies of Jupyter servers and JupyterHub."""
HUB_TOKEN_USER = User(username="jupyter-tunnels-hub-token")
"""Who a request authenticated by a hub bearer token is, for Jupyter's ``@web.authenticated``."""


async def jupyter_user(handler: JupyterHandler) -> Any:
    """Run Jupyter's identity provider on ``handler``; the user, or None (no redirect, no 403)."""
    if not handler.check_host():
        return None
    user: Any = handler.identity_provider.get_user(handler)
    if inspect.isawaitable(user):
        user = await user
    handler.current_user = user
    handler._jupyter_current_user = user  # Jupyter's marker that authentication has run
    return user


class JupyterApiMixin(ApiHandler):
    """Hub API handler behind Jupyter's authentication (combined with ``APIHandler``)."""

    embedded: EmbeddedHub
    _by_jupyter: bool
    _by_hub_token: bool

    # tornado passes the route's kwargs: the mounted rules add ``embedded`` to the hub's own
    def initialize(self, hub: Hub, embedded: EmbeddedHub) -> None:  # type: ignore[override]
        """Receive the embedded state (tornado calls this per request); serve its hub."""
        super().initialize(embedded.hub)
        self.embedded = embedded
        self._by_jupyter = False
        self._by_hub_token = False

    def set_default_headers(self) -> None:
        """Jupyter's security headers (CSP, CORS), then the hub's JSON headers."""
        APIHandler.set_default_headers(cast(APIHandler, self))
        super().set_default_headers()

    async def prepare(self) -> None:
        """A bearer token the hub accepts, else Jupyter's authentication; then the hub's checks."""
        token = self.bearer_token()
        started = await self.embedded.wait_ready(START_WAIT)
        self._by_hub_token = started and token is not None and await self._hub_accepts(token)
        if self._by_hub_token:
            self.current_user = HUB_TOKEN_USER
        else:
            await APIHandler.prepare(cast(APIHandler, self))
            if self.current_user is None:  # also when allow_unauthenticated_access is on
                raise web.HTTPError(403, "log in to Jupyter or send its token")
            self._by_jupyter = True
        if not started:
            raise web.HTTPError(503, _STARTING)
        await super().prepare()

    async def _hub_accepts(self, token: str) -> bool:
        if await self.hub.owner_for_token(token) is not None:
            return True
        return await super().authorize_other(token)

    async def authorize_other(self, token: str | None) -> bool:
        """A Jupyter-authenticated request acts as the local owner."""
        if self._by_jupyter:
            self.owner_id = self.embedded.owner_id
            return True
        return await super().authorize_other(token)

    def update_api_activity(self) -> None:
        """Only people and kernels count as activity, not the connector's heartbeats."""
        if not self._by_hub_token:
            APIHandler.update_api_activity(cast(APIHandler, self))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Jupyter's refusals (403, 503) in the API's ``{code, message, details}`` envelope."""
        if status_code not in (401, 403, 503):
            super().write_error(status_code, **kwargs)
            return
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(error, "log_message", None) or self._reason
        if status_code == 503:
            code = ErrorCode.AGENT_UNAVAILABLE
        elif getattr(self, "current_user", None) is None:
            code = ErrorCode.MISSING_AUTH
        else:  # authenticated by cookie, but no XSRF token or a foreign origin
            code = ErrorCode.INVALID_TOKEN
        self.set_status(status_code)
        self.finish({"code": code.value, "message": message, "details": None})


class JupyterIngressMixin(IngressHandler):
    """Hub ingress inside Jupyter: Jupyter users reach the local owner's private tunnels, the
    server's own connector's tunnels are dialled in-process, and Jupyter's credentials stay
    behind."""

    embedded: EmbeddedHub

    # tornado passes the route's kwargs: the mounted rules add ``embedded`` to the hub's own
    def initialize(self, hub: Hub, embedded: EmbeddedHub) -> None:  # type: ignore[override]
        """Receive the embedded state (tornado calls this per request); serve its hub."""
        super().initialize(embedded.hub)
        self.embedded = embedded

    def check_xsrf_cookie(self) -> None:
        """No Jupyter XSRF check on tunnel traffic: the tunnel's app has its own defences."""

    async def authorize_private(self, tunnel_id: str, token: str) -> bool:
        """The owner's bearer token, or Jupyter's authentication for the local owner's tunnels."""
        if await super().authorize_private(tunnel_id, token):
            return True
        owner = self.embedded.owner_id
        if owner is None or owner != await self.hub.tunnels.owner_of(tunnel_id):
            return False
        return await jupyter_user(cast(JupyterHandler, self)) is not None

    async def open_upstream(self, route: Route) -> Streams:
        """The server's own tunnels: a direct connection to the target, no hop through a
        connector; other connectors' tunnels: through their data connections."""
        if not self.embedded.dials(route):
            return await super().open_upstream(route)
        return await self.embedded.dial(route)

    def forwarded_fields(self) -> list[tuple[str, str]]:
        """The visitor's fields without Jupyter's: no Authorization, XSRF or login cookies."""
        fields: list[tuple[str, str]] = []
        for name, value in super().forwarded_fields():
            lowered = name.lower()
            if lowered in _JUPYTER_FIELDS:
                continue
            if lowered == "cookie":
                value = "; ".join(
                    part for part in value.split(";") if not self._is_jupyter_cookie(part)
                ).strip()
                if not value:
                    continue
            fields.append((name, value))
        return fields

    def forwarded_query(self) -> str:
        """The query without ``_xsrf`` and without Jupyter's own ``token``."""
        query = super().forwarded_query()
        if not query:
            return query
        jupyter_token = cast(JupyterHandler, self).token
        kept = [
            (name, value)
            for name, value in parse_qsl(query, keep_blank_values=True)
            if name != "_xsrf" and not (name == "token" and value == jupyter_token)
        ]
        return urlencode(kept)

    def visitor_arrived(self) -> None:
        """A visitor's request is activity of the server (its idle culler sees it)."""
        self.settings["api_last_activity"] = datetime.now(timezone.utc)

    def _is_jupyter_cookie(self, part: str) -> bool:
        name = part.split("=", 1)[0].strip()
        login = cast(JupyterHandler, self).identity_provider.get_cookie_name(self)
        return name in ("_xsrf", login) or name.startswith(_JUPYTER_COOKIE_PREFIXES)


class JupyterReachMixin(ReachStreamHandler):
    """Reach streams inside Jupyter: the server's own tunnels are dialled in-process."""

    embedded: EmbeddedHub

    # tornado passes the route's kwargs: the mounted rules add ``embedded`` to the hub's own
    def initialize(self, hub: Hub, embedded: EmbeddedHub) -> None:  # type: ignore[override]
        """Receive the embedded state (tornado calls this per request); serve its hub."""
        super().initialize(embedded.hub)
        self.embedded = embedded

    async def open_upstream(self, route: Route) -> tuple[asyncio.Transport, bytes]:
        """The server's own tunnels: straight to the target; others: through their connector."""
        if not self.embedded.dials(route):
            return await super().open_upstream(route)
        return await self.embedded.dial_raw(route), b""


class _CurrentHub:
    """Serves the embedded hub current at request time (it is replaced when the port moves)."""

    def initialize(self, hub: Hub, embedded: EmbeddedHub) -> None:
        """Pass the embedded hub on to the wrapped handler."""
        # a mixin: the handler class it is combined with (``type(...)`` at mount time) has it
        super().initialize(embedded.hub)  # type: ignore[misc]


def _decorate(handler: type[web.RequestHandler], decorator: Callable[[Any], Any]) -> dict[str, Any]:
    """The handler's HTTP methods wrapped in ``decorator``, so Jupyter sees how each is guarded.

    (jupyter-server warns about extension endpoints whose methods say nothing about auth.)
    """
    verbs: dict[str, Any] = {}
    for verb in handler.SUPPORTED_METHODS:
        method = getattr(handler, verb.lower())
        if method is not web.RequestHandler._unimplemented_method:
            verbs[verb.lower()] = decorator(method)
    return verbs


def jupyter_rules(embedded: EmbeddedHub, prefix: str) -> list[Rule]:
    """The embedded hub's rules under ``prefix``, API and ingress behind Jupyter's auth."""
    rules: list[Rule] = []
    for pattern, handler, kwargs in embedded.hub.rules(prefix):
        if issubclass(handler, ApiHandler):
            bases: tuple[type, ...] = (JupyterApiMixin, handler, APIHandler)
            verbs = _decorate(handler, web.authenticated)
        elif issubclass(handler, IngressHandler):  # judges each tunnel's access itself
            bases = (JupyterIngressMixin, handler, JupyterHandler)
            verbs = _decorate(handler, allow_unauthenticated)
        elif issubclass(handler, ReachStreamHandler):  # the reach token is its credential
            bases = (JupyterReachMixin, handler)
            verbs = _decorate(handler, allow_unauthenticated)
        else:  # the control channel: the lease's agent token is its credential
            bases = (_CurrentHub, handler)
            verbs = _decorate(handler, allow_unauthenticated)
        namespace = {"__doc__": handler.__doc__, **verbs}
        wrapped = type(f"Jupyter{handler.__name__}", bases, namespace)
        rules.append((pattern, wrapped, {**kwargs, "embedded": embedded}))
    return rules
