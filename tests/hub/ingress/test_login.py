"""A browser that opens a private tunnel without credentials is shown how to log in, on both
hostings: inside Jupyter it is sent to Jupyter's login page and, once logged in, back to the
tunnel; on a standalone hub it gets the hub's login page, where the owner pastes an API token
for a signed cookie that opens that one tunnel and never reaches the app. Programs (and
clients that sent ``Authorization``) keep getting the ``401`` (hub/ingress/_login.py)."""

from __future__ import annotations

import asyncio
import html
import re
from urllib.parse import quote, urlsplit

import httpx
import pytest

from jupyter_tunnels._core.models import Access
from jupyter_tunnels._core.status import TunnelStatus
from jupyter_tunnels._wire.http1 import RequestHead, parse_request_head
from jupyter_tunnels.hub.ingress._login import LOGIN_SECONDS, LoginCookies, same_origin
from jupyter_tunnels.hub.services._routing import Route
from tests._apps import Services
from tests._sockets import closed_port
from tests._tunnels import visitor
from tests.hub.ingress._hostings import Embedded, Hosting, MakeHosting, Standalone

pytestmark = pytest.mark.anyio

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def origin(url: str) -> str:
    """``scheme://host:port`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def test_programs_and_clients_with_credentials_still_get_the_401(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "machines")
    async with visitor() as http:
        program = await http.get(tunnel.url)
        bad_token = await http.get(
            tunnel.url, headers={**BROWSER, "Authorization": "Bearer jtu_not-a-token"}
        )
        posted = await http.post(tunnel.url + "upload", content=b"x", headers=BROWSER)
    assert (program.status_code, program.json()["code"]) == (401, "MISSING_AUTH")
    assert program.headers["www-authenticate"].startswith("Bearer")
    assert (bad_token.status_code, bad_token.headers["content-type"]) == (
        401,
        "text/html; charset=utf-8",
    )
    assert posted.status_code == 401, "only a navigation (GET, HEAD) is sent to log in"


async def test_a_browser_turned_away_is_shown_how_to_log_in(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "log-in")
    wanted = f"{hosting.tunnel_path(tunnel.slug)}headers/page?x=1&y=2"
    async with visitor() as http:
        page = await http.get(origin(tunnel.url) + wanted, headers=BROWSER)
    if isinstance(hosting, Embedded):
        assert page.status_code == 302
        assert page.headers["location"].endswith(f"/login?next={quote(wanted, safe='')}")
        return
    # path routing shares the hub's origin: the login form is only at a tunnel's own origin
    # (test_on_a_standalone_hub_the_owner_logs_in_with_an_api_token)
    assert (page.status_code, page.headers["content-type"]) == (401, "text/html; charset=utf-8")
    assert page.headers["www-authenticate"].startswith("Bearer")
    assert "<form" not in page.text


async def test_a_head_navigation_gets_the_answers_fields_without_its_body(
    hosting: Hosting, services: Services
) -> None:
    """The hub's own answers to ``HEAD`` have no body, so the kept-alive connection goes on."""
    tunnel = await hosting.expose(services.http_port, "head")
    host = f"Host: {urlsplit(tunnel.url).netloc}\r\n"
    path = hosting.tunnel_path(tunnel.slug)
    reader, writer = await asyncio.open_connection(hosting.host, hosting.port)
    try:
        writer.write(
            f"HEAD {path} HTTP/1.1\r\n{host}Accept: text/html\r\n\r\n"
            f"GET {path} HTTP/1.1\r\n{host}Connection: close\r\n\r\n".encode()
        )
        received = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    first, _, rest = received.partition(b"\r\n\r\n")
    expected = b"HTTP/1.1 302 " if isinstance(hosting, Embedded) else b"HTTP/1.1 401 "
    assert first.startswith(expected)
    assert rest.startswith(b"HTTP/1.1 401 "), "the next answer follows the head at once"
    assert rest.endswith(b'"details": null}')


async def test_on_a_standalone_hub_the_owner_logs_in_with_an_api_token(
    make_hosting: MakeHosting, services: Services
) -> None:
    """At a tunnel's own origin (subdomain routing): the owner's token is exchanged for a
    cookie that opens that one tunnel; other tokens, other sites and tampering get nothing."""
    hosting = make_hosting("standalone", domain="tun.localhost")
    assert isinstance(hosting, Standalone)
    tunnel = await hosting.expose(services.http_port, "logged")
    other = await hosting.expose(closed_port(), "other")
    bob = hosting.hub.new_owner("bob")
    door = f"http://{hosting.host}:{hosting.port}"  # the name need not resolve: Host says it
    host, other_host = urlsplit(tunnel.url).netloc, urlsplit(other.url).netloc
    site = f"http://{host}"
    named = {**BROWSER, "Host": host}
    login = f"{door}/.jupyter-tunnels/login"
    wanted = "/headers/page?x=1"
    form = {"token": hosting.hub.token, "next": wanted}
    same = {**named, "Origin": site}
    async with visitor() as http:
        wrong = await http.post(login, data={**form, "token": bob}, headers=same)
        made_up = await http.post(login, data={**form, "token": "jtu_made-up"}, headers=same)
        forged = await http.post(login, data=form, headers={**named, "Origin": "http://x.y"})
        no_origin = await http.post(
            login, data=form, headers={**named, "Sec-Fetch-Site": "cross-site"}
        )
        logged_in = await http.post(login, data=form, headers=same)
        cookie = logged_in.headers["set-cookie"].split(";")[0]
        with_cookie = {**named, "Cookie": f"{cookie}; app=1"}
        landed = await http.get(door + wanted, headers=with_cookie)
        elsewhere = await http.get(door + "/", headers={**with_cookie, "Host": other_host})
        offsite = await http.post(login, data={**form, "next": "//x.y/"}, headers=same)
        tampered = await http.get(door + wanted, headers={**named, "Cookie": f"{cookie[:-2]}xx"})
    for refused in (wrong, made_up):
        assert (refused.status_code, refused.headers["content-type"]) == (
            401,
            "text/html; charset=utf-8",
        )
        assert "That is not an API token of this tunnel&#x27;s owner." in refused.text
        assert f'name="next" value="{html.escape(wanted)}"' in refused.text
        assert "set-cookie" not in refused.headers
    assert (forged.status_code, no_origin.status_code) == (403, 403)
    assert "Refused: this came from another site" in forged.text
    # the token's owner is let in, back where it was going, and the app sees its own cookies
    assert (logged_in.status_code, logged_in.headers["location"]) == (303, wanted)
    assert landed.status_code == 200
    assert landed.json()["headers"]["Cookie"] == "app=1"
    assert landed.json()["query"] == "x=1"
    assert elsewhere.status_code == 401, "the login opens that one tunnel"
    # the cookie: scoped to the tunnel's host, HttpOnly, SameSite, expiring, never the token
    parts = [part.strip() for part in logged_in.headers["set-cookie"].split(";")]
    assert parts[0].startswith("tunnels_login=")
    assert {"Path=/", "HttpOnly", "SameSite=Lax"} <= set(parts)
    assert not any(part.lower().startswith("domain=") for part in parts)
    assert f"Max-Age={LOGIN_SECONDS}" in parts and "Secure" not in parts
    assert hosting.hub.token not in logged_in.headers["set-cookie"]
    assert logged_in.headers["cache-control"] == "no-store"
    assert offsite.headers["location"] == "/"
    assert tampered.status_code == 401


async def test_a_path_routed_tunnel_has_no_login_form(
    make_hosting: MakeHosting, services: Services
) -> None:
    """With path routing every tunnel shares the hub's origin: another tunnel's page could read
    a login form as the owner types, or fetch through its cookie. So there is none: a browser
    gets the 401 page, and a posted form is just an unauthenticated POST."""
    hosting = make_hosting("standalone")
    assert isinstance(hosting, Standalone)
    tunnel = await hosting.expose(services.http_port, "shared-origin")
    site = origin(tunnel.url)
    path = hosting.tunnel_path(tunnel.slug)
    async with visitor() as http:
        page = await http.get(tunnel.url, headers=BROWSER)
        posted = await http.post(
            f"{site}{path}.jupyter-tunnels/login",
            data={"token": hosting.hub.token, "next": path},
            headers={**BROWSER, "Origin": site},
        )
    assert (page.status_code, page.headers["content-type"]) == (401, "text/html; charset=utf-8")
    assert "<form" not in page.text and "send its token as a bearer" in page.text
    assert posted.status_code == 401 and "set-cookie" not in posted.headers


async def test_a_login_cookie_does_not_let_another_origin_act(
    make_hosting: MakeHosting, services: Services
) -> None:
    """Sibling subdomains are one site, so the cookie comes along from another tunnel's page:
    a change or a WebSocket it starts is refused, what it only reads is the browser's to
    keep from it (CORS)."""
    hosting = make_hosting("standalone", domain="tun.localhost")
    assert isinstance(hosting, Standalone)
    tunnel = await hosting.expose(services.http_port, "acted-on")
    door = f"http://{hosting.host}:{hosting.port}"
    host = urlsplit(tunnel.url).netloc
    async with visitor() as http:
        logged_in = await http.post(
            f"{door}/.jupyter-tunnels/login",
            data={"token": hosting.hub.token, "next": "/"},
            headers={**BROWSER, "Host": host, "Origin": f"http://{host}"},
        )
        cookie = {"Host": host, "Cookie": logged_in.headers["set-cookie"].split(";")[0]}
        sibling = {**cookie, "Origin": f"http://evil.tun.localhost:{hosting.port}"}
        posted = await http.post(f"{door}/upload", content=b"x", headers=sibling)
        upgrade = {"Connection": "Upgrade", "Upgrade": "websocket"}
        socket = await http.get(
            f"{door}/ws",
            headers={
                **sibling,
                **upgrade,
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        own = await http.post(
            f"{door}/upload", content=b"x", headers={**cookie, "Origin": f"http://{host}"}
        )
    for refused in (posted, socket):
        assert (refused.status_code, refused.json()["code"]) == (403, "CROSS_SITE_REQUEST")
    assert own.status_code != 403


async def test_inside_jupyter_a_browser_goes_to_jupyters_login_and_back(
    make_hosting: MakeHosting, services: Services
) -> None:
    embedded = make_hosting("embedded")
    assert isinstance(embedded, Embedded)
    tunnel = await embedded.expose(services.http_port, "to-login")
    base = urlsplit(embedded.server.url).path  # /a%40b/
    wanted = f"{embedded.tunnel_path(tunnel.slug)}headers/page?x=1&y=%2F"
    async with httpx.AsyncClient(timeout=20, trust_env=False) as browser:
        opened = await browser.get(origin(tunnel.url) + wanted, headers=BROWSER)
        head = await browser.head(origin(tunnel.url) + wanted, headers=BROWSER)
        assert opened.status_code == 302, opened.text
        location = opened.headers["location"]
        assert location == f"{base}login?next={quote(wanted, safe='')}"
        assert head.headers["location"] == location
        assert opened.headers["cache-control"] == "no-store"
        # Jupyter's own login form, with the server's token as the password
        form = await browser.get(origin(tunnel.url) + location)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
        assert xsrf is not None, form.text
        logged_in = await browser.post(
            origin(tunnel.url) + location,
            data={"_xsrf": xsrf.group(1), "password": embedded.server.token},
        )
        assert logged_in.status_code == 302, logged_in.text
        assert logged_in.headers["location"] == wanted
        landed = await browser.get(origin(tunnel.url) + logged_in.headers["location"])
    assert landed.status_code == 200
    assert landed.json()["query"] == "x=1&y=%2F"


async def test_on_a_subdomain_tunnel_the_login_is_scoped_to_its_host(
    make_hosting: MakeHosting, services: Services
) -> None:
    hosting = make_hosting("standalone", domain="tun.localhost")
    assert isinstance(hosting, Standalone)
    tunnel = await hosting.expose(services.http_port, "sub")
    host = urlsplit(tunnel.url).netloc
    assert host.startswith("sub.tun.localhost:")
    door = f"http://{hosting.host}:{hosting.port}"  # the name need not resolve: Host says it
    named = {"Host": host}
    async with visitor() as http:
        page = await http.get(f"{door}/headers/x?y=1", headers={**BROWSER, **named})
        logged_in = await http.post(
            f"{door}/.jupyter-tunnels/login",
            data={"token": hosting.hub.token, "next": "/headers/x?y=1"},
            headers={**BROWSER, **named, "Origin": f"http://{host}"},
        )
        cookie = logged_in.headers["set-cookie"].split(";")[0]
        seen = await http.get(f"{door}/headers/x", headers={**named, "Cookie": f"{cookie}; app=1"})
    assert page.status_code == 401
    assert '<form method="post" action="/.jupyter-tunnels/login">' in page.text
    assert '<input type="hidden" name="next" value="/headers/x?y=1">' in page.text
    assert (logged_in.status_code, logged_in.headers["location"]) == (303, "/headers/x?y=1")
    parts = [part.strip() for part in logged_in.headers["set-cookie"].split(";")]
    assert "Path=/" in parts and not any(p.lower().startswith("domain=") for p in parts)
    assert seen.status_code == 200
    assert seen.json()["headers"]["Cookie"] == "app=1"


@pytest.mark.parametrize(
    ("target", "back"),
    [
        ("/t/web/page?x=1", "/t/web/page?x=1"),
        ("/t/other/", "/t/web/"),
        ("//evil.example/t/web/", "/t/web/"),
        ("/\\evil.example/", "/t/web/"),
        ("http://evil.example/", "/t/web/"),
        ("/t/web/../other/", "/t/web/"),
        ("/t/web/%2e%2E/other/", "/t/web/"),
        ("/t/web/./x", "/t/web/"),
        ("/t/web/\u4e2d", "/t/web/"),
        ("/t/web/a..b?x=../y", "/t/web/a..b?x=../y"),
    ],
)
def test_next_is_a_path_on_the_same_origin(target: str, back: str) -> None:
    assert same_origin(target, "/t/web") == back
    assert same_origin("/a/page", "") == "/a/page", "a subdomain tunnel: any path of its host"


def private_route(tunnel_id: str, owner_id: str = "ada") -> Route:
    """A live private tunnel as the ingress sees it."""
    return Route(
        tunnel_id, owner_id, "web", "http", Access.PRIVATE, TunnelStatus.ACTIVE,
        "lease", None, "127.0.0.1", 8050, None,
    )  # fmt: skip


def with_cookie(cookie: str) -> RequestHead:
    """A request head carrying ``Cookie: cookie``."""
    return parse_request_head(f"GET / HTTP/1.1\r\nHost: h\r\nCookie: {cookie}\r\n\r\n".encode())


def test_a_login_cookie_opens_one_tunnel_of_one_owner_until_it_expires() -> None:
    cookies = LoginCookies(secure=True)
    route = private_route("t1")
    header = cookies.header(route, b"/t/web", 1000.0).decode()
    attributes = f"; Path=/t/web/; HttpOnly; SameSite=Lax; Max-Age={LOGIN_SECONDS}; Secure"
    assert header.endswith(attributes)
    login = header.split(";")[0]
    assert cookies.admits(with_cookie(f"a=1; {login}"), route, 2000.0)
    assert not cookies.admits(with_cookie(login[:-1]), route, 2000.0), "tampered"
    assert not LoginCookies().admits(with_cookie(login), route, 2000.0), "another hub's key"
    assert not cookies.admits(with_cookie(login), route, 1000.0 + LOGIN_SECONDS), "expired"
    assert not cookies.admits(with_cookie(login), private_route("t2"), 2000.0)
    assert not cookies.admits(with_cookie(login), private_route("t1", "bob"), 2000.0)
