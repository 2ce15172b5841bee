"""Response heads kept inside the tunnel (``hub/ingress/_response_rewrite.py``): the pure
functions, with the edge cases the raw-HTTP tests of both hostings do not reach
(``test_redirects.py``)."""

from __future__ import annotations

import pytest

from jupyter_tunnels.hub.ingress._response_rewrite import (
    ResponseRewrite,
    response_rewrite,
    rewrite_reference,
    rewrite_refresh,
    rewrite_response_head,
    rewrite_set_cookie,
)

PREFIX = b"/a%40b/tunnels/t/web"
"""An embedded hosting's prefix, with an escape in Jupyter's base URL."""
VISITOR = b"jupyter.test:8888"

PATHS = response_rewrite("127.0.0.1", 8050, PREFIX, VISITOR, b"http")
"""A path-prefixed tunnel to an app on 127.0.0.1:8050."""
SUBDOMAIN = response_rewrite("127.0.0.1", 8050, b"", b"web.tunnels.test", b"https")
"""A subdomain tunnel (no prefix) to the same app."""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # the app's own address, as it builds it from the Host it got, or from its bind address
        (b"http://127.0.0.1:8050/next", PREFIX + b"/next"),
        (b"https://127.0.0.1:8050/next", PREFIX + b"/next"),
        (b"http://localhost:8050/next", PREFIX + b"/next"),
        (b"HTTP://LocalHost:8050/next", PREFIX + b"/next"),
        (b"http://[::1]:8050/next", PREFIX + b"/next"),
        (b"//127.0.0.1:8050/next", PREFIX + b"/next"),
        (b"http://127.0.0.1:8050", PREFIX + b"/"),
        (b"http://127.0.0.1:8050?page=2", PREFIX + b"/?page=2"),
        (b"http://127.0.0.1:8050#top", PREFIX + b"/#top"),
        (b"http://127.0.0.1:8050/a/b?x=1&y=%2F#frag", PREFIX + b"/a/b?x=1&y=%2F#frag"),
        (b"http://127.0.0.1:08050/next", PREFIX + b"/next"),
        # already inside the prefix: only the origin goes
        (b"http://127.0.0.1:8050" + PREFIX + b"/next", PREFIX + b"/next"),
        # root-relative
        (b"/next", PREFIX + b"/next"),
        (b"/", PREFIX + b"/"),
        (b"/next?a=1#b", PREFIX + b"/next?a=1#b"),
        (b"/tunnels/t/other/", PREFIX + b"/tunnels/t/other/"),
        (b"/a%40b/tunnels/t/webby", PREFIX + b"/a%40b/tunnels/t/webby"),
        # already prefixed, in the form sent as X-Forwarded-Prefix or unescaped
        (PREFIX + b"/next", PREFIX + b"/next"),
        (PREFIX, PREFIX),
        (PREFIX + b"?x=1", PREFIX + b"?x=1"),
        (b"/a@b/tunnels/t/web/next", b"/a@b/tunnels/t/web/next"),
        # the visitor's own origin, outside the prefix: the prefix goes in after the origin
        (b"http://jupyter.test:8888/next", b"http://jupyter.test:8888" + PREFIX + b"/next"),
        (
            b"http://JUPYTER.test:8888" + PREFIX + b"/x",
            b"http://JUPYTER.test:8888" + PREFIX + b"/x",
        ),
        # relative references pass
        (b"next", b"next"),
        (b"../x", b"../x"),
        (b"?page=2", b"?page=2"),
        (b"#top", b"#top"),
        (b"", b""),
        # other hosts, ports and schemes pass
        (b"http://example.com/next", b"http://example.com/next"),
        (b"//example.com/next", b"//example.com/next"),
        (b"http://127.0.0.1:8051/next", b"http://127.0.0.1:8051/next"),
        (b"http://127.0.0.1/next", b"http://127.0.0.1/next"),
        (b"http://10.0.0.1:8050/next", b"http://10.0.0.1:8050/next"),
        (b"ftp://127.0.0.1:8050/next", b"ftp://127.0.0.1:8050/next"),
        (b"mailto:someone@example.com", b"mailto:someone@example.com"),
        # malformed values pass
        (b"http://127.0.0.1:80a0/next", b"http://127.0.0.1:80a0/next"),
        (b"http://[::1:8050/next", b"http://[::1:8050/next"),
        (b"http://[::1]x:8050/next", b"http://[::1]x:8050/next"),
        (b"http://::1:8050/next", b"http://::1:8050/next"),
        (b"http://user@127.0.0.1:8050/next", b"http://user@127.0.0.1:8050/next"),
        (b"http://:8050/next", b"http://:8050/next"),
        (b"http:/127.0.0.1:8050/next", b"http:/127.0.0.1:8050/next"),
        (b"http://127.0.0.1:123456/next", b"http://127.0.0.1:123456/next"),
    ],
)
def test_references_on_a_path_prefixed_tunnel(value: bytes, expected: bytes) -> None:
    assert rewrite_reference(value, PATHS) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"http://127.0.0.1:8050/next?x=1#f", b"/next?x=1#f"),
        (b"https://localhost:8050", b"/"),
        (b"/next", b"/next"),
        (b"https://web.tunnels.test/next", b"https://web.tunnels.test/next"),
        (b"http://example.com/", b"http://example.com/"),
        # //x as a reference would name a host: the same path on the visitor's origin instead
        (b"http://127.0.0.1:8050//example.com/x", b"/.//example.com/x"),
        (b"http://127.0.0.1:8050/\\example.com", b"/./\\example.com"),
    ],
)
def test_references_on_a_subdomain_tunnel(value: bytes, expected: bytes) -> None:
    assert rewrite_reference(value, SUBDOMAIN) == expected


def test_backslashes_are_read_as_browsers_read_them() -> None:
    assert rewrite_reference(b"\\\\127.0.0.1:8050\\next", PATHS) == PREFIX + b"\\next"
    assert rewrite_reference(b"http:\\\\127.0.0.1:8050/x", PATHS) == PREFIX + b"/x"
    assert rewrite_reference(b"/\\example.com/x", PATHS) == b"/\\example.com/x"


@pytest.mark.parametrize(
    ("target_host", "port", "scheme", "value", "expected"),
    [
        ("::1", 8050, b"http", b"http://[::1]:8050/x", PREFIX + b"/x"),
        ("[::1]", 8050, b"http", b"http://localhost:8050/x", PREFIX + b"/x"),
        (
            "::1",
            8050,
            b"http",
            b"http://[0:0:0:0:0:0:0:1]:8050/x",
            b"http://[0:0:0:0:0:0:0:1]:8050/x",
        ),
        ("fe80::1", 8050, b"http", b"http://[FE80::1]:8050/x", PREFIX + b"/x"),
        ("fe80::1", 8050, b"http", b"http://localhost:8050/x", b"http://localhost:8050/x"),
        ("db.internal", 8050, b"http", b"http://DB.internal:8050/x", PREFIX + b"/x"),
        ("db.internal", 8050, b"http", b"http://127.0.0.1:8050/x", b"http://127.0.0.1:8050/x"),
        ("127.0.0.2", 8050, b"http", b"http://localhost:8050/x", PREFIX + b"/x"),
        # default ports: left out, or written out
        ("127.0.0.1", 80, b"http", b"http://127.0.0.1/x", PREFIX + b"/x"),
        ("127.0.0.1", 80, b"http", b"http://127.0.0.1:80/x", PREFIX + b"/x"),
        ("127.0.0.1", 80, b"http", b"https://127.0.0.1/x", b"https://127.0.0.1/x"),
        ("127.0.0.1", 443, b"http", b"https://localhost/x", PREFIX + b"/x"),
        ("127.0.0.1", 443, b"http", b"//localhost/x", b"//localhost/x"),
        ("127.0.0.1", 443, b"https", b"//localhost/x", PREFIX + b"/x"),
    ],
)
def test_the_apps_own_address(
    target_host: str, port: int, scheme: bytes, value: bytes, expected: bytes
) -> None:
    rewrite = response_rewrite(target_host, port, PREFIX, VISITOR, scheme)
    assert rewrite_reference(value, rewrite) == expected


def test_a_visitor_without_host_has_no_origin_to_match() -> None:
    rewrite = response_rewrite("127.0.0.1", 8050, PREFIX, b"", b"http")
    assert rewrite.visitor is None
    assert (
        rewrite_reference(b"http://jupyter.test:8888/x", rewrite) == b"http://jupyter.test:8888/x"
    )
    assert rewrite_reference(b"http://127.0.0.1:8050/x", rewrite) == PREFIX + b"/x"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"0; url=/next", b"0; url=" + PREFIX + b"/next"),
        (b"5;URL=http://127.0.0.1:8050/next?x=1", b"5;URL=" + PREFIX + b"/next?x=1"),
        (b"5, url = '/next'", b"5, url = '" + PREFIX + b"/next'"),
        (b'5; url="/next"', b'5; url="' + PREFIX + b'/next"'),
        (b"5; url='/next", b"5; url='" + PREFIX + b"/next"),
        (b"1.5; /next", b"1.5; " + PREFIX + b"/next"),
        (b"3", b"3"),
        (b"3;", b"3;"),
        (b"5; url=next", b"5; url=next"),
        (b"5; url=http://example.com/", b"5; url=http://example.com/"),
        (b"soon; url=/next", b"soon; url=/next"),
        (b"", b""),
    ],
)
def test_refresh(value: bytes, expected: bytes) -> None:
    assert rewrite_refresh(value, PATHS) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"sid=1; Path=/", b"sid=1; Path=" + PREFIX),
        (b"sid=1; Path=/sub", b"sid=1; Path=" + PREFIX + b"/sub"),
        (b"sid=1; path=/sub/; HttpOnly", b"sid=1; path=" + PREFIX + b"/sub/; HttpOnly"),
        (b"sid=1;PATH = /sub ;Secure", b"sid=1;PATH =" + PREFIX + b"/sub;Secure"),
        (
            b"sid=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/; SameSite=Lax",
            b"sid=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=" + PREFIX + b"; SameSite=Lax",
        ),
        (b"sid=1; Path=/a; Path=/b", b"sid=1; Path=" + PREFIX + b"/a; Path=" + PREFIX + b"/b"),
        (b"sid=1; Domain=localhost; Path=/", b"sid=1; Domain=localhost; Path=" + PREFIX),
        # a value that looks like a path is not the attribute
        (b"path=/x; Secure", b"path=/x; Secure"),
        # left as they are: no Path (the browser's default path is inside the prefix already),
        (b"sid=1", b"sid=1"),
        (b"sid=1; HttpOnly", b"sid=1; HttpOnly"),
        # a path inside the prefix, one browsers ignore, and __Host- cookies (Path=/ or nothing)
        (b"sid=1; Path=" + PREFIX + b"/x", b"sid=1; Path=" + PREFIX + b"/x"),
        (b"sid=1; Path=" + PREFIX, b"sid=1; Path=" + PREFIX),
        (b"sid=1; Path=sub", b"sid=1; Path=sub"),
        (b"sid=1; Path=", b"sid=1; Path="),
        (b"sid=1; Path", b"sid=1; Path"),
        (b"__Host-sid=1; Secure; Path=/", b"__Host-sid=1; Secure; Path=/"),
        (b"__host-sid=1; Secure; Path=/", b"__host-sid=1; Secure; Path=/"),
        (b"__Secure-sid=1; Secure; Path=/", b"__Secure-sid=1; Secure; Path=" + PREFIX),
    ],
)
def test_cookie_paths_on_a_path_prefixed_tunnel(value: bytes, expected: bytes) -> None:
    assert rewrite_set_cookie(value, PATHS) == expected


def test_cookie_paths_on_a_subdomain_tunnel_are_the_apps() -> None:
    assert rewrite_set_cookie(b"sid=1; Path=/", SUBDOMAIN) == b"sid=1; Path=/"


def head(*fields: bytes, status: bytes = b"302 Found") -> bytes:
    """A response head with these field lines."""
    return b"HTTP/1.1 " + status + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


def test_a_head_without_those_fields_is_the_same_object() -> None:
    plain = head(b"Content-Type: text/plain", b"Content-Length: 2", status=b"200 OK")
    assert rewrite_response_head(plain, PATHS) is plain
    cookie = head(b"Set-Cookie: sid=1; Path=/", b"Content-Length: 0", status=b"200 OK")
    assert rewrite_response_head(cookie, SUBDOMAIN) is cookie, "no cookie work without a prefix"
    inside = head(b"Location: " + PREFIX + b"/x", b"Set-Cookie: a=1")
    assert rewrite_response_head(inside, PATHS) is inside, "nothing to change"


def test_a_head_has_each_of_its_fields_rewritten_whatever_their_case() -> None:
    before = head(
        b"location:http://127.0.0.1:8050/next",
        b"CONTENT-LOCATION:   /item/1  ",
        b"Refresh: 0; url=/later",
        b"set-cookie: a=1; Path=/",
        b"Set-Cookie: b=2; Path=/sub; HttpOnly",
        b"Set-Cookie: c=3",
        b"X-Location: /elsewhere",
        b"Content-Length: 0",
    )
    assert rewrite_response_head(before, PATHS) == head(
        b"location: " + PREFIX + b"/next",
        b"CONTENT-LOCATION: " + PREFIX + b"/item/1",
        b"Refresh: 0; url=" + PREFIX + b"/later",
        b"set-cookie: a=1; Path=" + PREFIX,
        b"Set-Cookie: b=2; Path=" + PREFIX + b"/sub; HttpOnly",
        b"Set-Cookie: c=3",
        b"X-Location: /elsewhere",
        b"Content-Length: 0",
    )


def test_a_value_mentioning_a_field_name_changes_nothing() -> None:
    mention = head(b"X-Note: location: here", b"X-Set-Cookie: a=1", status=b"200 OK")
    assert rewrite_response_head(mention, PATHS) is mention


def test_rewrites_are_shared_between_requests() -> None:
    again = response_rewrite("127.0.0.1", 8050, PREFIX, VISITOR, b"http")
    assert again is PATHS
    assert isinstance(again, ResponseRewrite)
    assert PATHS.prefix == PREFIX and b"/a@b/tunnels/t/web" in PATHS.inside
