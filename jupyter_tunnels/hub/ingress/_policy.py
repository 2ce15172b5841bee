"""The ingress policy: what to do with one request, decided from its head alone, with no I/O.

Both hostings ask this one policy about every request on every visitor connection (the
standalone hub's port and, embedded, a Jupyter server's port after the hand-over in
``_handover.py``); neither has a rule of its own. In order, for one request:

1. **Routing**: ``CONNECT slug:port`` is a raw stream; ``{slug}.{domain}`` (subdomain routing)
   or ``{mount}/t/{slug}/...`` is a tunnel; a connector's data-connection upgrade joins its
   session's pool; anything else is for the hub's host itself (:class:`~._decisions.ToHub`).
   An unknown slug is ``404``, one whose lease ran out ``503`` with the reason, a slug without
   its slash ``308``.
2. **Share links**: a request carrying a share token (query, cookie or bearer) is judged by
   the share alone (``_shares.py``): revoked ``403``, expired ``410``, path ``403``, method
   ``405``, rate ``429``; a browser opening the link gets ``303`` and the share cookie.
3. **Access**: public tunnels let anyone in; token tunnels want the relay lease's current
   worker token; private ones their owner, as the hosting's :class:`Identities` tell from the
   request (the owner's API token; inside Jupyter also Jupyter's own login). When no cache
   knows the credential the policy says :class:`~._decisions.AskOwner` and decides again with
   the answer (:meth:`IngressPolicy.with_owner`). Refused: ``401`` with ``WWW-Authenticate``;
   a browser opening a page is shown how to log in instead (``_login.py``: Jupyter's login, or
   the standalone hub's login form, whose signed cookie then opens that one tunnel; at a
   tunnel's own origin ``{slug}.localhost`` inside Jupyter, a one-time code from Jupyter's
   authorize page, then the same kind of cookie, ``_origin.py``).
4. **Pause**: a paused or stopping tunnel is ``503``.
5. **Rewriting** (``_rewrite.py``): the routing prefix stripped, ``Host`` and
   ``X-Forwarded-*`` set by the hub, the hub's and the hosting's credentials removed; and how
   the app's response heads will be rewritten (``_response_rewrite.py``: redirects and cookie
   paths kept inside the tunnel).

Framing (``Content-Length`` against ``Transfer-Encoding``, folded or malformed lines, field
names outside the token characters or differing from a framing field only by ``_``, head size,
version) is checked by the head parser (``_wire/http1.py``) before the policy sees the head;
:meth:`IngressPolicy.refuse_framing` says how such a request is answered.

Slow heads: the front tells the policy when a visitor's head is begun but not complete
(:meth:`IngressPolicy.hold_head`) and when it is no more (:meth:`IngressPolicy.release_head`);
one client address may hold :attr:`PolicySettings.max_unfinished_heads` at once (``429``
beyond), and a head not complete within :attr:`PolicySettings.head_timeout` is answered
:meth:`IngressPolicy.head_too_slow` (``408``), then the connection closes.
"""

from __future__ import annotations

import collections

from ..._core.errors import ErrorCode
from ..._core.models import Access
from ..._wire.http1 import HeadError, RequestHead
from ..._wire.protocol import DATA_PATH, DATA_UPGRADE, SESSION_HEADER
from ..services._agents import AgentRegistry
from ..services._routing import Route, Router
from ._decisions import (
    Answer,
    AskOwner,
    Decision,
    Forward,
    JoinPool,
    OpenStream,
    Redirect,
    ToHub,
)
from ._hostings import BearerOwners, Identities, PolicySettings
from ._login import (
    LoginCookies,
    is_login_post,
    login_page,
    login_posted,
    navigates,
    to_login,
)
from ._origin import OriginLogins, is_callback
from ._pages import wants_html
from ._response_rewrite import response_rewrite
from ._rewrite import (
    bearer,
    rewrite_for_hub,
    rewrite_for_tunnel,
)
from ._shares import judge_share

__all__ = ["BearerOwners", "Identities", "IngressPolicy", "PolicySettings"]
# BearerOwners, Identities and PolicySettings (what differs between hostings) are in
# _hostings.py; they are re-exported here, where the policy's users look for them

TUNNEL_PATH = "/t/"
"""Where path routing starts, under the hub's mount (``/t/{slug}/``)."""
_SESSION_FIELD = SESSION_HEADER.lower().encode()
_CHALLENGE = ((b"WWW-Authenticate", b'Bearer realm="jupyter-tunnels"'),)
_FRAMING_CODES = {
    400: ErrorCode.INVALID_INPUT,
    431: ErrorCode.REQUEST_HEAD_TOO_LARGE,
    502: ErrorCode.LOCAL_UNAVAILABLE,
    505: ErrorCode.UNSUPPORTED_HTTP_VERSION,
}


class IngressPolicy:
    """Decides every visitor request of one hosting (see the module's docstring)."""

    def __init__(
        self,
        router: Router,
        agents: AgentRegistry,
        identities: Identities,
        settings: PolicySettings,
    ) -> None:
        self.router = router
        self.agents = agents
        self.identities = identities
        self.settings = settings
        self._path_prefix = settings.mount + TUNNEL_PATH.encode()
        self._data_path = settings.mount + DATA_PATH.encode()
        self._domain_suffix = b"." + settings.domain if settings.domain else None
        self._secure = settings.scheme == b"https"
        self.logins = LoginCookies(secure=self._secure) if settings.login_url is None else None
        """The hub's own login cookies (standalone; inside Jupyter, Jupyter's login)."""
        authorize = settings.authorize_path
        self.origins = (
            OriginLogins(authorize, settings.jupyter_host) if authorize is not None else None
        )
        """Inside Jupyter, the logins of tunnels at their own origin ``{slug}.localhost``."""
        self.unfinished_heads: collections.Counter[str] = collections.Counter()
        """Request heads begun and not complete, by client address."""

    # --- the decision --------------------------------------------------------------------

    def decide(self, head: RequestHead, client: str) -> Decision:
        """What to do with this request (``client``: the visitor's address)."""
        if head.method == b"CONNECT":
            return self._connect(head, client)
        found = self._tunnel_for(head.host, head.target)
        if found is None:
            if head.upgrade and head.target.partition(b"?")[0] == self._data_path:
                return self._data_connection(head)
            if self.settings.tell_hub_the_client:
                rewrite_for_hub(head, client)
            return ToHub(head)
        slug, path, prefix = found
        html = wants_html(head.get(b"accept"))
        route = self.router.by_slug.get(slug)
        if route is None:
            reason = self.router.offline.get(slug)
            if reason is not None:
                message = f"tunnel {slug!r} is offline ({reason}); it may come back"
                return Answer(503, ErrorCode.AGENT_UNAVAILABLE, message, html=html, path=path)
            message = f"no tunnel is open at {slug!r}"
            return Answer(404, ErrorCode.TUNNEL_NOT_FOUND, message, html=html, path=path)
        if not path.startswith(b"/"):
            bare, question, query = head.target.partition(b"?")
            return Redirect(308, bare + b"/" + question + query, route=route, path=path)
        # the login form and its cookie only where the tunnel has an origin of its own: with
        # path routing every tunnel shares the hub's, and another tunnel's page could read
        # the form as the owner types or fetch through the cookie
        if self.logins is not None and not prefix and is_login_post(head, route, path):
            return login_posted(head, route, path, prefix)
        if self.origins is not None and not prefix and is_callback(path):
            return self.origins.callback(head, route, path)
        shared = judge_share(self.router, head, route, path, prefix, html=html, secure=self._secure)
        if shared is None:
            return self._access(head, route, path, prefix, client, connect=False)
        if isinstance(shared, bytes):
            return self._let_through(head, route, shared, prefix, client, html)
        return shared

    def with_owner(self, question: AskOwner, owner_id: str | None) -> Decision:
        """Decide an :class:`~._decisions.AskOwner` once the owner is known."""
        head, route = question.head, question.route
        if owner_id is None or owner_id != route.owner_id:
            return self._unauthorized(head, route, question.bearer, question.path, question.prefix)
        html = wants_html(head.get(b"accept"))
        return self._allowed(
            head, route, question.path, question.prefix, question.client, question.connect, html
        )

    def refuse_framing(self, error: HeadError, html: bool = False) -> Answer:
        """How a request the head parser refused is answered (the connection then closes)."""
        code = _FRAMING_CODES.get(error.status, ErrorCode.INVALID_INPUT)
        return Answer(error.status, code, error.message, html=html)

    # --- slow heads ----------------------------------------------------------------------

    def hold_head(self, client: str) -> Answer | None:
        """A visitor from ``client`` began a head it has not finished: None if it may hold it
        (then :meth:`release_head` once it is finished or gone), else the refusal (``429``)."""
        held = self.unfinished_heads
        if held[client] >= self.settings.max_unfinished_heads:
            limit = self.settings.max_unfinished_heads
            message = f"{client} already has {limit} unfinished requests: finish them first"
            return Answer(429, ErrorCode.RATE_LIMITED, message)
        held[client] += 1
        return None

    def release_head(self, client: str) -> None:
        """A head :meth:`hold_head` let ``client`` hold is finished, or its connection gone."""
        held = self.unfinished_heads
        held[client] -= 1
        if held[client] <= 0:
            del held[client]

    def head_too_slow(self) -> Answer:
        """The answer to a head not complete within the head timeout (the connection then
        closes)."""
        seconds = f"{self.settings.head_timeout:g}"
        message = f"the request head was not complete within {seconds} s"
        return Answer(408, ErrorCode.REQUEST_TIMEOUT, message)

    # --- routing -------------------------------------------------------------------------

    def _tunnel_for(self, host: bytes, target: bytes) -> tuple[str, bytes, bytes] | None:
        """``(slug, path the app sees, routing prefix)``, or None when not for a tunnel."""
        suffix = self._domain_suffix
        if suffix is not None:
            name = (host.rsplit(b":", 1)[0] if not host.endswith(b"]") else host).lower()
            # the hub's own name is never a tunnel, even when it sits under the domain
            if name.endswith(suffix) and name != self.settings.hub_name:
                slug = name[: -len(suffix)].decode("ascii", "replace")
                if slug and "." not in slug:
                    return slug, target, b""
        if not target.startswith(self._path_prefix):
            return None
        rest = target[len(self._path_prefix) :]
        slash, question = rest.find(b"/"), rest.find(b"?")
        if slash < 0 or 0 <= question < slash:
            slash = question
        end = len(rest) if slash < 0 else slash
        path = rest[end:]
        if path.startswith(b"?"):
            path = b""  # /t/slug?x: redirected to /t/slug/?x
        return rest[:end].decode("ascii", "replace"), path, self._path_prefix + rest[:end]

    # --- access --------------------------------------------------------------------------

    def _access(
        self,
        head: RequestHead,
        route: Route,
        path: bytes,
        prefix: bytes,
        client: str,
        *,
        connect: bool,
        html: bool = False,
    ) -> Decision:
        if route.access is Access.PUBLIC:
            return self._allowed(head, route, path, prefix, client, connect, html)
        token = bearer(head)
        if route.access is Access.TOKEN:
            if token and self.router.worker_token_matches(route, token):
                return self._allowed(head, route, path, prefix, client, connect, html)
            return self._unauthorized(head, route, token, path, prefix)
        logins = self.logins
        if logins is not None and not prefix and not connect and logins.admits(head, route):
            return self._allowed(head, route, path, prefix, client, connect, html)
        origins = self.origins
        if origins is not None and not prefix and not connect and origins.admits(head, route):
            return self._allowed(head, route, path, prefix, client, connect, html)
        known, owner = self.identities.known(head, token)
        if not known:
            return AskOwner(route, head, token, path, prefix, client, connect)
        if owner is None or owner != route.owner_id:
            return self._unauthorized(head, route, token, path, prefix)
        return self._allowed(head, route, path, prefix, client, connect, html)

    def _allowed(
        self,
        head: RequestHead,
        route: Route,
        path: bytes,
        prefix: bytes,
        client: str,
        connect: bool,
        html: bool,
    ) -> Decision:
        if connect:
            if not route.accepting:
                return self._not_accepting(head, route, path)
            return OpenStream(route)
        return self._let_through(head, route, path, prefix, client, html)

    def _let_through(
        self, head: RequestHead, route: Route, path: bytes, prefix: bytes, client: str, html: bool
    ) -> Decision:
        if not route.accepting:
            return self._not_accepting(head, route, path)
        settings = self.settings
        rewrite = response_rewrite(
            route.target_host, route.target_port, prefix, head.host, settings.scheme
        )
        close_after = rewrite_for_tunnel(
            head, route, path, prefix, client, settings.scheme, settings.foreign
        )
        return Forward(route, head, path, close_after, rewrite)

    def _not_accepting(self, head: RequestHead, route: Route, path: bytes) -> Answer:
        message = f"tunnel {route.slug!r} is {route.status.value}"
        html = wants_html(head.get(b"accept"))
        return Answer(503, ErrorCode.AGENT_UNAVAILABLE, message, html=html, route=route, path=path)

    def _unauthorized(
        self, head: RequestHead, route: Route, token: str | None, path: bytes, prefix: bytes
    ) -> Answer | Redirect:
        code = ErrorCode.INVALID_TOKEN if token else ErrorCode.MISSING_AUTH
        message = f"tunnel {route.slug!r} is {route.access.value}: {self.settings.login_hint}"
        html = wants_html(head.get(b"accept"))
        if navigates(head, route, html):  # a browser: it is shown how to log in
            if self.origins is not None and not prefix:  # at its own origin, through Jupyter
                return self.origins.to_authorize(head, route, path)
            login_url = self.settings.login_url
            if login_url is not None:
                return to_login(login_url, head, route, path, prefix)
            if not prefix:  # standalone, at the tunnel's own origin (see above)
                return login_page(head, route, path, prefix, code, message)
        return Answer(401, code, message, _CHALLENGE, html, route, path)

    # --- raw streams and data connections ------------------------------------------------

    def _connect(self, head: RequestHead, client: str) -> Decision:
        """``CONNECT slug:port``: a raw stream to a tunnel, after the same access checks."""
        name = head.target.decode("ascii", "replace").rsplit(":", 1)[0].lower()
        domain = self.settings.domain
        if domain and name.endswith("." + domain.decode()):
            name = name[: -len(domain) - 1]
        route = self.router.by_slug.get(name)
        if route is None:
            return Answer(404, ErrorCode.TUNNEL_NOT_FOUND, f"no tunnel is open at {name!r}")
        shared = judge_share(self.router, head, route, b"/", b"", html=False, secure=self._secure)
        if shared is None:
            return self._access(head, route, b"/", b"", client, connect=True)
        if isinstance(shared, bytes):
            return self._allowed(head, route, b"/", b"", client, True, False)
        return shared

    def _data_connection(self, head: RequestHead) -> Decision:
        """``GET /v1/agent/data`` with ``Upgrade``: a connector's data connection."""
        if (head.get(b"upgrade") or b"").lower() != DATA_UPGRADE.encode():
            message = f"data connections upgrade to {DATA_UPGRADE}"
            return Answer(400, ErrorCode.INVALID_INPUT, message)
        token = bearer(head) or ""
        session_id = (head.get(_SESSION_FIELD) or b"").decode("ascii", "replace")
        session = self.agents.for_data_connection(session_id, token)
        if session is None:
            message = "unknown session or agent token for a data connection"
            return Answer(401, ErrorCode.INVALID_TOKEN, message, _CHALLENGE)
        return JoinPool(session)
