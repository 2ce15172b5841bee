"""How the ingress rewrites a response head so that the visitor stays inside the tunnel.

What nginx's ``proxy_redirect default`` and ``proxy_cookie_path`` do, for every response of a
tunnel's app on both hostings (called from :class:`~._upstream.Upstream`, the one response path
they share). Only heads: bodies stream untouched. The app sees the target's own ``Host``
(:func:`~._rewrite.app_host`) and, on a path-prefixed tunnel, paths without the prefix, so it
builds URLs that lead out of the tunnel; these fields are brought back in:

* ``Location``, ``Content-Location`` and the URL of ``Refresh`` (``5; url=/next``):

  - **at the app's own address**, ``http(s)://<target host>:<target port>/path`` (the port may
    be left out when it is the scheme's default; for a loopback target also ``localhost``,
    ``127.0.0.1`` and ``[::1]``; ``//host:port/path`` too): replaced by the public path,
    ``<prefix>/path``, root-relative, so the visitor's own scheme and host stay whatever proxies
    stand in front of the hub (on a subdomain tunnel, whose prefix is empty: ``/path``);
  - **root-relative** (``/next``) on a path-prefixed tunnel: ``<prefix>/next``;
  - **at the visitor's own origin** (the ``Host`` it sent, which the app gets as
    ``X-Forwarded-Host``) but outside the prefix: the prefix is inserted after the origin.

  A path already inside the prefix (an app that reads ``X-Forwarded-Prefix`` or was given a
  base path) is not prefixed again: an absolute URL at the app's address only loses its origin.
  Query strings and fragments are kept byte for byte. Relative references (``next``,
  ``../x``, ``?page=2``), other hosts, other schemes and values that do not parse (a bad
  port, a user name in the URL) pass untouched.
* ``Set-Cookie`` on a path-prefixed tunnel: ``Path=/`` becomes ``Path=<prefix>`` (a browser
  sends it for ``<prefix>`` and everything below, and nothing of the hosting's own pages or of
  other tunnels), ``Path=/sub`` becomes ``Path=<prefix>/sub``. Left as they are: a path already
  inside the prefix; a path not starting with ``/`` (browsers ignore it); a cookie without a
  ``Path``, since a browser's default path is the directory of the public request path, which
  is already the prefixed form of the app's own default (``<prefix>/login/form`` gives
  ``<prefix>/login``, where the app meant ``/login``); and ``__Host-`` cookies, which browsers
  accept only with ``Path=/``. ``Domain`` and the other attributes pass.

The prefix written is the one sent to the app as ``X-Forwarded-Prefix``
(:func:`~._rewrite.forwarded_prefix`); a path counts as inside it in that form, in the form
the visitor sent, or unescaped.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from ._rewrite import app_host, forwarded_prefix

__all__ = [
    "ResponseRewrite",
    "response_rewrite",
    "rewrite_reference",
    "rewrite_refresh",
    "rewrite_response_head",
    "rewrite_set_cookie",
]

Place = tuple[bytes, int]
"""A lower-case host (an IPv6 address in brackets) and a port."""

LOOPBACK_NAMES = (b"localhost", b"127.0.0.1", b"[::1]")
"""The names an app on a loopback target may give itself instead of the ``Host`` it got."""
_DEFAULT_PORTS = {b"http": 80, b"https": 443}
_HOST_COOKIE = b"__host-"
_REFERENCE_FIELDS = re.compile(rb"\n(?:(?:content-)?location|refresh):", re.IGNORECASE)
_ALL_FIELDS = re.compile(rb"\n(?:(?:content-)?location|refresh|set-cookie):", re.IGNORECASE)
"""One search over a whole head decides whether any field needs a look: a head without these
fields costs that search and nothing more."""
_SLASHES = (b"/", b"\\")
"""What starts a path: browsers read ``\\`` as ``/`` in http(s) URLs."""
_AUTHORITY_END = re.compile(rb"[/?#\\]")
_PATH_END = re.compile(rb"[?#]")
_REFRESH = re.compile(rb"(\s*[0-9.]+\s*(?:[;,]\s*)?(?:url\s*=\s*)?)(.*)", re.IGNORECASE | re.DOTALL)
"""``Refresh``: a delay, a separator, an optional ``url=``, then the URL (maybe quoted)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ResponseRewrite:
    """Where a tunnel's app is as it sees itself, and where one visitor sees it."""

    app: frozenset[Place]
    """The app's own address, in every form it may write it."""
    visitor: Place | None
    """The host and port the visitor sent the request to, if it said."""
    prefix: bytes
    """The routing prefix as written into rewritten values (empty on a subdomain tunnel)."""
    inside: tuple[bytes, ...]
    """The forms of the prefix a path may already start with."""
    scheme: bytes
    """The scheme visitors reach the hub with (the default port of ``//host/path``)."""
    trigger: re.Pattern[bytes]
    """Finds, in a whole head, a field this rewrite may change."""

    def within(self, path: bytes) -> bool:
        """Whether ``path`` is the prefix or below it (always so without a prefix)."""
        if not self.prefix:
            return True
        for prefix in self.inside:
            if path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in (b"", b"/"):
                return True
        return False


@functools.lru_cache(maxsize=1024)
def response_rewrite(
    target_host: str, target_port: int, prefix: bytes, visitor_host: bytes, scheme: bytes
) -> ResponseRewrite:
    """The rewrite of the responses to one request: the tunnel's target, the routing
    ``prefix`` as the visitor sent it, the visitor's ``Host`` and the hub's public scheme."""
    host = app_host(target_host, target_port).rpartition(b":")[0].lower()
    names = {host}
    bare = host.strip(b"[]").decode("ascii", "replace")
    try:
        loopback = bare == "localhost" or ipaddress.ip_address(bare).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        names.update(LOOPBACK_NAMES)
    written = forwarded_prefix(prefix) if prefix else b""
    forms = dict.fromkeys((written, prefix, unquote_to_bytes(prefix)))
    return ResponseRewrite(
        app=frozenset((name, target_port) for name in names),
        visitor=_place(visitor_host, scheme) if visitor_host else None,
        prefix=written,
        inside=tuple(forms),
        scheme=scheme,
        trigger=_ALL_FIELDS if prefix else _REFERENCE_FIELDS,
    )


def rewrite_response_head(head: bytes, rewrite: ResponseRewrite) -> bytes:
    """``head`` (a whole response head, its blank line included) with its references kept
    inside the tunnel (see the module's docstring); ``head`` itself when nothing changes."""
    if rewrite.trigger.search(head) is None:
        return head
    lines = head[:-4].split(b"\r\n")
    changed = False
    for index in range(1, len(lines)):
        name, colon, value = lines[index].partition(b":")
        field = _FIELDS.get(name.lower())
        if field is None or not colon:
            continue
        value = value.strip(b" \t")
        rewritten = field(value, rewrite)
        if rewritten != value:
            lines[index] = name + b": " + rewritten
            changed = True
    return b"\r\n".join(lines) + b"\r\n\r\n" if changed else head


def rewrite_reference(value: bytes, rewrite: ResponseRewrite) -> bytes:
    """A ``Location`` or ``Content-Location`` value kept inside the tunnel."""
    if value[:1] in _SLASHES:
        if value[1:2] in _SLASHES:  # //host/path
            return _absolute(value, 2, rewrite.scheme, rewrite)
        if rewrite.within(_PATH_END.split(value, 1)[0]):
            return value
        return rewrite.prefix + value
    scheme, colon, rest = value.partition(b":")
    scheme = scheme.lower()
    if colon and scheme in _DEFAULT_PORTS and rest[:1] in _SLASHES and rest[1:2] in _SLASHES:
        return _absolute(value, len(scheme) + 3, scheme, rewrite)
    return value


def rewrite_refresh(value: bytes, rewrite: ResponseRewrite) -> bytes:
    """A ``Refresh`` value (``5; url=/next``) with its URL kept inside the tunnel."""
    match = _REFRESH.fullmatch(value)
    if match is None or not match[2]:
        return value
    lead, url = match[1], match[2]
    quote = url[:1]
    if quote in (b"'", b'"'):
        end = url.find(quote, 1)
        inner, tail = (url[1:end], url[end:]) if end > 0 else (url[1:], b"")
        return lead + quote + rewrite_reference(inner, rewrite) + tail
    return lead + rewrite_reference(url, rewrite)


def rewrite_set_cookie(value: bytes, rewrite: ResponseRewrite) -> bytes:
    """A ``Set-Cookie`` value with its ``Path`` scoped into the prefix."""
    if not rewrite.prefix or value[:7].lower() == _HOST_COOKIE:
        return value
    parts = value.split(b";")
    changed = False
    for index in range(1, len(parts)):
        name, equals, path = parts[index].partition(b"=")
        if not equals or name.strip().lower() != b"path":
            continue
        path = path.strip()
        if not path.startswith(b"/") or rewrite.within(path):
            continue
        parts[index] = name + b"=" + (rewrite.prefix if path == b"/" else rewrite.prefix + path)
        changed = True
    return b";".join(parts) if changed else value


def _absolute(value: bytes, start: int, scheme: bytes, rewrite: ResponseRewrite) -> bytes:
    """An absolute URL (or ``//host/path``) whose authority begins at ``start``."""
    end_match = _AUTHORITY_END.search(value, start)
    end = end_match.start() if end_match is not None else len(value)
    place = _place(value[start:end], scheme)
    if place is None:
        return value
    tail = value[end:]
    if not tail.startswith(_SLASHES):
        tail = b"/" + tail  # http://host:port?x is http://host:port/?x
    path = _PATH_END.split(tail, 1)[0]
    if place in rewrite.app:
        if not rewrite.within(path):
            return rewrite.prefix + tail
        # //x as a reference names a host: /.//x is the same path on the visitor's origin
        return b"/." + tail if tail[1:2] in _SLASHES else tail
    if place == rewrite.visitor and not rewrite.within(path):
        return value[:end] + rewrite.prefix + tail
    return value


def _place(authority: bytes, scheme: bytes) -> Place | None:
    """``host[:port]`` as a :data:`Place`, or None when it is not one (a user name, a bad
    port)."""
    if b"@" in authority:
        return None
    if authority.startswith(b"["):
        close = authority.find(b"]")
        host, after = authority[: close + 1], authority[close + 1 :]
        if close < 0 or (after and not after.startswith(b":")):
            return None
        port = after[1:]
    else:
        host, _, port = authority.partition(b":")
        if b":" in port:
            return None
    if not host:
        return None
    if not port:
        return host.lower(), _DEFAULT_PORTS.get(scheme, 80)
    if not port.isdigit() or len(port) > 5:
        return None
    return host.lower(), int(port)


_FIELDS: dict[bytes, Callable[[bytes, ResponseRewrite], bytes]] = {
    b"location": rewrite_reference,
    b"content-location": rewrite_reference,
    b"refresh": rewrite_refresh,
    b"set-cookie": rewrite_set_cookie,
}
"""The fields rewritten, by lower-case name."""
