"""The hub's visitor side as tornado handlers: ``/t/{slug}/...`` and connectors' data connections.

The standalone hub answers visitors in its own front (``_front.py``); these handlers serve the
same paths where the hub is mounted in a tornado application, as inside Jupyter.

Each visitor request is judged on its own: the tunnel must be live, its access rule met
(``private``: the owner's API token as a bearer; ``token``: the relay lease's current worker
token; ``public``: nothing), and it must not be paused. Only then is a connection to the app
opened (through the tunnel's connector) and the visitor's connection handed to
:func:`~jupyter_tunnels.hub._visitor_relay.relay_visitor`, which streams both ways.

Decision: the hub's own answers (a refusal, a redirect, a 502/503) keep a kept-alive connection
usable. Tornado reads a streamed body only after ``prepare``, and a handler that finishes
before the body is read makes tornado close the connection right after the answer, without
saying so (no ``Connection: close``): a visitor's next request on it then met a reset. So the
hub answers once tornado has read the request's body (and dropped it, :data:`DRAINED_BODY`
bytes at most); a longer or chunked body is answered at once with ``Connection: close``, and
what the visitor still sends is read and dropped (for :data:`LINGER` seconds at most) before
the connection closes: closing a socket with unread bytes sends a reset, which can destroy
the answer before the visitor reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from tornado import httputil, web
from tornado.http1connection import HTTP1Connection

from ..._core.errors import HTTP_STATUS, ErrorCode
from ..._core.models import Access
from ..._wire.http1 import HeadError
from ..._wire.protocol import DATA_UPGRADE, SESSION_HEADER
from .._exceptions import HubError
from .._visitor_relay import CHUNK, RequestBody, relay_visitor, stream_pair
from ..services._routing import Route
from ..services._share_rules import (
    COOKIE_NAME,
    cookie_header,
    judge,
    take_cookie,
    take_query_param,
    wants_cookie,
)
from ..services._traffic import Exchange
from ..store._clock import now
from ..store._owners import SHARE_TOKEN_PREFIX
from ._pages import error_page, wants_html
from ._streams import open_stream

if TYPE_CHECKING:
    from .._app import Hub

__all__ = ["DRAINED_BODY", "LINGER", "DataConnectionHandler", "IngressHandler"]

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]

DRAINED_BODY = 1024 * 1024
"""The longest request body the hub reads (and drops) to keep the connection after its answer."""
LINGER = 5.0
"""Seconds the hub drops what a visitor still sends after an answer that closes the connection."""

_HOP_FIELDS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "host",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-prefix",
    }
)
"""Request fields the hub sets itself (or that belong to the visitor's hop only)."""


class _HubErrors(web.RequestHandler):
    """Hub errors answered in the API's ``{code, message, details}`` envelope."""

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, HubError) and not self._finished:
            status = HTTP_STATUS[e.code]
            self.set_status(status)
            self.set_header("Cache-Control", "no-store")
            if wants_html(self.request.headers.get("Accept")):
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(error_page(status, e.code.value, e.message))
                return
            self.set_header("Content-Type", "application/json; charset=utf-8")
            body: dict[str, Any] = {"code": e.code.value, "message": e.message}
            self.finish(json.dumps({**body, "details": e.details}))
            return
        super()._handle_request_exception(e)


class _Redirect(NamedTuple):
    """A redirect the hub answers by itself."""

    location: str
    status: int


@web.stream_request_body
class IngressHandler(_HubErrors):
    """Serves ``/t/{slug}`` and everything under it, for any method, streaming both ways."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "DELETE", "PATCH", "PUT", "OPTIONS")

    hub: Hub
    exchange: Exchange | None
    own_answer: HubError | _Redirect | None
    """The hub's answer to this request, given once tornado has read the body."""

    def initialize(self, hub: Hub) -> None:
        """Receive the hub (tornado calls this per request)."""
        self.hub = hub
        self.exchange = None
        self.own_answer = None

    async def prepare(self) -> None:
        """Judge the request: relay it to the app, or answer it from the hub.

        This runs before tornado reads the body: a relayed body flows to the app untouched; the
        hub's own answer waits for the body (up to :data:`DRAINED_BODY`, dropped) so that the
        connection serves the visitor's next request.
        """
        try:
            self.own_answer = await self._judge_and_relay()
        except HubError as refusal:
            self.own_answer = refusal
        if self.own_answer is not None and not self._body_fits():
            self.set_header("Connection", "close")  # tornado closes: say so
            # a duplicate keeps the socket open past tornado's close, to linger on it
            connection = cast(HTTP1Connection, self.request.connection)
            self.hub.spawn(_linger(connection.stream.socket.dup()))
            self._answer()

    # the hub's own answer, once the body is read (a relayed request never gets here)
    def get(self, *_args: str, **_kwargs: str) -> None:
        """Give the hub's own answer."""
        self._answer()

    head = post = delete = patch = put = options = get

    def _answer(self) -> None:
        answer, self.own_answer = self.own_answer, None
        if isinstance(answer, HubError):
            raise answer
        if answer is not None:
            self.redirect(answer.location, status=answer.status)

    def _body_fits(self) -> bool:
        """Whether the request's body is short enough to read and drop (none fits too)."""
        headers = self.request.headers
        if "Transfer-Encoding" in headers:
            return False
        length = headers.get("Content-Length", "0")
        return length.isdigit() and int(length) <= DRAINED_BODY

    async def _judge_and_relay(self) -> _Redirect | None:
        """Relay the request (None), or the redirect the hub answers; raise its refusal."""
        slug = self.path_kwargs["slug"]
        route = self.hub.router.by_slug.get(slug)
        if route is None:
            reason = self.hub.router.offline.get(slug)
            if reason is not None:
                message = f"tunnel {slug!r} is offline ({reason}); it may come back"
                raise HubError(ErrorCode.AGENT_UNAVAILABLE, message)
            raise HubError(ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel is open at {slug!r}")
        prefix, _, rest = self.request.path.partition(f"/t/{slug}")
        prefix += f"/t/{slug}"
        if not rest.startswith("/"):
            query = f"?{self.request.query}" if self.request.query else ""
            return _Redirect(f"{prefix}/{query}", 308)  # 308 keeps the method and body
        traffic = self.hub.traffic.for_tunnel(route.tunnel_id, route.slug, route.owner_id)
        method = self.request.method or ""
        client = self.request.remote_ip or ""
        self.exchange = Exchange(method.encode(), traffic, rest.encode(), client)
        share_token, from_query = self._share_token()
        if share_token is None:
            await self._check_access(route)
        elif cookie_redirect := self._judge_share(route, share_token, from_query, rest, prefix):
            return cookie_redirect
        if not route.accepting:
            raise HubError(ErrorCode.AGENT_UNAVAILABLE, f"tunnel {slug!r} is {route.status.value}")
        upgrade = self._wants_upgrade()
        head = self._request_head(route, rest, prefix, upgrade)
        try:
            body = RequestBody(head)
        except HeadError as exc:
            raise HubError(ErrorCode.INVALID_INPUT, exc.message) from None
        reader, writer = await self.open_upstream(route)
        self.visitor_arrived()
        visitor = self.detach()
        exchange, self.exchange = self.exchange, None
        relay = relay_visitor(
            visitor,
            reader,
            writer,
            head,
            upgrade=upgrade,
            body=body,
            exchange=exchange,
            html_errors=wants_html(self.request.headers.get("Accept")),
        )
        self.hub.spawn(_counted(self.hub, relay))
        return None

    def on_finish(self) -> None:
        """Record a request the hub answered by itself (refused, paused, no connector)."""
        if self.exchange is not None:
            self.exchange.finish(self.get_status())
            self.exchange = None

    def on_connection_close(self) -> None:
        """The visitor left before the request was relayed: record it as such."""
        if self.exchange is not None:
            self.exchange.finish()
            self.exchange = None
        super().on_connection_close()

    def data_received(self, chunk: bytes) -> None:
        """The body of a refused request is read and dropped (a relayed one never gets here)."""

    # --- hooks for the Jupyter mount ---------------------------------------------------

    async def authorize_private(self, tunnel_id: str, token: str) -> bool:
        """Whether this request may reach a private tunnel: its owner's API token as a bearer.

        The Jupyter mount overrides this to accept Jupyter's own authentication too.
        """
        owner = await self.hub.router.owner_for_token(token) if token else None
        return owner is not None and owner == await self.hub.tunnels.owner_of(tunnel_id)

    async def open_upstream(self, route: Route) -> Streams:
        """A connection to the tunnel's app, through its connector's data connections."""
        transport, leftover = await open_stream(self.hub.agents, route, "tcp")
        return stream_pair(transport, leftover)

    def forwarded_fields(self) -> list[tuple[str, str]]:
        """The visitor's request fields the app may see (the mount drops its own credentials).

        A share token never goes on: not its cookie, not as a bearer.
        """
        fields: list[tuple[str, str]] = []
        for name, value in self.request.headers.get_all():
            lowered = name.lower()
            if lowered in _HOP_FIELDS:
                continue
            if lowered == "cookie" and COOKIE_NAME in value:
                value = take_cookie(value)[1]
                if not value:
                    continue
            if lowered == "authorization" and _share_bearer(value) is not None:
                continue
            fields.append((name, value))
        return fields

    def forwarded_query(self) -> str:
        """The query string the app sees (without a share token)."""
        return take_query_param(self.request.query)[1]

    def visitor_arrived(self) -> None:
        """Called for each request let through (the Jupyter mount counts it as activity)."""

    # --- the request -------------------------------------------------------------------

    async def _check_access(self, route: Route) -> None:
        if route.access is Access.PUBLIC:
            return
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if route.access is Access.TOKEN:
            allowed = bool(token) and self.hub.router.worker_token_matches(route, token)
        else:
            allowed = await self.authorize_private(route.tunnel_id, token)
        if not allowed:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter-tunnels"')
            code = ErrorCode.INVALID_TOKEN if token else ErrorCode.MISSING_AUTH
            message = f"this tunnel is {route.access.value}: send its token as a bearer"
            raise HubError(code, message)

    def _share_token(self) -> tuple[str | None, bool]:
        """The request's share token (query, cookie or bearer), and whether the query had it."""
        from_query = take_query_param(self.request.query)[0]
        if from_query is not None:
            return from_query, True
        cookie = self.request.headers.get("Cookie", "")
        token = take_cookie(cookie)[0] if COOKIE_NAME in cookie else None
        if token is None:
            token = _share_bearer(self.request.headers.get("Authorization", ""))
        return token, False

    def _judge_share(
        self, route: Route, token: str, from_query: bool, path: str, prefix: str
    ) -> _Redirect | None:
        """Raise the share's refusal; the redirect that sets the cookie for a browser."""
        method = self.request.method or ""
        rule = self.hub.router.share_for_token(token)
        browser = from_query and wants_cookie(
            method,
            self.request.headers.get("Accept"),
            self.request.headers.get("Sec-Fetch-Mode"),
        )
        moment = now()
        refusal = judge(rule, route.tunnel_id, method, path, moment, consume=not browser)
        if refusal is not None:
            for name, value in refusal.headers:
                self.set_header(name, value)
            raise HubError(refusal.code, refusal.message)
        if not browser:
            return None
        assert rule is not None  # judge refuses a missing rule
        max_age = None if rule.expires_at is None else rule.expires_at - moment
        secure = self.request.protocol == "https"
        self.set_header("Set-Cookie", cookie_header(token, prefix + "/", max_age, secure=secure))
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        query = self.forwarded_query()
        return _Redirect(self.request.path + (f"?{query}" if query else ""), 303)

    def _wants_upgrade(self) -> bool:
        connection = self.request.headers.get("Connection", "")
        tokens = {token.strip().lower() for token in connection.split(",")}
        return "upgrade" in tokens and "Upgrade" in self.request.headers

    def _request_head(self, route: Route, path: str, prefix: str, upgrade: bool) -> bytes:
        request = self.request
        query = self.forwarded_query()
        target = path + (f"?{query}" if query else "")
        fields = [
            (name, value)
            for name, value in self.forwarded_fields()
            if upgrade or name.lower() != "upgrade"
        ]
        if route.access is not Access.PUBLIC:
            fields = [(name, value) for name, value in fields if name.lower() != "authorization"]
        forwarded_for = request.headers.get("X-Forwarded-For")
        client = request.remote_ip or ""
        fields += [
            ("Host", f"{route.target_host}:{route.target_port}"),
            ("X-Forwarded-For", f"{forwarded_for}, {client}" if forwarded_for else client),
            ("X-Forwarded-Proto", request.protocol),
            ("X-Forwarded-Prefix", prefix),
            ("Connection", "Upgrade" if upgrade else "close"),
        ]
        if request.host:
            fields.append(("X-Forwarded-Host", request.host))
        lines = [f"{request.method} {target} {request.version}"]
        lines += [f"{name}: {value}" for name, value in fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _share_bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token.startswith(SHARE_TOKEN_PREFIX):
        return token
    return None


async def _linger(visitor: socket.socket) -> None:
    """Drop what the visitor sends until it closes (``LINGER`` seconds at most), then close."""
    loop = asyncio.get_running_loop()

    async def drop() -> None:
        while await loop.sock_recv(visitor, CHUNK):
            pass

    visitor.setblocking(False)
    try:
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(drop(), LINGER)
    finally:
        visitor.close()


async def _counted(hub: Hub, relay: Coroutine[Any, Any, None]) -> None:
    hub.open_visitors += 1
    try:
        await relay
    finally:
        hub.open_visitors -= 1


class DataConnectionHandler(_HubErrors):
    """``GET /v1/agent/data`` upgraded: a connector's data connection joins its session's pool.

    The agent token (bearer) and the session id header are the credentials; nothing may
    arrive before the ``101``.
    """

    hub: Hub

    def initialize(self, hub: Hub) -> None:
        """Receive the hub (tornado calls this per request)."""
        self.hub = hub

    async def get(self) -> None:
        """Check the credentials, answer ``101``, and give the connection to the session."""
        headers: httputil.HTTPHeaders = self.request.headers
        if headers.get("Upgrade", "").lower() != DATA_UPGRADE:
            raise HubError(ErrorCode.INVALID_INPUT, f"data connections upgrade to {DATA_UPGRADE}")
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        session = self.hub.agents.for_data_connection(headers.get(SESSION_HEADER, ""), token)
        if session is None:
            raise HubError(
                ErrorCode.INVALID_TOKEN, "unknown session or agent token for a data connection"
            )
        stream = self.detach()
        await stream.write(
            f"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
            f"Upgrade: {DATA_UPGRADE}\r\n\r\n".encode()
        )
        # asyncio takes the socket over from tornado: a duplicate survives tornado's close
        sock: socket.socket = stream.socket.dup()
        stream.close()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, sock)
        session.offer(transport)
