"""The hub embedded in a Jupyter server: its store, its local owner, and its lifecycle.

The embedded hub has one owner that matters, the *local owner* (named ``jupyter``): every
Jupyter-authenticated user of the server acts as it, and the extension's connector holds its
API token. The token is made on the first start and kept in ``local-token`` beside the store
(mode 0600), like the standalone hub's ``admin-token``; it never leaves the server process
otherwise. If that file is lost, a new local owner is made (the old tunnels stay with the old
one and its slugs are released after their grace period).

The server's own connector holds a lease on this hub like any other, but its tunnels' targets
are reached in-process: the ingress opens the connection to the target itself (checked against
the connector's allow-list) instead of asking the connector for a data connection, which would
be a second hop through the server's own port.

A tunnel the local owner creates through the API without a ``leaseId`` (the SDK pointed at
the server, ``POST {base_url}tunnels/v1/tunnels``) is served by that connector too: it is
bound to its lease at creation, so it is ``active`` at once, like one made with ``expose``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tornado import web

from .._core.errors import ErrorCode
from .._core.models import Target
from ..connector import Connector, TargetNotAllowed, check_target
from ..hub import (
    DEFAULT_HEAD_TIMEOUT,
    DEFAULT_MAX_UNFINISHED_HEADS,
    Hub,
    HubConfig,
    create_owner,
    sqlite_url,
)
from ..hub._exceptions import HubError
from ..hub.ingress import (
    AgentDialer,
    DirectDialer,
    ForeignCredentials,
    FrontProtocol,
    GiveBack,
    Ingress,
    PolicySettings,
    RoutedDialer,
)
from ..hub.services._routing import Route
from ._config import LOCAL_OWNER, LOCAL_TOKEN_FILE, new_owner_suffix, read_secret, write_secret
from ._identity import JupyterIdentities

__all__ = [
    "AUTHORIZE_PATH",
    "JUPYTER_CREDENTIALS",
    "ORIGIN_DOMAIN",
    "EmbeddedHub",
    "jupyter_login_url",
]

log = logging.getLogger("jupyter_tunnels.jupyter")

JUPYTER_CREDENTIALS = ForeignCredentials(
    fields=frozenset({b"x-xsrftoken", b"x-csrftoken"}),
    cookie_names=frozenset({b"_xsrf"}),
    cookie_prefixes=(b"username-", b"jupyterhub-"),
    query_names=frozenset({b"_xsrf"}),
    authorization_schemes=frozenset({b"token"}),
)
"""Jupyter's credentials, which never reach a tunnel's app: its token (``Authorization: token``,
and the server's token as ``?token=`` or in ``Authorization`` in any scheme), its XSRF field
and cookie, and the login cookies of Jupyter servers and JupyterHub. The app's own
``Authorization`` (``Basic``, or a bearer on a public tunnel) passes."""
ORIGIN_DOMAIN = b"localhost"
"""Tunnels of a server on loopback are also at ``{slug}.localhost`` (browsers resolve it)."""
AUTHORIZE_PATH = "authorize"
"""Under the mount: Jupyter's page that lets a browser in to a tunnel's own origin."""
LOGIN_HINT = "log in to Jupyter, or send its token"
"""What a visitor turned away from a private tunnel is told to do."""


def jupyter_login_url(application: web.Application) -> str:
    """Jupyter's login page (``{base_url}login`` unless the deployment set another), where a
    browser turned away from a private tunnel is sent, with ``?next=`` leading back."""
    settings = application.settings
    configured = settings.get("login_url")
    if isinstance(configured, str) and configured:
        return configured
    return str(settings.get("base_url", "/")).rstrip("/") + "/login"


class EmbeddedHub:
    """A :class:`Hub` on a SQLite file, plus the local owner Jupyter users act as.

    Build it before the server's loop runs (its tornado rules are registered then, with
    ``mount``, the path the hub is served under); call :meth:`start` on the loop and
    :meth:`stop` at shutdown (safe when never started). ``db_path`` says where the store is;
    it is asked again at :meth:`start`, since the default store is the server's own and the
    server may have moved to another port after its rules were built (the hub is then built
    anew on the right store: the rules ask for the hub's services per request).
    """

    def __init__(
        self,
        db_path: Callable[[], Path],
        public_url: str,
        lease_ttl: float,
        mount: str,
        *,
        head_timeout: float = DEFAULT_HEAD_TIMEOUT,
        max_unfinished_heads: int = DEFAULT_MAX_UNFINISHED_HEADS,
    ) -> None:
        self._db_path = db_path
        self.mount = mount.rstrip("/")
        self.lease_ttl = lease_ttl
        self.head_timeout = head_timeout
        """Seconds a visitor has to send a whole request head (``HubConfig.head_timeout``)."""
        self.max_unfinished_heads = max_unfinished_heads
        """Unfinished heads one client address may hold (``HubConfig.max_unfinished_heads``)."""
        self.owner_id: str | None = None
        """The local owner's id, once started (requests before that get a 503)."""
        self.token: str | None = None
        """The local owner's API token, once started (the connector's credential)."""
        self.local_connector: Connector | None = None
        """The server's own connector, whose tunnels the ingress dials in-process."""
        self.db_path = db_path()
        self.hub, self.direct = self._build_hub(public_url)
        self._arguments: dict[type[Any], dict[str, Any]] = {}
        self.ingress: Ingress | None = None
        """The visitors' ingress, once started."""
        self._give_back: GiveBack | None = None
        self._started = False
        self._ready = asyncio.Event()
        self.origin_port: int | None = None
        """The loopback port tunnels are also served at as ``{slug}.localhost``, once started
        (None: not served so)."""

    def origin_url(self, slug: str) -> str | None:
        """``http://{slug}.localhost:{port}/`` when tunnels are served at their own origin."""
        if self.origin_port is None or self.ingress is None:
            return None
        return f"http://{slug}.{ORIGIN_DOMAIN.decode()}:{self.origin_port}/"

    def _build_hub(self, public_url: str) -> tuple[Hub, DirectDialer]:
        """The hub on :attr:`db_path`, reaching the server's connector's targets in-process."""
        # no TCP/UDP listeners inside Jupyter: those tunnels need a standalone hub
        config = HubConfig(
            db_url=sqlite_url(self.db_path),
            public_url=public_url,
            lease_ttl=self.lease_ttl,
            tcp_ports=None,
            head_timeout=self.head_timeout,
            max_unfinished_heads=self.max_unfinished_heads,
        )
        hub = Hub(config)
        direct = DirectDialer(self._allowed_hosts)
        hub.dialer = RoutedDialer(direct, AgentDialer(hub.agents), self.dials)
        hub.router.on_change(direct.routes_changed)
        hub.tunnels.default_lease = self._default_lease
        return hub, direct

    def arguments_for(self, handler: type[Any]) -> dict[str, Any]:
        """The services of the hub serving now that a hub handler's ``initialize`` names."""
        arguments = self._arguments.get(handler)
        if arguments is None:
            arguments = self._arguments[handler] = self.hub.arguments_for(handler)
        return arguments

    async def start(
        self,
        public_url: str,
        application: web.Application,
        server_options: dict[str, Any],
        jupyter_token: str | None,
        origin_port: int | None = None,
        jupyter_host: str = "localhost",
    ) -> None:
        """Open the store, start the hub's reaper, find or make the local owner, and make
        the visitors' ingress on Jupyter's ``application``.

        ``origin_port``: the server listens on loopback at this port, and serves each tunnel
        also at ``http://{slug}.localhost:{port}/`` (``hub/ingress/_origin.py``); None: not.
        ``jupyter_host``: the loopback name Jupyter's pages are reached at (its login's host).

        ``public_url`` replaces the URL given at construction: the server may have moved to
        another port after its extensions were loaded. ``server_options`` are the options of
        Jupyter's HTTP server (connections given back to Jupyter get the same).
        """
        db_path = self._db_path()
        if db_path != self.db_path:  # the server's own store: it moved to another port
            self.db_path = db_path
            self.hub, self.direct = self._build_hub(public_url)
            self._arguments.clear()
        elif public_url != self.hub.config.public_url:
            self.hub.set_public_url(public_url)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._started = True
        await self.hub.start()
        self.token, self.owner_id = await self._local_owner()
        self._give_back = GiveBack(application, **server_options)
        https = server_options.get("protocol") == "https"
        identities = JupyterIdentities(
            application,
            self.hub.router,
            lambda: self.owner_id,
            protocol="https" if https else "http",
        )
        foreign = JUPYTER_CREDENTIALS
        if jupyter_token:
            foreign = dataclasses.replace(
                foreign, query_values=frozenset({(b"token", jupyter_token.encode())})
            )
        self.origin_port = origin_port
        origins: dict[str, Any] = {}
        if origin_port is not None:
            authorize = f"{self.mount}/{AUTHORIZE_PATH}".encode()
            origins = {
                "domain": ORIGIN_DOMAIN,
                "authorize_path": authorize,
                "jupyter_host": jupyter_host.encode(),
            }
        settings = PolicySettings.of(
            self.hub.config,
            mount=self.mount.encode(),
            foreign=foreign,
            tell_hub_the_client=False,
            login_hint=LOGIN_HINT,
            login_url=jupyter_login_url(application).encode(),
            **origins,
        )
        self.ingress = self.hub.ingress(self._give_back, identities=identities, settings=settings)
        self._ready.set()

    def adopt(self, sock: socket.socket, data: bytes, peer: tuple[str, int]) -> None:
        """Serve a visitor connection tornado handed over (``data``: what it had read)."""
        ingress = self.ingress
        if ingress is None:  # stopped meanwhile
            sock.close()
            return
        self.hub.tasks.spawn(self._adopt(ingress, sock, data, peer))

    async def _adopt(
        self, ingress: Ingress, sock: socket.socket, data: bytes, peer: tuple[str, int]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: FrontProtocol(ingress, initial=data, peer=peer), sock
            )
        except BaseException:
            sock.close()
            raise

    async def wait_ready(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for :meth:`start` to finish; whether it has.

        The server answers HTTP a moment before it runs the extensions' start hooks.
        """
        if self.owner_id is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        return self.owner_id is not None

    async def release(self, lease_id: str) -> None:
        """Release a lease of the local owner in-process: its tunnels end ``stopped``."""
        if self.owner_id is None:
            return
        with contextlib.suppress(HubError):  # already gone: nothing left to stop
            await self.hub.leases.delete(self.owner_id, lease_id)

    def dials(self, route: Route) -> bool:
        """Whether the ingress reaches this tunnel's target itself (the server's connector)."""
        connector = self.local_connector
        if connector is None or connector.lease_id is None:
            return False
        return route.lease_id == connector.lease_id

    def _default_lease(self, owner_id: str, target: Target) -> str | None:
        """The server's connector's lease, for a tunnel the local owner creates without one
        (its target must be one the connector may dial)."""
        connector = self.local_connector
        if connector is None or connector.lease_id is None or owner_id != self.owner_id:
            return None
        try:
            check_target(target.host, connector.allowed_hosts)
        except TargetNotAllowed as exc:
            raise HubError(ErrorCode.INVALID_INPUT, str(exc), {"field": "target"}) from None
        return connector.lease_id

    def _allowed_hosts(self) -> tuple[str, ...]:
        connector = self.local_connector
        return tuple(connector.allowed_hosts) if connector is not None else ()

    async def stop(self) -> None:
        """Stop the hub and close the store; idempotent, and safe when never started."""
        if not self._started:
            return
        self._started = False
        self.owner_id = None
        self.token = None
        self.local_connector = None
        self.ingress = None
        self.origin_port = None
        if self._give_back is not None:
            await self._give_back.close()
        await self.hub.stop()

    async def _local_owner(self) -> tuple[str, str]:
        token_file = self.db_path.parent / LOCAL_TOKEN_FILE
        token = read_secret(token_file)
        if token is not None:
            owner_id = await self.hub.owners.owner_for_token(token)
            if owner_id is not None:
                return token, owner_id
            log.warning("%s does not hold a valid token: making a new local owner", token_file)
        name = LOCAL_OWNER
        async with self.hub.store.write() as conn:
            try:
                token = await create_owner(conn, name)
            except ValueError:  # the first local owner's token was lost
                name = f"{LOCAL_OWNER}-{new_owner_suffix()}"
                token = await create_owner(conn, name)
        write_secret(token_file, token)
        owner_id = await self.hub.owners.owner_for_token(token)
        assert owner_id is not None, "the owner was just created"
        log.info("created the local tunnels owner %r (token in %s)", name, token_file)
        return token, owner_id
