"""The embedded hub's tornado rules, put behind Jupyter's own authentication.

Decision: the hub's API handlers are reused as they are, each wrapped in a class that also
derives from Jupyter's ``APIHandler``, so Jupyter's identity provider, token, cookie, XSRF,
origin and host checks run exactly as for Jupyter's own API, and whatever identity provider
the deployment configured (JupyterHub's included) is honoured. The method order puts the hub
handler first (JSON envelope, hub logic), then Jupyter's.

API requests are judged in this order:

1. a bearer token the hub itself accepts (the local owner's API token, which only the
   extension's connector holds, or a lease's agent token on its heartbeat route) is served by
   the hub as it would be standalone, with no XSRF check (a bearer header is no ambient
   credential) and without counting as user activity, so the connector's heartbeats do not
   keep an idle server alive;
2. anything else must pass Jupyter's authentication (``Authorization: token …``, ``?token=``,
   or the login cookie plus ``_xsrf``/``X-XSRFToken`` on POST, PATCH, PUT and DELETE) and then
   acts as the local owner; without it Jupyter answers 403.

Tunnel traffic (``/t/{slug}``) and connectors' data connections are not judged here: the
hand-over handler (``hub/ingress/_handover.py``) gives their connections to the ingress's
front, which judges every request with the one policy, Jupyter's login included
(``_identity.py``). The control channel (a WebSocket authenticated by the lease's agent
token) and reach streams (authenticated by their connection's reach token) are mounted as
they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from jupyter_server.auth import User
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from tornado import web

from .._core.errors import ErrorCode
from .._wire.protocol import DATA_PATH
from ..hub import ApiHandler
from ..hub.ingress import HandoverHandler
from ..hub.ingress._handover import Adopt, Spawn
from ..hub.ingress._origin import callback_url
from ..hub.ingress._policy import TUNNEL_PATH
from ._embedded import AUTHORIZE_PATH, EmbeddedHub

__all__ = ["AuthorizeHandler", "jupyter_rules", "serve_origins"]

Rule = tuple[str, Any, dict[str, Any]]
_STARTING = "the tunnels extension is still starting: try again in a moment"
START_WAIT = 10.0
"""Seconds a request arriving before the extension's start hook waits for it."""
HUB_TOKEN_USER = User(username="jupyter-tunnels-hub-token")
"""Who a request authenticated by a hub bearer token is, for Jupyter's ``@web.authenticated``."""


class JupyterApiMixin(ApiHandler):
    """Hub API handler behind Jupyter's authentication (combined with ``APIHandler``)."""

    embedded: EmbeddedHub
    _by_jupyter: bool
    _by_hub_token: bool

    # tornado passes the route's kwargs: the mounted rules give ``embedded`` and the hub's
    # handler, whose services are those of the hub serving now (see EmbeddedHub)
    def initialize(self, embedded: EmbeddedHub, hub_handler: type[ApiHandler]) -> None:
        """Receive the embedded state and the handler's services (tornado calls this per
        request)."""
        super().initialize(**embedded.arguments_for(hub_handler))
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
        if await self.owners.owner_for_token(token) is not None:
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


class CurrentServicesMixin:
    """A hub handler mounted as it is, given the services of the hub serving now."""

    # tornado passes the route's kwargs: the mounted rules give ``embedded`` and the handler
    def initialize(self, embedded: EmbeddedHub, hub_handler: type[Any]) -> None:
        """Receive the handler's services (tornado calls this per request)."""
        hub_handler.initialize(self, **embedded.arguments_for(hub_handler))


class JupyterHandoverMixin(HandoverHandler):
    """Gives tunnel connections to the ingress once the extension has started."""

    embedded: EmbeddedHub

    # tornado calls initialize with the route's kwargs, and the mounted rules add ``embedded``
    # to the hand-over's own: taking more than the base class is how tornado handlers compose
    def initialize(  # type: ignore[override]
        self, adopt: Adopt, spawn: Spawn, embedded: EmbeddedHub
    ) -> None:
        """Receive the embedded state (tornado calls this per request)."""
        super().initialize(adopt, spawn)
        self.embedded = embedded

    async def prepare(self) -> None:
        """Wait for the extension's start, then hand the connection over."""
        if not await self.embedded.wait_ready(START_WAIT):
            raise web.HTTPError(503, _STARTING)
        await super().prepare()


class AuthorizeHandler(JupyterHandler):
    """``GET {base_url}tunnels/authorize?tunnel={slug}&next={path}``: lets a browser logged in
    to Jupyter in to a tunnel at its own origin, ``{slug}.localhost`` (a one-time code, then
    the tunnel's cookie: ``hub/ingress/_origin.py``). Not logged in: Jupyter's login first."""

    # tornado passes the route's kwargs
    def initialize(self, embedded: EmbeddedHub) -> None:
        """Receive the embedded state (tornado calls this per request)."""
        self.embedded = embedded

    @web.authenticated
    async def get(self) -> None:
        """Issue a code for the tunnel and send the browser to its subdomain's callback."""
        embedded = self.embedded
        if not await embedded.wait_ready(START_WAIT):
            raise web.HTTPError(503, _STARTING)
        ingress = embedded.ingress
        origins = ingress.policy.origins if ingress is not None else None
        slug = self.get_argument("tunnel", "")
        route = embedded.hub.router.by_slug.get(slug)
        if origins is None:
            raise web.HTTPError(404, "tunnels are not served at *.localhost by this server")
        if route is None or route.owner_id != embedded.owner_id:
            raise web.HTTPError(404, f"no tunnel of this server is open at {slug!r}")
        code = origins.issue(route)
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        back = self.get_argument("next", "/")
        self.redirect(callback_url(self.request.host, slug, code, back))


def serve_origins(application: web.Application, embedded: EmbeddedHub) -> None:
    """Route every request whose host is ``{slug}.localhost`` to the ingress, whatever its path,
    before any other rule of ``application`` (an extension's ``/lab`` or ``/tree`` would
    otherwise answer on the tunnel's origin)."""
    handover: dict[str, Any] = {
        "embedded": embedded,
        "adopt": embedded.adopt,
        "spawn": lambda work: embedded.hub.tasks.spawn(work),
    }
    application.add_handlers(ORIGIN_HOSTS, [(".*", _handover_handler(), handover)])
    rules = application.default_router.rules
    rules.insert(0, rules.pop(-2))  # add_handlers put it just before the catch-all


ORIGIN_HOSTS = r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?\.localhost$"
"""The host names of tunnels at their own origin (tornado matches them without the port)."""


def _handover_handler() -> type[web.RequestHandler]:
    verbs = _decorate(HandoverHandler, allow_unauthenticated)
    wrapped = type("JupyterHandoverHandler", (JupyterHandoverMixin, JupyterHandler), verbs)
    wrapped.__doc__ = HandoverHandler.__doc__
    return wrapped


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
    """The embedded hub's rules under ``prefix``: tunnel traffic and data connections to the
    ingress, the API behind Jupyter's auth, the control channel and reach streams as they are.
    """
    handover: dict[str, Any] = {
        "embedded": embedded,
        "adopt": embedded.adopt,
        "spawn": lambda work: embedded.hub.tasks.spawn(work),
    }
    wrapped = _handover_handler()
    rules: list[Rule] = [
        (f"{prefix}/{AUTHORIZE_PATH}", AuthorizeHandler, {"embedded": embedded}),
        (prefix + TUNNEL_PATH + ".*", wrapped, handover),
        (prefix + DATA_PATH, wrapped, handover),
    ]
    for pattern, handler, _ in embedded.hub.rules(prefix):
        if issubclass(handler, ApiHandler):
            bases: tuple[type, ...] = (JupyterApiMixin, handler, APIHandler)
            verbs = _decorate(handler, web.authenticated)
        else:  # control channel and reach streams: their own tokens are their credentials
            bases = (CurrentServicesMixin, handler)
            verbs = _decorate(handler, allow_unauthenticated)
        namespace = {"__doc__": handler.__doc__, **verbs}
        kwargs = {"embedded": embedded, "hub_handler": handler}
        rules.append((pattern, type(f"Jupyter{handler.__name__}", bases, namespace), kwargs))
    return rules
