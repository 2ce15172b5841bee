"""The front's gates (``_front.py``): the access rule of each tunnel request, ``CONNECT`` raw
streams to tunnels, and connectors' data-connection upgrades.

A private tunnel needs its owner's API token as a bearer (checked against a cache first, then
the store), a token tunnel its relay lease's current worker token, a public one nothing; a
request carrying a share token is judged by the share instead (``_front_shares.py``).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ..._core.errors import ErrorCode
from ..._core.models import Access
from ..._wire.http1 import RequestHead
from ..._wire.protocol import DATA_UPGRADE, SESSION_HEADER
from ..._wire.splice import splice
from .._exceptions import HubError
from ..services._routing import Route
from ..services._share_rules import Refusal
from ._fields import bearer
from ._shares import share_decision
from ._streams import open_stream

if TYPE_CHECKING:
    from .._app import Hub
    from ._upstream import Pending, Upstream

__all__ = ["Gates"]

_SESSION_FIELD = SESSION_HEADER.lower().encode()


class Gates:
    """Mixin of :class:`~._front.FrontProtocol`: who may pass, and the raw upgrades."""

    if TYPE_CHECKING:  # provided by FrontProtocol
        hub: Hub
        transport: asyncio.Transport | None
        buffer: bytearray
        pending: collections.deque[Pending]
        upstream: Upstream | None
        paused: set[str]
        raw: bool
        closing: bool

        def send(self, data: bytes) -> None: ...

        def _fail(self, status: int, code: ErrorCode, message: str, extra: bytes = b"") -> None: ...

        def _wait(self, work: Coroutine[Any, Any, None]) -> None: ...

        def _tunnel_request(
            self, head: RequestHead, route: Route, path: bytes, prefix: bytes
        ) -> None: ...

    def _access(self, route: Route, head: RequestHead) -> bool | None:
        """True to let through, False when refused (answered), None to ask the store."""
        if route.access is Access.PUBLIC:
            return True
        token = bearer(head)
        if route.access is Access.TOKEN:
            if token and self.hub.router.worker_token_matches(route, token):
                return True
            self._refuse_auth(route, token)
            return False
        if not token:
            self._refuse_auth(route, token)
            return False
        known, owner = self.hub.router.cached_owner(token)
        if not known:
            return None
        if owner == route.owner_id:
            return True
        self._refuse_auth(route, token)
        return False

    async def _check_then_forward(
        self, head: RequestHead, route: Route, path: bytes, prefix: bytes
    ) -> None:
        token = bearer(head) or ""
        owner = await self.hub.router.owner_for_token(token)
        if owner != route.owner_id:
            self._refuse_auth(route, token)
            return
        self._tunnel_request(head, route, path, prefix)

    def _refuse(self, refusal: Refusal) -> None:
        extra = b"".join(b"%s: %s\r\n" % (n.encode(), v.encode()) for n, v in refusal.headers)
        self._fail(refusal.status, refusal.code, refusal.message, extra)

    def _refuse_auth(self, route: Route, token: str | None) -> None:
        code = ErrorCode.INVALID_TOKEN if token else ErrorCode.MISSING_AUTH
        message = f"tunnel {route.slug!r} is {route.access.value}: send its token as a bearer"
        self._fail(401, code, message, b'WWW-Authenticate: Bearer realm="jupyter-tunnels"\r\n')

    def _connect(self, head: RequestHead) -> None:
        """``CONNECT slug:port``: a raw stream to a tunnel, after the same access checks."""
        authority = head.target.decode("ascii", "replace")
        name = authority.rsplit(":", 1)[0].lower()
        domain = self.hub.config.domain
        if domain and name.endswith("." + domain):
            name = name[: -len(domain) - 1]
        route = self.hub.router.by_slug.get(name)
        if route is None:
            self._fail(404, ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel is open at {name!r}")
            return
        if self.pending or self.upstream is not None:
            self._fail(
                400, ErrorCode.INVALID_INPUT, "CONNECT must be the connection's first request"
            )
            return
        shared = share_decision(self.hub, head, route, b"/", b"")
        if shared is not None:
            if shared.refusal is not None:
                self._refuse(shared.refusal)
            else:
                self._wait(self._connect_stream(head, route, checked=True))
            return
        decided = self._access(route, head)
        if decided is False:
            return
        self._wait(self._connect_stream(head, route, checked=decided is True))

    async def _connect_stream(self, head: RequestHead, route: Route, *, checked: bool) -> None:
        if not checked:
            owner = await self.hub.router.owner_for_token(bearer(head) or "")
            if owner != route.owner_id:
                self._refuse_auth(route, bearer(head))
                return
        if not route.accepting:
            raise HubError(
                ErrorCode.AGENT_UNAVAILABLE, f"tunnel {route.slug!r} is {route.status.value}"
            )
        upstream, leftover = await open_stream(self.hub.agents, route, route.protocol)
        assert self.transport is not None
        self.raw = True
        self.send(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        untrack = self.hub.agents.session_for(route).track(
            route.tunnel_id, upstream, self.transport
        )
        done = splice(self.transport, upstream, to_a=leftover, to_b=bytes(self.buffer))
        self.buffer.clear()
        self.paused.clear()
        done.add_done_callback(lambda _: untrack())

    def _data_connection(self, head: RequestHead) -> None:
        """``GET /v1/agent/data`` with ``Upgrade``: join the agent's pool."""
        if (head.get(b"upgrade") or b"").lower() != DATA_UPGRADE.encode():
            raise HubError(ErrorCode.INVALID_INPUT, f"data connections upgrade to {DATA_UPGRADE}")
        token = bearer(head) or ""
        session_id = (head.get(_SESSION_FIELD) or b"").decode("ascii", "replace")
        session = self.hub.agents.for_data_connection(session_id, token)
        if session is None:
            raise HubError(
                ErrorCode.INVALID_TOKEN, "unknown session or agent token for a data connection"
            )
        if self.buffer or self.pending or self.transport is None:
            raise HubError(ErrorCode.INVALID_INPUT, "a data connection carries nothing before 101")
        self.send(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
            + DATA_UPGRADE.encode()
            + b"\r\n\r\n"
        )
        self.raw = True
        self.closing = True
        self.paused.clear()
        transport = self.transport
        self.transport = None
        transport.resume_reading()
        session.offer(transport)
