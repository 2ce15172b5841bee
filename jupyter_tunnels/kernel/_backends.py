"""Where a kernel's tunnels live: its Jupyter server, or a connector running in the kernel.

- :class:`ServerBackend`: the Jupyter server that started the kernel has the extension. Its
  connector serves the tunnels, so they outlive the kernel; the kernel asks for them with
  ``POST {url}tunnels/expose`` and manages them through the API at ``{url}tunnels/v1``, both
  under the server's token.
- :class:`LocalBackend`: no such server (terminal IPython, a kernel started by another front
  end). A :class:`~jupyter_tunnels.connector.Connector` runs in the kernel, against the hub
  named by ``JUPYTER_TUNNELS_HUB`` (with ``JUPYTER_TUNNELS_TOKEN``) or, without one, against
  a :class:`~jupyter_tunnels.hub.HubServer` started in the kernel on ``127.0.0.1:0`` with a
  store in a temporary directory (its tunnels end with the kernel). Both run on an event loop
  of their own in a daemon thread: terminal IPython has no loop between cells, and a kernel's
  loop must not be needed to serve visitors while a cell runs (``_in_kernel.py``).

Both give the SDK's coordinates (:attr:`Backend.hub_url`, :attr:`Backend.token`) for listing,
pausing, rotating and closing, and an ``expose`` that returns the same tunnel for the same port.
"""

from __future__ import annotations

import abc
import atexit
import logging
import shutil
from typing import Any

import httpx

from .._core.models import ReachConnection, Tunnel
from ..client import (
    AsyncTunnelsClient,
    HubTimeout,
    HubUnreachable,
    TransportError,
    TunnelsClient,
    UnexpectedResponse,
)
from ..client._exceptions import api_error
from ._checks import ExposeSpec
from ._discovery import JupyterServer, auth_headers
from ._errors import InvalidArgument
from ._in_kernel import START_TIMEOUT, LoopThread, Started, boot

__all__ = ["CALL_RETRIES", "CALL_TIMEOUT", "Backend", "LocalBackend", "ServerBackend"]

log = logging.getLogger("jupyter_tunnels.kernel")

CALL_TIMEOUT = 10.0
"""Seconds an API call from the kernel may take: the hub is local or close by."""
CALL_RETRIES = 1
"""Someone waits for the cell: one retry covers a blip, more would only delay the message."""
EXPOSE_TIMEOUT = 30.0
"""Seconds an expose may take: the connector waits up to 15 s for the tunnel to be active."""


class Backend(abc.ABC):
    """Where the tunnels live, and how to reach them (a base class: no I/O of its own)."""

    mode: str
    """``server`` (the Jupyter server's extension), ``hub`` (``JUPYTER_TUNNELS_HUB``) or
    ``in-process`` (a hub started in this kernel)."""
    where: str
    """One line naming the place, for notices and displays."""
    hub_url: str
    """The SDK's hub URL."""
    token: str
    """The SDK's token."""

    def client(self) -> TunnelsClient:
        """A new blocking SDK client for these tunnels (close it after use)."""
        return TunnelsClient(self.hub_url, self.token, timeout=CALL_TIMEOUT, retries=CALL_RETRIES)

    def async_client(self) -> AsyncTunnelsClient:
        """A new asyncio SDK client for these tunnels, for the caller's running loop."""
        return AsyncTunnelsClient(
            self.hub_url, self.token, timeout=CALL_TIMEOUT, retries=CALL_RETRIES
        )

    def origin_url(self, tunnel: Tunnel) -> str | None:
        """Where a browser opens the tunnel at an origin of its own
        (``http://{slug}.localhost:{port}/``, a Jupyter server on loopback), if anywhere."""
        return None

    @abc.abstractmethod
    def expose(self, spec: ExposeSpec) -> Tunnel:
        """Expose ``spec`` (blocking); the same port again gives the same tunnel."""

    @abc.abstractmethod
    async def aexpose(self, spec: ExposeSpec) -> Tunnel:
        """Expose ``spec`` without blocking the running loop."""

    @abc.abstractmethod
    def connect(self, tunnel: str, port: int | None, share_token: str | None) -> ReachConnection:
        """Reach ``tunnel`` as a local port of this backend's connector (blocking)."""

    @abc.abstractmethod
    async def aconnect(
        self, tunnel: str, port: int | None, share_token: str | None
    ) -> ReachConnection:
        """:meth:`connect` without blocking the running loop."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop whatever this backend runs in the kernel."""


class ServerBackend(Backend):
    """The tunnels of the Jupyter server that started this kernel."""

    mode = "server"

    def __init__(self, server: JupyterServer) -> None:
        self.server = server
        self.hub_url = server.api_url
        self.token = server.token
        hub = "its embedded hub" if server.mode == "embedded" else f"the hub at {server.hub_url}"
        self.where = f"the Jupyter server at {server.url} ({hub})"
        self._expose_url = server.url + "tunnels/expose"
        self._connect_url = server.url + "tunnels/connect"

    def expose(self, spec: ExposeSpec) -> Tunnel:
        """Ask the server's connector for the tunnel (blocking)."""
        try:
            with httpx.Client(timeout=EXPOSE_TIMEOUT) as http:
                response = http.post(
                    self._expose_url, json=spec.to_json(), headers=auth_headers(self.token)
                )
        except httpx.RequestError as exc:
            raise self._lost(exc) from exc
        return self._read(response)

    async def aexpose(self, spec: ExposeSpec) -> Tunnel:
        """Ask the server's connector for the tunnel, on the running loop."""
        try:
            async with httpx.AsyncClient(timeout=EXPOSE_TIMEOUT) as http:
                response = await http.post(
                    self._expose_url, json=spec.to_json(), headers=auth_headers(self.token)
                )
        except httpx.RequestError as exc:
            raise self._lost(exc) from exc
        return self._read(response)

    def connect(self, tunnel: str, port: int | None, share_token: str | None) -> ReachConnection:
        """Ask the server's connector to bind the port (blocking): every kernel can use it."""
        body = _connect_body(tunnel, port, share_token)
        try:
            with httpx.Client(timeout=EXPOSE_TIMEOUT) as http:
                response = http.post(self._connect_url, json=body, headers=auth_headers(self.token))
        except httpx.RequestError as exc:
            raise self._lost(exc) from exc
        return self._read_connection(response)

    async def aconnect(
        self, tunnel: str, port: int | None, share_token: str | None
    ) -> ReachConnection:
        """Ask the server's connector to bind the port, on the running loop."""
        body = _connect_body(tunnel, port, share_token)
        try:
            async with httpx.AsyncClient(timeout=EXPOSE_TIMEOUT) as http:
                response = await http.post(
                    self._connect_url, json=body, headers=auth_headers(self.token)
                )
        except httpx.RequestError as exc:
            raise self._lost(exc) from exc
        return self._read_connection(response)

    def _read_connection(self, response: httpx.Response) -> ReachConnection:
        if not response.is_success:
            raise api_error(response)
        try:
            return ReachConnection.model_validate_json(response.content)
        except ValueError as exc:
            raise UnexpectedResponse(
                f"the Jupyter server at {self.server.url} answered the connect with a body "
                "this version of jupyter-tunnels cannot read: is the extension the same version?",
                response=response,
            ) from exc

    def close(self) -> None:
        """Nothing to stop: the server owns its tunnels, and they outlive the kernel."""

    def origin_url(self, tunnel: Tunnel) -> str | None:
        """The server's ``originUrl`` for this tunnel (HTTP tunnels only)."""
        pattern = self.server.origin_url
        if pattern is None or str(tunnel.protocol) not in ("http", "https"):
            return None
        return pattern.replace("{slug}", tunnel.slug)

    def _read(self, response: httpx.Response) -> Tunnel:
        if not response.is_success:
            raise api_error(response)
        try:
            return Tunnel.model_validate_json(response.content)
        except ValueError as exc:
            raise UnexpectedResponse(
                f"the Jupyter server at {self.server.url} answered the expose with a body "
                "this version of jupyter-tunnels cannot read: is the extension the same version?",
                response=response,
            ) from exc

    def _lost(self, error: httpx.RequestError) -> TransportError:
        reason = str(error) or type(error).__name__
        message = f"cannot reach {self.where}: {reason}; is the server still running?"
        if isinstance(error, httpx.TimeoutException):
            return HubTimeout(message, request=error.request)
        if isinstance(error, httpx.ConnectError):
            return HubUnreachable(message, request=error.request)
        return TransportError(message, request=error.request)


class LocalBackend(Backend):
    """A connector in this kernel (and a hub too, without ``JUPYTER_TUNNELS_HUB``).

    Make it with :meth:`start` or :meth:`astart`; :meth:`close` (also run at exit) releases
    its lease, so its tunnels end ``stopped``, and stops the in-kernel hub.
    """

    def __init__(self, runner: LoopThread, started: Started) -> None:
        self.runner = runner
        self.connector = started.connector
        self.hub = started.hub
        self.store_dir = started.store_dir
        self.hub_url = started.hub_url
        self.token = started.token
        if self.hub is None:
            self.mode = "hub"
            self.where = f"the hub at {self.hub_url} (JUPYTER_TUNNELS_HUB), through this kernel"
        else:
            self.mode = "in-process"
            self.where = f"an in-process hub at {self.hub_url} (its tunnels end with this kernel)"
        self._closed = False
        atexit.register(self.close)

    @classmethod
    def start(cls, hub_url: str | None, token: str | None) -> LocalBackend:
        """Start the connector (and hub) on a new thread; blocks until it is connected."""
        runner = LoopThread()
        try:
            started = runner.call(boot(hub_url, token), START_TIMEOUT)
        except BaseException:
            runner.stop()
            raise
        return cls(runner, started)

    @classmethod
    async def astart(cls, hub_url: str | None, token: str | None) -> LocalBackend:
        """:meth:`start` without blocking the caller's running loop."""
        runner = LoopThread()
        try:
            started = await runner.acall(boot(hub_url, token), START_TIMEOUT)
        except BaseException:
            runner.stop()
            raise
        return cls(runner, started)

    def expose(self, spec: ExposeSpec) -> Tunnel:
        """Expose through the in-kernel connector (blocking until the tunnel is active)."""
        return self.runner.call(self._expose(spec), EXPOSE_TIMEOUT)

    async def aexpose(self, spec: ExposeSpec) -> Tunnel:
        """Expose through the in-kernel connector; the caller's loop is not blocked."""
        return await self.runner.acall(self._expose(spec), EXPOSE_TIMEOUT)

    async def _expose(self, spec: ExposeSpec) -> Tunnel:
        from ..connector import TargetNotAllowed

        try:
            return await self.connector.expose(
                spec.port,
                host=spec.host,
                name=spec.name,
                protocol=spec.protocol,
                public=spec.public,
            )
        except TargetNotAllowed as exc:
            raise InvalidArgument(str(exc)) from None

    def connect(self, tunnel: str, port: int | None, share_token: str | None) -> ReachConnection:
        """Bind the port on the in-kernel connector (blocking); it lives as long as the kernel."""
        work = self.connector.connect(tunnel, local_port=port, share_token=share_token)
        return self.runner.call(work, EXPOSE_TIMEOUT)

    async def aconnect(
        self, tunnel: str, port: int | None, share_token: str | None
    ) -> ReachConnection:
        """Bind the port on the in-kernel connector; the caller's loop is not blocked."""
        work = self.connector.connect(tunnel, local_port=port, share_token=share_token)
        return await self.runner.acall(work, EXPOSE_TIMEOUT)

    def close(self) -> None:
        """Release the lease (the tunnels stop), stop the hub, end the thread; safe to repeat."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            self.runner.call(self._shutdown(), START_TIMEOUT)
        except Exception:  # at exit or after a crash: the thread is ending anyway
            log.exception("jupyter-tunnels: the in-kernel connector did not stop cleanly")
        finally:
            self.runner.stop()
            if self.store_dir is not None:
                shutil.rmtree(self.store_dir, ignore_errors=True)

    async def _shutdown(self) -> None:
        await self.connector.close(release=True)
        if self.hub is not None:
            await self.hub.stop()


def _connect_body(tunnel: str, port: int | None, share_token: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"tunnel": tunnel}
    if port is not None:
        body["localPort"] = port
    if share_token is not None:
        body["shareToken"] = share_token
    return body
