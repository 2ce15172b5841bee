"""Share links at the door: finding a share token in a request, and judging the request by it.

A share token reaches the hub in one of three places, looked at in this order:

1. the query parameter :data:`QUERY_PARAM` (``?share_token=jts_…``): the link itself, for
   browsers and for machine clients that cannot set headers (webhook senders);
2. the cookie :data:`COOKIE_NAME`, which the hub sets when a browser opens the link (see
   :func:`wants_cookie`), scoped to the tunnel's path (or its host, with subdomain routing);
3. ``Authorization: Bearer jts_…`` (clients that can set headers; reach's raw streams).

Whichever carried it, the token is taken out before the request goes on: the app never sees it.

A request that carries a share token is judged by the share alone (:func:`judge`), whatever the
tunnel's access rule: the share must belong to the tunnel, not be revoked (403) or expired
(410), the path must be under its prefix (403), the method allowed (405 with ``Allow``) and the
rate not exceeded (429 with ``Retry-After``). Everything here is in memory: no request waits
for the store. Rules are loaded by the router (``_routing.py``) with the tunnel's route.
"""

from __future__ import annotations

import dataclasses
import math
from urllib.parse import quote

from ..._core.errors import HTTP_STATUS, ErrorCode
from ..store._owners import SHARE_TOKEN_PREFIX

__all__ = [
    "COOKIE_NAME",
    "QUERY_PARAM",
    "Refusal",
    "ShareRule",
    "cookie_header",
    "judge",
    "take_cookie",
    "take_query_param",
    "wants_cookie",
]

QUERY_PARAM = "share_token"
"""The query parameter of a share link that carries its token."""
COOKIE_NAME = "tunnels_share"
"""The cookie that carries a share token after a browser opened the link."""
_PATH_SAFE = "/%@!$&'()*+,=:-._~"
RATE_WINDOW = 60.0
"""The rate limit is per minute: a bucket of ``rate`` requests refilled over this many seconds."""


@dataclasses.dataclass
class ShareRule:
    """A share as the door needs it, with its live counters (flushed to the store now and then)."""

    share_id: str
    tunnel_id: str
    token_hash: str
    expires_at: float | None
    revoked: bool
    methods: frozenset[str] | None
    """Allowed methods, upper case; None: every method."""
    rate: int | None
    path_prefix: str | None
    bucket: float = 0.0
    """Requests left in the rate bucket (starts full)."""
    bucket_at: float = 0.0
    unflushed: int = 0
    """Accesses counted since the store last heard of them."""
    last_access: float | None = None

    def __post_init__(self) -> None:
        if self.rate is not None and self.bucket_at == 0.0:
            self.bucket = float(self.rate)

    def carry_counters(self, old: ShareRule) -> None:
        """Keep the live counters of the rule this one replaces (a reload after a write)."""
        self.bucket, self.bucket_at = old.bucket, old.bucket_at
        self.unflushed, self.last_access = old.unflushed, old.last_access
        if self.rate != old.rate and self.rate is not None:
            self.bucket = min(self.bucket, float(self.rate))


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why a request is turned away: an error code, a message and extra response fields."""

    code: ErrorCode
    message: str
    headers: tuple[tuple[str, str], ...] = ()
    details: dict[str, object] | None = None
    """What the API envelope's ``details`` says (the refused and the allowed methods)."""

    @property
    def status(self) -> int:
        """The HTTP status of the refusal."""
        return HTTP_STATUS[self.code]


def judge(
    rule: ShareRule | None,
    tunnel_id: str,
    method: str,
    path: str,
    moment: float,
    *,
    consume: bool = True,
) -> Refusal | None:
    """None when the share lets this request through (and counts it), else the refusal.

    ``path`` is the path the app would see (from the tunnel's root, query excluded). With
    ``consume=False`` nothing is counted or taken from the rate bucket (the redirect that sets
    the cookie is not an access: the request it leads to is).
    """
    if rule is None or rule.tunnel_id != tunnel_id:
        return Refusal(ErrorCode.INVALID_SHARE, "this share link is not valid for this tunnel")
    if rule.revoked:
        return Refusal(ErrorCode.SHARE_REVOKED, "this share link was revoked by its owner")
    if rule.expires_at is not None and moment >= rule.expires_at:
        return Refusal(ErrorCode.SHARE_EXPIRED, "this share link has expired")
    if rule.path_prefix is not None and not _under(path, rule.path_prefix):
        return Refusal(
            ErrorCode.PATH_NOT_SHARED, f"this share link only opens paths under {rule.path_prefix}"
        )
    if rule.methods is not None and method.upper() not in rule.methods:
        return _method_refused(rule.methods, method.upper())
    if not consume:
        return None
    if rule.rate is not None:
        refill = (moment - rule.bucket_at) * rule.rate / RATE_WINDOW
        rule.bucket = min(float(rule.rate), rule.bucket + max(refill, 0.0))
        rule.bucket_at = moment
        if rule.bucket < 1.0:
            wait = math.ceil((1.0 - rule.bucket) * RATE_WINDOW / rule.rate)
            return Refusal(
                ErrorCode.RATE_LIMITED,
                f"this share link allows {rule.rate} requests a minute: try again in {wait} s",
                (("Retry-After", str(wait)),),
            )
        rule.bucket -= 1.0
    rule.unflushed += 1
    rule.last_access = moment
    return None


def _method_refused(methods: frozenset[str], method: str) -> Refusal:
    """A ``405`` that names the refused method and the allowed ones: a read-only link breaks
    apps that POST for their callbacks (Dash), and the visitor must be able to tell why."""
    allowed = sorted(methods)
    # Allow lists the methods of the resource (RFC 9110, 10.2.1); CONNECT is not one of them
    http_methods = [name for name in allowed if name != "CONNECT"]
    said = ", ".join(allowed)
    if method == "CONNECT":
        message = f"this share link allows {said}, not raw streams (CONNECT)"
    else:
        message = (
            f"this share link allows {said}; the app sent {method}: "
            f"ask its owner for a link that also allows {method}"
        )
    return Refusal(
        ErrorCode.METHOD_NOT_ALLOWED,
        message,
        (("Allow", ", ".join(http_methods)),),
        {"method": method, "allowedMethods": allowed},
    )


def _under(path: str, prefix: str) -> bool:
    if prefix == "/" or path == prefix:
        return True
    return path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def take_query_param(query: str) -> tuple[str | None, str]:
    """``(share token or None, the query without it)``; other parameters keep their order.

    Only a value with the share-token prefix counts; the parameter is removed either way.
    """
    if QUERY_PARAM not in query:
        return None, query
    token: str | None = None
    kept: list[str] = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == QUERY_PARAM:
            if value.startswith(SHARE_TOKEN_PREFIX):
                token = value
            continue
        kept.append(part)
    return token, "&".join(kept)


def take_cookie(header: str) -> tuple[str | None, str]:
    """``(share token or None, the Cookie header without the share cookie)``."""
    if COOKIE_NAME not in header:
        return None, header
    token: str | None = None
    kept: list[str] = []
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE_NAME:
            value = value.strip('"')
            if value.startswith(SHARE_TOKEN_PREFIX):
                token = value
            continue
        if part.strip():
            kept.append(part.strip())
    return token, "; ".join(kept)


def wants_cookie(method: str, accept: str | None, fetch_mode: str | None) -> bool:
    """Whether a request with the token in its query is a browser opening the link.

    Such a request is answered with a redirect to the same URL without the token, setting the
    share cookie, so the page's own requests (scripts, XHR, WebSockets) carry the share too.
    Anything else (``curl``, a webhook sender) is relayed at once, token removed, no cookie.
    """
    if method not in ("GET", "HEAD"):
        return False
    if fetch_mode is not None:
        return fetch_mode == "navigate"
    return accept is not None and "text/html" in accept


def cookie_header(token: str, path: str, max_age: float | None, *, secure: bool) -> str:
    """The ``Set-Cookie`` value for a share token, scoped to ``path``."""
    # the path is as the visitor sent it (already percent-encoded): only ";" and the like
    # could break the field, and those are quoted
    parts = [f"{COOKIE_NAME}={token}", f"Path={quote(path, safe=_PATH_SAFE)}", "HttpOnly"]
    parts.append("SameSite=Lax")
    if max_age is not None:
        parts.append(f"Max-Age={max(int(max_age), 0)}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)
