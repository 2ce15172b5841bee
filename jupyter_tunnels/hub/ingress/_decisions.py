"""What the ingress policy decides about one request: frozen data, no behaviour.

The policy (``_policy.py``) turns a parsed request head into exactly one of these; the front
(``_front.py``) carries it out. Keeping the decision as data is what lets both hostings, the
standalone hub's port and a Jupyter server's port, share one policy: neither can add a rule of
its own without it showing up here.
"""

from __future__ import annotations

import dataclasses

from ..._core.errors import ErrorCode
from ..._wire.http1 import RequestHead
from ..services._agents import AgentSession
from ..services._routing import Route
from ._response_rewrite import ResponseRewrite

__all__ = [
    "Answer",
    "AskOwner",
    "Decision",
    "Forward",
    "JoinPool",
    "LogIn",
    "LoginPrompt",
    "OpenStream",
    "Redirect",
    "ToHub",
]

Fields = tuple[tuple[bytes, bytes], ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Forward:
    """Relay the request to the tunnel's app, with the head rewritten for it."""

    route: Route
    head: RequestHead
    """The head the app receives (path without the routing prefix, forwarding fields set,
    the hub's and the hosting's credentials removed)."""
    path: bytes
    """The path the app sees, for the request log."""
    close_after: bool
    """The visitor asked to close the connection after this request."""
    rewrite: ResponseRewrite
    """How the app's response heads are rewritten to keep the visitor inside the tunnel."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """The hub answers by itself with an error (401, 403, 404, 405, 410, 429, 503, 400...)."""

    status: int
    code: ErrorCode
    message: str
    headers: Fields = ()
    """More response fields (``WWW-Authenticate``, ``Allow``, ``Retry-After``)."""
    html: bool = False
    """A browser asked: a page rather than JSON."""
    route: Route | None = None
    """The tunnel the request was for, when it is known (its request log records it)."""
    path: bytes = b""
    details: dict[str, object] | None = None
    """The JSON envelope's ``details`` (a share's refused and allowed methods)."""
    login: LoginPrompt | None = None
    """A browser turned away from a private tunnel: the page is the hub's login form."""


@dataclasses.dataclass(frozen=True, slots=True)
class LoginPrompt:
    """What the standalone hub's login page needs (``_login.py``)."""

    action: str
    """Where the form posts (``{tunnel}/.jupyter-tunnels/login``)."""
    back: str
    """Where the browser goes once logged in (the page it asked for)."""
    error: str | None = None
    """Why the last attempt failed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Redirect:
    """The hub redirects: ``308`` to add the slash after a slug, ``303`` after a share link
    set its cookie."""

    status: int
    location: bytes
    headers: Fields = ()
    route: Route | None = None
    path: bytes = b""


@dataclasses.dataclass(frozen=True, slots=True)
class ToHub:
    """Not a tunnel: the request is for the hub's host itself (the standalone hub's API and
    control channel, or, inside Jupyter, Jupyter's own pages and API)."""

    head: RequestHead


@dataclasses.dataclass(frozen=True, slots=True)
class JoinPool:
    """A connector's data connection: answer ``101`` and give the connection to its session."""

    session: AgentSession


@dataclasses.dataclass(frozen=True, slots=True)
class OpenStream:
    """``CONNECT slug:port`` allowed: a raw two-way stream to the tunnel's target."""

    route: Route


@dataclasses.dataclass(frozen=True, slots=True)
class AskOwner:
    """The policy needs to know who sent the request (a private tunnel, and the credential
    is not in any cache): the front asks the hosting's identities, then
    :meth:`~._policy.IngressPolicy.with_owner` decides."""

    route: Route
    head: RequestHead
    bearer: str | None
    path: bytes
    prefix: bytes
    client: str
    connect: bool
    """A ``CONNECT`` (decided into :class:`OpenStream`) rather than an HTTP request."""


@dataclasses.dataclass(frozen=True, slots=True)
class LogIn:
    """A browser posted the standalone hub's login form for a private tunnel: the front reads
    the form (at most ``MAX_LOGIN_FORM`` bytes), asks the identities whose token it holds,
    then the policy's :class:`~._login.LoginCookies` answer."""

    route: Route
    head: RequestHead
    path: bytes
    prefix: bytes


Decision = Forward | Answer | Redirect | ToHub | JoinPool | OpenStream | AskOwner | LogIn
"""Everything the policy can decide."""
