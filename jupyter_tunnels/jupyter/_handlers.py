"""The extension's own endpoints: ``info``, ``expose``, ``connect``, and the API proxy to a
remote hub.

All of them are Jupyter ``APIHandler``s: Jupyter's token, cookie and XSRF rules apply, and
answers are JSON (errors as ``{code, message, details}``).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import httpx
import pydantic
from jupyter_server.base.handlers import APIHandler
from pydantic.alias_generators import to_camel
from tornado import web

from .._core.errors import ErrorCode
from ..client import APIError, TunnelError
from ..connector import Connector, TargetNotAllowed, accepts_connections

__all__ = [
    "ConnectHandler",
    "ConnectRequest",
    "ExposeHandler",
    "ExposeRequest",
    "InfoHandler",
    "RemoteApiHandler",
    "TunnelsExtension",
]

M = TypeVar("M", bound=pydantic.BaseModel)

MAX_PROXY_BODY = 256 * 1024
"""The hub's own limit on API bodies; larger ones are refused before they are forwarded."""
_HOP_HEADERS = ("Content-Type", "Allow")


class ExposeRequest(pydantic.BaseModel):
    """Body of ``POST tunnels/expose``."""

    model_config = pydantic.ConfigDict(extra="forbid")

    port: int = pydantic.Field(ge=1, le=65535)
    host: str = "127.0.0.1"
    name: str | None = None
    protocol: str = "auto"
    public: bool = False


class TunnelsExtension(Protocol):
    """What the handlers ask of the extension app (``TunnelsApp``, which imports this module)."""

    def info(self) -> dict[str, str]:
        """``{mode, hubUrl, apiBase}`` (and ``originUrl``) for ``GET tunnels/info``."""

    def origin_url(self, slug: str) -> str | None:
        """``http://{slug}.localhost:{port}/`` where the tunnel is also served, or None."""

    async def ready_connector(self) -> Connector:
        """The started connector (waits while it starts; raises why it could not start)."""

    def remote_client(self) -> tuple[httpx.AsyncClient, str, str]:
        """The HTTP client, hub URL and token used to forward API calls to the remote hub."""


class _ExtensionHandler(APIHandler):
    """Base of the extension's handlers: the app, and errors in the API's envelope."""

    tunnels: TunnelsExtension

    def initialize(self, tunnels: TunnelsExtension) -> None:
        """Receive the extension app (tornado calls this per request)."""
        self.tunnels = tunnels

    def send_error_envelope(
        self, status: int, code: str, message: str, details: Any = None
    ) -> None:
        """Finish with ``{code, message, details}``."""
        self.set_status(status)
        self.finish({"code": code, "message": message, "details": details})

    def body_as(self, model: type[M], port_field: str) -> M | None:
        """The JSON body as ``model``; None after answering 400 (``INVALID_PORT`` when the
        field ``port_field`` is wrong)."""
        try:
            return model.model_validate_json(self.request.body or b"{}")
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(part) for part in first["loc"])
            code = ErrorCode.INVALID_PORT if field == port_field else ErrorCode.INVALID_INPUT
            message = f"{field}: {first['msg']}" if field else first["msg"]
            self.send_error_envelope(400, code.value, message, {"field": field})
            return None

    def send_tunnel_error(self, exc: TunnelError) -> None:
        """Answer an SDK or connector error in the API's envelope."""
        if isinstance(exc, APIError):
            self.send_error_envelope(exc.status_code, exc.code or "", exc.message, exc.details)
        else:  # hub unreachable, connector failed to start
            self.send_error_envelope(503, ErrorCode.AGENT_UNAVAILABLE.value, str(exc))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Jupyter's refusals in the API's envelope."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(error, "log_message", None) or self._reason
        if status_code in (401, 403):
            code = ErrorCode.MISSING_AUTH if self.current_user is None else ErrorCode.INVALID_TOKEN
        elif status_code >= 500:
            code, message = ErrorCode.INTERNAL_ERROR, "internal error: see the server's log"
        else:
            code = ErrorCode.INVALID_INPUT
        self.send_error_envelope(status_code, code.value, message)


class InfoHandler(_ExtensionHandler):
    """``GET {base_url}tunnels/info``: which hub serves this server's tunnels."""

    @web.authenticated
    async def get(self) -> None:
        """Send ``{mode, hubUrl, apiBase}``."""
        self.finish(self.tunnels.info())


class ExposeHandler(_ExtensionHandler):
    """``POST {base_url}tunnels/expose``: the server's connector exposes a local port."""

    @web.authenticated
    async def post(self) -> None:
        """Expose ``{port, host?, name?, protocol?, public?}``; send the Tunnel, plus
        ``targetListening``: whether the port accepted a connection just now (null for udp,
        which cannot be probed), and ``originUrl``: where the tunnel is also served at an
        origin of its own, ``http://{slug}.localhost:{port}/`` (null when the server is not on
        loopback, or the tunnel is not HTTP).

        Posting the same port again answers with the same tunnel. A port nothing listens on
        is exposed all the same (the app may start later); ``targetListening`` lets the
        caller say so at once, where the tunnel's ``readiness`` is as of the connector's last
        heartbeat, from before this tunnel was served.
        """
        wanted = self.body_as(ExposeRequest, "port")
        if wanted is None:
            return
        try:
            connector = await self.tunnels.ready_connector()
            tunnel = await connector.expose(
                wanted.port,
                host=wanted.host,
                name=wanted.name,
                protocol=wanted.protocol,
                public=wanted.public,
            )
        except TargetNotAllowed as exc:
            self.send_error_envelope(400, ErrorCode.INVALID_INPUT.value, str(exc))
            return
        except TunnelError as exc:
            self.send_tunnel_error(exc)
            return
        answer = tunnel.model_dump(mode="json", by_alias=True)
        answer["targetListening"] = (
            None
            if tunnel.protocol == "udp"
            else await accepts_connections(tunnel.target.host, tunnel.target.port)
        )
        web_tunnel = tunnel.protocol in ("http", "https")
        answer["originUrl"] = self.tunnels.origin_url(tunnel.slug) if web_tunnel else None
        self.finish(answer)


class ConnectRequest(pydantic.BaseModel):
    """Body of ``POST tunnels/connect``."""

    model_config = pydantic.ConfigDict(extra="forbid", alias_generator=to_camel)

    tunnel: str = pydantic.Field(min_length=1, max_length=200)
    local_port: int | None = pydantic.Field(default=None, ge=1, le=65535)
    share_token: str | None = pydantic.Field(default=None, min_length=1, max_length=200)


class ConnectHandler(_ExtensionHandler):
    """``POST {base_url}tunnels/connect``: the server's connector binds a port for a tunnel, so
    every kernel of this server reaches it at ``127.0.0.1:port`` (docs/reach.md)."""

    @web.authenticated
    async def post(self) -> None:
        """Connect ``{tunnel, localPort?, shareToken?}``; send the connection (201)."""
        wanted = self.body_as(ConnectRequest, "localPort")
        if wanted is None:
            return
        try:
            connector = await self.tunnels.ready_connector()
            connection = await connector.connect(
                wanted.tunnel, local_port=wanted.local_port, share_token=wanted.share_token
            )
        except TunnelError as exc:
            self.send_tunnel_error(exc)
            return
        self.set_status(201)
        self.finish(connection.model_dump_json(by_alias=True))


class RemoteApiHandler(_ExtensionHandler):
    """``{base_url}tunnels/v1/...`` in remote mode: forwards JSON calls to the remote hub.

    The caller authenticates to Jupyter; the hub sees the configured token. Only the API's
    JSON is forwarded: no cookies, no Jupyter headers.
    """

    @web.authenticated
    async def get(self, path: str) -> None:
        """Forward a GET."""
        await self._forward(path)

    @web.authenticated
    async def post(self, path: str) -> None:
        """Forward a POST."""
        await self._forward(path)

    @web.authenticated
    async def patch(self, path: str) -> None:
        """Forward a PATCH."""
        await self._forward(path)

    @web.authenticated
    async def put(self, path: str) -> None:
        """Forward a PUT."""
        await self._forward(path)

    @web.authenticated
    async def delete(self, path: str) -> None:
        """Forward a DELETE."""
        await self._forward(path)

    async def _forward(self, path: str) -> None:
        body = self.request.body
        if len(body) > MAX_PROXY_BODY:
            message = f"the body has {len(body)} bytes; the limit is {MAX_PROXY_BODY}"
            self.send_error_envelope(413, ErrorCode.PAYLOAD_TOO_LARGE.value, message)
            return
        client, hub_url, token = self.tunnels.remote_client()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if body:
            headers["Content-Type"] = self.request.headers.get("Content-Type", "application/json")
        try:
            answer = await client.request(
                self.request.method or "GET",
                f"{hub_url}/v1/{path}",
                params=self.request.query,
                content=body or None,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            message = f"the tunnels hub at {hub_url} did not answer: {exc!r}"
            self.send_error_envelope(502, ErrorCode.AGENT_UNAVAILABLE.value, message)
            return
        if "json" not in answer.headers.get("Content-Type", ""):
            message = f"the tunnels hub at {hub_url} answered {answer.status_code} without JSON"
            self.send_error_envelope(502, ErrorCode.INTERNAL_ERROR.value, message)
            return
        self.set_status(answer.status_code)
        for name in _HOP_HEADERS:
            if name in answer.headers:
                self.set_header(name, answer.headers[name])
        self.finish(answer.content)
