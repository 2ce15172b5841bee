"""The standalone hub: a :class:`Hub` on its own port (``jupyter-tunnels hub``).

On the first start on an empty store it creates an admin owner and token. The token comes from
``JUPYTER_TUNNELS_TOKEN`` if that is set, otherwise it is generated and written to
``admin-token`` beside the store (mode 0600); either way it is never printed, only the file's
path is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import tempfile
import weakref
from pathlib import Path

from tornado import httpserver, netutil, web

from .._core.env import TOKEN_ENV
from ._app import Hub
from ._config import (
    DEFAULT_HEAD_TIMEOUT,
    DEFAULT_LEASE_TTL,
    DEFAULT_MAX_UNFINISHED_HEADS,
    DEFAULT_SLUG_GRACE,
    DEFAULT_TCP_PORTS,
    DEFAULT_WEBHOOK_MAX_ATTEMPTS,
    DEFAULT_WEBHOOK_RETRY_BASE,
    HubConfig,
)
from .api._base import NotFoundHandler
from .ingress._engine import RelayToHub
from .ingress._front import FrontProtocol
from .ingress._ports import PortListeners
from .store._engine import Store, sqlite_url
from .store._owners import create_owner

__all__ = ["ADMIN_TOKEN_FILE", "AdminBootstrap", "HubServer", "bootstrap_admin", "default_db_path"]

ADMIN_TOKEN_FILE = "admin-token"
ADMIN_OWNER = "admin"


def default_db_path() -> Path:
    """``$JUPYTER_TUNNELS_DB``, else ``$XDG_DATA_HOME/jupyter-tunnels/hub.db``."""
    configured = os.environ.get("JUPYTER_TUNNELS_DB")
    if configured:
        return Path(configured).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "jupyter-tunnels" / "hub.db"


@dataclasses.dataclass(frozen=True)
class AdminBootstrap:
    """What the first start did about the admin token."""

    token_file: Path | None
    """Where the generated token was written; None when it came from the environment."""
    from_environment: bool


async def bootstrap_admin(store: Store, token_dir: Path) -> AdminBootstrap | None:
    """On an empty store, create the admin owner; return None when the store had owners."""
    if not await store.is_empty():
        return None
    env_token = os.environ.get(TOKEN_ENV) or None
    async with store.write() as conn:
        token = await create_owner(conn, ADMIN_OWNER, is_admin=True, token=env_token)
    if env_token is not None:
        return AdminBootstrap(token_file=None, from_environment=True)
    path = token_dir / ADMIN_TOKEN_FILE
    _write_secret(path, token)
    return AdminBootstrap(token_file=path, from_environment=False)


def _write_secret(path: Path, secret: str) -> None:
    """Write a secret to a file only its owner can read (0600 from the start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)


class HubServer:
    """A running standalone hub; ``await HubServer.start(...)``, then ``await server.stop()``.

    The public port is served by the front (``ingress/_front.py``), which routes tunnel traffic
    itself and relays API and control-channel requests to the tornado application listening on
    a private Unix socket.
    """

    def __init__(
        self,
        hub: Hub,
        api_server: httpserver.HTTPServer,
        front_servers: list[asyncio.Server],
        internal_dir: str,
        host: str,
        port: int,
        bootstrap: AdminBootstrap | None,
    ) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        self.bootstrap = bootstrap
        self._api_server = api_server
        self._front_servers = front_servers
        self._internal_dir = internal_dir
        self._transports: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()
        """Every open connection (the loop holds them while open, so weak refs suffice)."""
        self._ports: PortListeners | None = None

    @property
    def url(self) -> str:
        """The hub's base URL (the API is under ``/v1``)."""
        return self.hub.config.base

    @classmethod
    async def start(
        cls,
        db_path: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        domain: str | None = None,
        public_url: str | None = None,
        lease_ttl: float = DEFAULT_LEASE_TTL,
        slug_grace: float = DEFAULT_SLUG_GRACE,
        tcp_ports: tuple[int, int] | None = DEFAULT_TCP_PORTS,
        webhook_retry_base: float = DEFAULT_WEBHOOK_RETRY_BASE,
        webhook_max_attempts: int = DEFAULT_WEBHOOK_MAX_ATTEMPTS,
        webhook_hosts: tuple[str, ...] | None = None,
        head_timeout: float = DEFAULT_HEAD_TIMEOUT,
        max_unfinished_heads: int = DEFAULT_MAX_UNFINISHED_HEADS,
    ) -> HubServer:
        """Bind ``host:port`` (0 picks a free port), open the store and start serving.

        :raises ValueError: a setting :class:`HubConfig` refuses (before anything is bound).
        """
        url_host = f"[{host}]" if ":" in host else host
        config = HubConfig(
            db_url=sqlite_url(db_path),
            public_url=public_url or f"http://{url_host}:{port}",
            domain=domain,
            lease_ttl=lease_ttl,
            slug_grace=slug_grace,
            tcp_ports=tcp_ports,
            webhook_retry_base=webhook_retry_base,
            webhook_max_attempts=webhook_max_attempts,
            webhook_hosts=webhook_hosts,
            head_timeout=head_timeout,
            max_unfinished_heads=max_unfinished_heads,
        )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sockets = netutil.bind_sockets(port, host, family=family)
        bound_port = sockets[0].getsockname()[1]
        if not public_url:
            config = dataclasses.replace(config, public_url=f"http://{url_host}:{bound_port}")
        hub = Hub(config)
        internal_dir = tempfile.mkdtemp(prefix="jupyter-tunnels-")
        try:
            await hub.start()
            store_path = hub.store.path
            assert store_path is not None, "the standalone hub keeps its store in a file"
            bootstrap = await bootstrap_admin(hub.store, store_path.parent)
            internal_socket = netutil.bind_unix_socket(
                os.path.join(internal_dir, "api.sock"), mode=0o600
            )
        except BaseException:
            for sock in sockets:
                sock.close()
            shutil.rmtree(internal_dir, ignore_errors=True)
            await hub.stop()
            raise
        internal_address = internal_socket.getsockname()
        not_found = (r"/.*", NotFoundHandler, hub.arguments_for(NotFoundHandler))
        app = web.Application([*hub.rules(), not_found])
        # the front sets X-Real-Ip (and drops any the client sent): the API logs real clients
        api_server = httpserver.HTTPServer(app, xheaders=True)
        api_server.add_socket(internal_socket)
        loop = asyncio.get_running_loop()
        server = cls(hub, api_server, [], internal_dir, host, bound_port, bootstrap)

        async def connect_to_api() -> asyncio.Transport:
            transport, _ = await loop.create_unix_connection(asyncio.Protocol, internal_address)
            return transport

        ingress = hub.ingress(RelayToHub(connect_to_api))

        def accept() -> FrontProtocol:
            return FrontProtocol(ingress, server._transports.add)

        for sock in sockets:
            server._front_servers.append(await loop.create_server(accept, sock=sock))
        ports = server._ports = PortListeners(hub.router, hub.agents, host)
        hub.router.on_change(lambda _changes: hub.tasks.spawn(ports.sync()))
        await ports.sync()
        return server

    async def stop(self) -> None:
        """Stop accepting, close open connections, agent sessions and the store."""
        for front in self._front_servers:
            front.close()
        for transport in list(self._transports):
            transport.abort()
        if self._ports is not None:
            await self._ports.close()
        self._api_server.stop()
        await self._api_server.close_all_connections()
        await self.hub.stop()
        shutil.rmtree(self._internal_dir, ignore_errors=True)
