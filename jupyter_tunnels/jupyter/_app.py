"""``TunnelsApp``: the jupyter-server extension that owns this server's tunnels.

Two modes, chosen by configuration:

- **embedded** (the default): a hub runs inside the server, on a SQLite store of its own (one
  per server, in the Jupyter data directory, keyed by host name and port), its API at
  ``{base_url}tunnels/v1/`` and its ingress at ``{base_url}tunnels/t/{slug}/``, behind
  Jupyter's authentication (see ``_mount.py``);
- **remote**: with ``c.TunnelsApp.hub_url`` and ``c.TunnelsApp.token`` (or
  ``JUPYTER_TUNNELS_HUB`` / ``JUPYTER_TUNNELS_TOKEN``) the tunnels live on that hub, and
  ``{base_url}tunnels/v1/`` forwards Jupyter-authenticated calls to it with the token.

Either way the extension owns one :class:`~jupyter_tunnels.connector.Connector` on the server's
event loop, so tunnels belong to the server, not to a kernel. It dials the embedded hub on the
server's own loopback address (not ``public_base_url``, which may sit behind a proxy that wants
a login). Lifecycle: the hub starts in the start hook; the connector starts in a task owned by
the app (a slow or unreachable remote hub never delays the server); ``stop_extension`` releases
the lease (tunnels end ``stopped``), closes the connector, the HTTP client and the hub, and is
idempotent and safe when nothing started.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Integer, List, TraitError, Unicode, default, validate

from ..client import ConfigurationError, TunnelError
from ..connector import DEFAULT_ALLOWED_HOSTS, Connector
from ..hub import DEFAULT_HEAD_TIMEOUT, DEFAULT_LEASE_TTL, DEFAULT_MAX_UNFINISHED_HEADS
from ._config import (
    EXTENSION_NAME,
    HUB_ENV,
    MOUNT,
    TOKEN_ENV,
    jupyterhub_public_base_url,
    local_server_url,
    loopback_name,
    on_loopback,
    server_store,
)
from ._embedded import EmbeddedHub
from ._handlers import ConnectHandler, ExposeHandler, InfoHandler, RemoteApiHandler
from ._mount import START_WAIT, jupyter_rules, serve_origins

__all__ = ["TunnelsApp"]

CLOSE_TIMEOUT = 10.0
"""Seconds the shutdown waits for the connector to release its lease and close."""
REMOTE_TIMEOUT = 30.0
"""Seconds a forwarded API call may take on the remote hub."""
ACTIVITY_RESOLUTION = 1.0
"""Seconds between two notes of visitors' activity for Jupyter's idle culler."""


class TunnelsApp(ExtensionApp):
    """The jupyter-tunnels server extension (``c.TunnelsApp.*`` configures it)."""

    name = EXTENSION_NAME
    description = "Expose services running in Jupyter through tunnels."

    hub_url = Unicode(
        None,
        allow_none=True,
        help="""URL of a standalone jupyter-tunnels hub to keep this server's tunnels on
        (e.g. https://tunnels.example.org). Unset (the default, or $JUPYTER_TUNNELS_HUB):
        the hub runs embedded in this server under {base_url}tunnels/.""",
    ).tag(config=True)

    token = Unicode(
        None,
        allow_none=True,
        help="""API token for the remote hub (hub_url); defaults to $JUPYTER_TUNNELS_TOKEN.
        Unused in embedded mode, where Jupyter's own login guards the API.""",
    ).tag(config=True)

    allowed_hosts = List(
        Unicode(),
        default_value=list(DEFAULT_ALLOWED_HOSTS),
        help="""Hosts the connector may dial as tunnel targets. Loopback only by default;
        add a host name or address to let tunnels reach services beyond this machine.""",
    ).tag(config=True)

    lease_ttl = Float(
        DEFAULT_LEASE_TTL,
        help="""Embedded hub: seconds a connector's lease lives after its last heartbeat
        (heartbeats come three times per TTL).""",
    ).tag(config=True)

    head_timeout = Float(
        DEFAULT_HEAD_TIMEOUT,
        help="""Embedded hub: seconds a visitor has to send a whole request head through
        the server's port (from its first byte; for the first request, from the connection's
        opening), then 408 and the connection closes. Positive.""",
    ).tag(config=True)

    max_unfinished_heads = Integer(
        DEFAULT_MAX_UNFINISHED_HEADS,
        help="""Embedded hub: request heads one client address may hold unfinished at once
        through the server's port; more are answered 429. At least 1.""",
    ).tag(config=True)

    db_path = Unicode(
        "",
        help="""Embedded hub: the SQLite file that keeps tunnels, leases and tokens.
        Unset (the default), each server has its own:
        {jupyter_data_dir}/jupyter_tunnels/servers/{hostname}-{port}/hub.db, so two servers
        never list each other's tunnels and a server restarted on the same port finds its
        own again. Servers given the same file share it (not recommended: each lists the
        other's tunnels with its own URLs).""",
    ).tag(config=True)

    public_base_url = Unicode(
        None,
        allow_none=True,
        help="""Embedded hub: the URL at which visitors reach this server's base URL, when it
        differs from the server's own address (behind JupyterHub or another proxy), e.g.
        https://hub.example.org/user/alice/. Tunnel URLs are built on it. Defaults, under
        JupyterHub, to the origin of $JUPYTERHUB_PUBLIC_URL (set when the hub's public_url
        is configured) or $JUPYTERHUB_HOST (subdomains) followed by
        $JUPYTERHUB_SERVICE_PREFIX; elsewhere, to the server's own address.""",
    ).tag(config=True)

    subdomains = Bool(
        True,
        help="""Embedded hub on a server listening on loopback (not behind public_base_url, not
        on https): serve each tunnel also at http://{slug}.localhost:{port}/, its own origin
        (browsers resolve *.localhost to loopback), where its app runs at the root and its
        scripts cannot use the visitor's Jupyter login. False: only {base_url}tunnels/t/{slug}/.""",
    ).tag(config=True)

    client_instance_id = Unicode(
        help="""Identity of this server's connector at the hub; the same id gets the same
        lease and tunnel URLs back after a restart. Defaults to jupyter-{hostname}-{port}.""",
    ).tag(config=True)

    @default("public_base_url")
    def _default_public_base_url(self) -> str | None:
        return jupyterhub_public_base_url(os.environ)

    @default("hub_url")
    def _hub_url_default(self) -> str | None:
        return os.environ.get(HUB_ENV) or None

    @default("token")
    def _token_default(self) -> str | None:
        return os.environ.get(TOKEN_ENV) or None

    @validate("lease_ttl")
    def _check_lease_ttl(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if value < 1:
            raise ValueError("lease_ttl must be at least 1 second")
        return value

    @validate("head_timeout")
    def _check_head_timeout(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0 < value < math.inf:  # also refuses nan
            raise TraitError(
                f"c.TunnelsApp.head_timeout is {value!r}: give a positive, finite number of "
                f"seconds (default {DEFAULT_HEAD_TIMEOUT:g})"
            )
        return value

    @validate("max_unfinished_heads")
    def _check_max_unfinished_heads(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 1:
            raise TraitError(
                f"c.TunnelsApp.max_unfinished_heads is {value}: give at least 1 "
                f"(default {DEFAULT_MAX_UNFINISHED_HEADS})"
            )
        return value

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embedded: EmbeddedHub | None = None
        self.connector: Connector | None = None
        self._connector_task: asyncio.Task[Connector] | None = None
        self._http: httpx.AsyncClient | None = None
        self._hook_ran = asyncio.Event()
        self._last_activity = 0.0

    # --- where things are ----------------------------------------------------------------

    @property
    def remote(self) -> bool:
        """Whether the tunnels live on a remote hub (``hub_url`` is set)."""
        return bool(self.hub_url)

    @property
    def server(self) -> ServerApp:
        """The server this extension is loaded in."""
        assert self.serverapp is not None, "the extension is not loaded in a server"
        return self.serverapp

    @property
    def mount(self) -> str:
        """``{base_url}tunnels``: where the API, the ingress and the endpoints live."""
        return url_path_join(self.server.base_url, MOUNT)

    def local_url(self) -> str:
        """The server's own address, as this process reaches it."""
        app = self.server
        if app.sock:
            raise ConfigurationError(
                "jupyter-tunnels cannot reach a server bound to a Unix socket yet: "
                "set c.TunnelsApp.hub_url to use a standalone hub"
            )
        return local_server_url(app.ip, app.port, app.base_url, tls=bool(app.certfile))

    def serves_origins(self) -> bool:
        """Whether tunnels are also served at ``{slug}.localhost`` (see ``subdomains``)."""
        app = self.server
        plain = not (self.public_base_url or app.certfile or app.sock)
        return self.subdomains and plain and on_loopback(app.ip)

    def hub_public_url(self) -> str:
        """The embedded hub's URL as visitors see it (tunnel URLs are built on it)."""
        base = self.public_base_url or self.local_url()
        return base.rstrip("/") + "/" + MOUNT

    def store_path(self) -> Path:
        """The embedded hub's store: ``db_path``, or this server's own (its port is known
        for sure once the server listens: it may move on from a port in use)."""
        if self.db_path:
            return Path(self.db_path)
        return server_store(Path(jupyter_data_dir()), socket.gethostname(), self.server.port)

    def origin_url(self, slug: str) -> str | None:
        """``http://{slug}.localhost:{port}/`` where the tunnel is also served (see
        ``subdomains``), or None."""
        return self.embedded.origin_url(slug) if self.embedded is not None else None

    def info(self) -> dict[str, str]:
        """``{mode, hubUrl, apiBase}`` for ``GET tunnels/info``, and ``originUrl``
        (``http://{slug}.localhost:{port}/``, ``{slug}`` as written) when tunnels are served
        at their own origin."""
        if self.remote:
            assert self.hub_url is not None
            return {"mode": "remote", "hubUrl": self.hub_url.rstrip("/"), "apiBase": self._api()}
        info = {"mode": "embedded", "hubUrl": self.hub_public_url(), "apiBase": self._api()}
        origin = self.origin_url("{slug}")
        if origin is not None:
            info["originUrl"] = origin
        return info

    def _api(self) -> str:
        return url_path_join(self.mount, "v1")

    # --- jupyter-server hooks ------------------------------------------------------------

    def initialize_handlers(self) -> None:
        """Mount the embedded hub (or the remote proxy) and the extension's endpoints."""
        own: dict[str, Any] = {"tunnels": self}
        mount = "/" + MOUNT
        self.handlers.extend(
            [
                (f"{mount}/info", InfoHandler, own),
                (f"{mount}/expose", ExposeHandler, own),
                (f"{mount}/connect", ConnectHandler, own),
            ]
        )
        if self.remote:
            if not self.token:
                raise ConfigurationError(
                    f"c.TunnelsApp.hub_url is {self.hub_url!r} but no token is set: "
                    f"set c.TunnelsApp.token or ${TOKEN_ENV}"
                )
            self.handlers.append((f"{mount}/v1/(?P<path>.*)", RemoteApiHandler, own))
            return
        self.embedded = EmbeddedHub(
            self.store_path,
            self.hub_public_url(),
            self.lease_ttl,
            self.mount,
            head_timeout=self.head_timeout,
            max_unfinished_heads=self.max_unfinished_heads,
        )
        self.handlers.extend(jupyter_rules(self.embedded, mount))
        if self.serves_origins():
            serve_origins(self.server.web_app, self.embedded)

    async def _start_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        """Start the embedded hub, then the connector in a task the app owns."""
        if self.embedded is not None:
            server = self.server
            options: dict[str, Any] = {
                "xheaders": server.trust_xheaders,
                "max_body_size": server.max_body_size,
                "max_buffer_size": server.max_buffer_size,
            }
            if server.certfile:
                options["protocol"] = "https"
            await self.embedded.start(
                self.hub_public_url(),
                server.web_app,
                options,
                getattr(server.identity_provider, "token", None) or None,
                server.port if self.serves_origins() else None,
                loopback_name(server.ip),
            )
            assert self.embedded.ingress is not None
            self.embedded.ingress.on_request = self._visitor_activity
        self._connector_task = asyncio.get_running_loop().create_task(
            self._start_connector(), name="jupyter-tunnels-connector-start"
        )
        self._connector_task.add_done_callback(self._connector_started)
        self._hook_ran.set()

    async def stop_extension(self) -> None:
        """Release the lease (tunnels end ``stopped``), close everything; safe to repeat."""
        task, self._connector_task = self._connector_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        connector, self.connector = self.connector, None
        if connector is not None:
            await self._close_connector(connector)
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()
        if self.embedded is not None:
            await self.embedded.stop()

    def current_activity(self) -> bool:
        """Busy while visitors are connected through the embedded ingress (an open WebSocket
        or download keeps an idle-culled server alive; each visitor request also counts as
        API activity)."""
        ingress = self.embedded.ingress if self.embedded is not None else None
        return ingress is not None and ingress.open_connections > 0

    def _visitor_activity(self) -> None:
        """A visitor's request through a tunnel is activity of the server (its idle culler
        sees it), noted at most once a second."""
        moment = time.monotonic()
        if moment - self._last_activity >= ACTIVITY_RESOLUTION:
            self._last_activity = moment
            self.server.web_app.settings["api_last_activity"] = datetime.now(timezone.utc)

    # --- the connector -------------------------------------------------------------------

    async def ready_connector(self) -> Connector:
        """The started connector (waits while it starts; raises why it could not start)."""
        if self._connector_task is None:
            # the server answers HTTP a moment before it runs the extensions' start hooks
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._hook_ran.wait(), START_WAIT)
        task = self._connector_task
        if task is None:
            raise ConfigurationError("the jupyter-tunnels extension has not been started")
        return await asyncio.shield(task)

    def remote_client(self) -> tuple[httpx.AsyncClient, str, str]:
        """The HTTP client, hub URL and token used to forward API calls to the remote hub."""
        assert self.hub_url is not None and self.token is not None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=REMOTE_TIMEOUT, follow_redirects=False)
        return self._http, self.hub_url.rstrip("/"), self.token

    async def _start_connector(self) -> Connector:
        if self.remote:
            hub_url, token = self.hub_url, self.token
        else:
            assert self.embedded is not None and self.embedded.token is not None
            hub_url, token = self.local_url() + MOUNT, self.embedded.token
        connector = self.connector = Connector(
            hub_url,
            token,
            client_instance_id=self.client_instance_id or self._default_instance_id(),
            allowed_hosts=self.allowed_hosts,
            # embedded: the ingress dials this connector's targets itself, no data connections
            pool_size=None if self.remote else 0,
            on_event=lambda message: self.log.info("jupyter-tunnels: %s", message),
        )
        if self.embedded is not None:
            self.embedded.local_connector = connector
        await connector.start()
        return connector

    def _connector_started(self, task: asyncio.Task[Connector]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.log.error(
                "jupyter-tunnels: the connector did not start: %s (tunnels cannot be "
                "exposed until the server restarts)",
                task.exception(),
            )

    async def _close_connector(self, connector: Connector) -> None:
        lease_id = connector.lease_id
        try:
            if self.embedded is not None and lease_id is not None:
                # in-process: the server may no longer answer HTTP while it shuts down
                await self.embedded.release(lease_id)
                await asyncio.wait_for(connector.close(release=False), CLOSE_TIMEOUT)
            else:
                await asyncio.wait_for(connector.close(release=True), CLOSE_TIMEOUT)
        except (TunnelError, OSError, asyncio.TimeoutError):
            self.log.exception("jupyter-tunnels: the connector did not close cleanly")

    def _default_instance_id(self) -> str:
        return f"jupyter-{socket.gethostname()}-{self.server.port}"
