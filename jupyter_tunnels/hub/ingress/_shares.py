"""Share links in the standalone front: the byte-level side of ``_share_gate.py``.

:func:`share_decision` looks for a share token in a parsed request head (query, cookie, bearer),
removes it from what the app will see, and judges the request by the share. The front then
relays the request (with the cleaned path), refuses it, or answers the redirect that sets the
share cookie for a browser.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..._wire.http1 import RequestHead
from ..services._routing import Route
from ..services._share_rules import (
    COOKIE_NAME,
    QUERY_PARAM,
    Refusal,
    cookie_header,
    judge,
    take_cookie,
    take_query_param,
    wants_cookie,
)
from ..store._clock import now
from ..store._owners import SHARE_TOKEN_PREFIX

if TYPE_CHECKING:
    from .._app import Hub

__all__ = ["ShareDecision", "share_decision"]

_PARAM = QUERY_PARAM.encode() + b"="
_COOKIE = COOKIE_NAME.encode()
_BEARER_SHARE = b"bearer " + SHARE_TOKEN_PREFIX.encode()


@dataclasses.dataclass(frozen=True)
class ShareDecision:
    """What to do with a request that carried a share token."""

    path: bytes
    """The request target the app sees (the token removed)."""
    refusal: Refusal | None = None
    redirect: bytes | None = None
    """A complete ``303`` response that sets the share cookie (a browser opening the link)."""


def share_decision(
    hub: Hub, head: RequestHead, route: Route, path: bytes, prefix: bytes
) -> ShareDecision | None:
    """Judge a tunnel request by its share token; None when it carries none.

    ``path`` is the target the app would see (path and query), ``prefix`` the routing prefix
    (``/t/{slug}``, or empty for subdomains). The token's cookie and bearer fields are removed
    from ``head`` here; the caller sends ``decision.path`` as the target.
    """
    from_query: str | None = None
    if _PARAM in path:
        bare, _, query = path.partition(b"?")
        from_query, rest = take_query_param(query.decode("latin-1"))
        path = bare + (b"?" + rest.encode("latin-1") if rest else b"")
    from_cookie = _take_cookie_field(head)
    from_bearer = _take_bearer_field(head)
    token = from_query or from_cookie or from_bearer
    if token is None:
        return None
    method = head.method.decode("latin-1")
    rule = hub.router.share_for_token(token)
    browser = from_query is not None and wants_cookie(
        method, _text(head.get(b"accept")), _text(head.get(b"sec-fetch-mode"))
    )
    app_path = path.partition(b"?")[0].decode("latin-1")
    moment = now()
    refusal = judge(rule, route.tunnel_id, method, app_path, moment, consume=not browser)
    if refusal is not None or not browser:
        return ShareDecision(path, refusal)
    assert rule is not None  # judge refuses a missing rule
    max_age = None if rule.expires_at is None else rule.expires_at - moment
    cookie = cookie_header(
        token,
        (prefix + b"/").decode("latin-1"),
        max_age,
        secure=hub.config.scheme == "https",
    )
    location = prefix + path
    redirect = (
        b"HTTP/1.1 303 See Other\r\nLocation: %s\r\nSet-Cookie: %s\r\nCache-Control: no-store\r\n"
        b"Referrer-Policy: no-referrer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        % (location, cookie.encode("latin-1"))
    )
    return ShareDecision(path, redirect=redirect)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _take_cookie_field(head: RequestHead) -> str | None:
    for index, (name, value) in enumerate(head.fields):
        if name.lower() == b"cookie" and _COOKIE in value:
            token, rest = take_cookie(value.decode("latin-1"))
            if rest:
                head.fields[index] = (name, rest.encode("latin-1"))
            else:
                del head.fields[index]
            return token
    return None


def _take_bearer_field(head: RequestHead) -> str | None:
    for index, (name, value) in enumerate(head.fields):
        if name.lower() == b"authorization" and value[:11].lower() == _BEARER_SHARE:
            del head.fields[index]
            return value[7:].strip().decode("latin-1")
    return None
