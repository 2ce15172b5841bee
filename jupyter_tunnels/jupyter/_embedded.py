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
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path

from .._core.errors import ErrorCode
from .._wire.held import HeldProtocol
from ..connector import Connector, TargetNotAllowed, check_target
from ..hub import Hub, HubConfig, create_owner, sqlite_url
from ..hub._exceptions import HubError
from ..hub.services._routing import Route
from ._config import LOCAL_OWNER, LOCAL_TOKEN_FILE, new_owner_suffix, read_secret, write_secret

__all__ = ["LOCAL_CONNECT_TIMEOUT", "EmbeddedHub", "Streams"]

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
LOCAL_CONNECT_TIMEOUT = 5.0
"""Seconds the ingress waits for a tunnel's target to accept a connection."""

log = logging.getLogger("jupyter_tunnels.jupyter")


class EmbeddedHub:
    """A :class:`Hub` on a SQLite file, plus the local owner Jupyter users act as.

    Build it before the server's loop runs (its tornado rules are registered then); call
    :meth:`start` on the loop and :meth:`stop` at shutdown (safe when never started).
    """

    def __init__(self, db_path: Path, public_url: str, lease_ttl: float) -> None:
        self.db_path = db_path
        # no TCP/UDP listeners inside Jupyter: those tunnels need a standalone hub
        config = HubConfig(
            db_url=sqlite_url(db_path), public_url=public_url, lease_ttl=lease_ttl, tcp_ports=None
        )
        self.hub = Hub(config)
        self.owner_id: str | None = None
        """The local owner's id, once started (requests before that get a 503)."""
        self.token: str | None = None
        """The local owner's API token, once started (the connector's credential)."""
        self.local_connector: Connector | None = None
        """The server's own connector, whose tunnels the ingress dials in-process."""
        self._started = False
        self._ready = asyncio.Event()

    async def start(self, public_url: str | None = None) -> None:
        """Open the store, start the hub's reaper, and find or make the local owner.

        ``public_url`` replaces the URL given at construction: the server may have moved to
        another port after its extensions were loaded. Handlers read :attr:`hub` per request.
        """
        if public_url is not None and public_url != self.hub.config.public_url:
            self.hub = Hub(dataclasses.replace(self.hub.config, public_url=public_url))
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._started = True
        await self.hub.start()
        self.token, self.owner_id = await self._local_owner()
        self._ready.set()

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

    async def dial(self, route: Route) -> Streams:
        """Connect to the tunnel's target in-process; :class:`HubError` (502) when it fails."""
        assert self.local_connector is not None, "only called when dials(route)"
        host, port = route.target_host, route.target_port
        try:
            check_target(host, self.local_connector.allowed_hosts)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), LOCAL_CONNECT_TIMEOUT
            )
        except TargetNotAllowed as exc:
            raise HubError(ErrorCode.LOCAL_UNAVAILABLE, str(exc)) from None
        except (OSError, asyncio.TimeoutError) as exc:
            reason = exc.__class__.__name__
            message = f"nothing answers at {host}:{port} ({reason}): is the app running?"
            raise HubError(ErrorCode.LOCAL_UNAVAILABLE, message) from None
        return reader, writer

    async def dial_raw(self, route: Route) -> asyncio.Transport:
        """Like :meth:`dial`, as a paused transport (a reach stream splices it)."""
        assert self.local_connector is not None, "only called when dials(route)"
        host, port = route.target_host, route.target_port
        loop = asyncio.get_running_loop()
        try:
            check_target(host, self.local_connector.allowed_hosts)
            transport, _ = await asyncio.wait_for(
                loop.create_connection(HeldProtocol, host, port), LOCAL_CONNECT_TIMEOUT
            )
        except TargetNotAllowed as exc:
            raise HubError(ErrorCode.LOCAL_UNAVAILABLE, str(exc)) from None
        except (OSError, asyncio.TimeoutError) as exc:
            reason = exc.__class__.__name__
            message = f"nothing answers at {host}:{port} ({reason}): is the app running?"
            raise HubError(ErrorCode.LOCAL_UNAVAILABLE, message) from None
        return transport

    async def stop(self) -> None:
        """Stop the hub and close the store; idempotent, and safe when never started."""
        if not self._started:
            return
        self._started = False
        self.owner_id = None
        self.token = None
        self.local_connector = None
        await self.hub.stop()

    async def _local_owner(self) -> tuple[str, str]:
        token_file = self.db_path.parent / LOCAL_TOKEN_FILE
        token = read_secret(token_file)
        if token is not None:
            owner_id = await self.hub.owner_for_token(token)
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
        owner_id = await self.hub.owner_for_token(token)
        assert owner_id is not None, "the owner was just created"
        log.info("created the local tunnels owner %r (token in %s)", name, token_file)
        return token, owner_id
