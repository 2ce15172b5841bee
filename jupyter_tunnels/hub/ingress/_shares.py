"""Share links at the ingress: the byte-level side of ``services/_share_rules.py``.

:func:`judge_share` looks for a share token in a parsed request head (query, cookie, bearer),
removes it from what the app will see, and judges the request by the share: let it through
(with the cleaned path), refuse it, or answer the redirect that sets the share cookie for a
browser opening the link.
"""

from __future__ import annotations

from ..._wire.http1 import RequestHead
from ..services._routing import Route, Router
from ..services._share_rules import (
    COOKIE_NAME,
    QUERY_PARAM,
    cookie_header,
    judge,
    take_cookie,
    take_query_param,
    wants_cookie,
)
from ..store._clock import now
from ..store._owners import SHARE_TOKEN_PREFIX
from ._decisions import Answer, Redirect

__all__ = ["judge_share"]

_PARAM = QUERY_PARAM.encode() + b"="
_COOKIE = COOKIE_NAME.encode()
_BEARER_SHARE = b"bearer " + SHARE_TOKEN_PREFIX.encode()
_REDIRECT_FIELDS = ((b"Cache-Control", b"no-store"), (b"Referrer-Policy", b"no-referrer"))


def judge_share(
    router: Router,
    head: RequestHead,
    route: Route,
    path: bytes,
    prefix: bytes,
    *,
    html: bool,
    secure: bool,
) -> bytes | Answer | Redirect | None:
    """Judge a tunnel request by its share token; None when it carries none.

    ``path`` is the target the app would see (path and query), ``prefix`` the routing prefix
    (``/t/{slug}``, or empty for subdomains). The token's cookie and bearer fields are removed
    from ``head`` here. Allowed: the target the app sees (the token removed from the query).
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
    rule = router.share_for_token(token)
    browser = from_query is not None and wants_cookie(
        method, _text(head.get(b"accept")), _text(head.get(b"sec-fetch-mode"))
    )
    app_path = path.partition(b"?")[0].decode("latin-1")
    moment = now()
    refusal = judge(rule, route.tunnel_id, method, app_path, moment, consume=not browser)
    if refusal is not None:
        extra = tuple((n.encode(), v.encode()) for n, v in refusal.headers)
        return Answer(
            refusal.status, refusal.code, refusal.message, extra, html, route, path, refusal.details
        )
    if not browser:
        return path
    assert rule is not None  # judge refuses a missing rule
    max_age = None if rule.expires_at is None else rule.expires_at - moment
    cookie = cookie_header(token, (prefix + b"/").decode("latin-1"), max_age, secure=secure)
    fields = ((b"Set-Cookie", cookie.encode("latin-1")), *_REDIRECT_FIELDS)
    return Redirect(303, prefix + path, fields, route, path)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _take_cookie_field(head: RequestHead) -> str | None:
    if b"cookie" not in head.index:
        return None
    for position, (name, value) in enumerate(head.fields):
        if name.lower() == b"cookie" and _COOKIE in value:
            token, rest = take_cookie(value.decode("latin-1"))
            head.remove_field(position, (name, rest.encode("latin-1")) if rest else None)
            return token
    return None


def _take_bearer_field(head: RequestHead) -> str | None:
    authorization = head.index.get(b"authorization")
    if authorization is None or authorization[:11].lower() != _BEARER_SHARE:
        return None
    for position, (name, value) in enumerate(head.fields):
        if name.lower() == b"authorization" and value[:11].lower() == _BEARER_SHARE:
            head.remove_field(position)
            return value[7:].strip().decode("latin-1")
    return None
