"""Inside a Jupyter server on loopback, each tunnel is also served at its own origin,
``http://{slug}.localhost:{port}/``: the app runs at the root, and a private tunnel's first
visit is let in by a one-time redirect through Jupyter (hub/ingress/_origin.py).

Python's resolver may not know ``*.localhost`` (browsers resolve it themselves), so the
visitor connects to 127.0.0.1 and names the host in ``Host``, as a browser would send it."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import websockets

from jupyter_tunnels.hub.ingress._origin import (
    CALLBACK_PATH,
    CODE_SECONDS,
    ORIGIN_LOGIN_SECONDS,
    OriginLogins,
)
from tests._apps import Services
from tests._sockets import closed_port
from tests._tunnels import visitor
from tests.hub.ingress._hostings import Embedded, Exposed, MakeHosting
from tests.hub.ingress.test_login import private_route

pytestmark = pytest.mark.anyio

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
CALLBACK = CALLBACK_PATH.decode()


async def at(http: httpx.AsyncClient, url: str, **headers: str) -> httpx.Response:
    """``GET url`` sent to 127.0.0.1 with the URL's host in ``Host`` (no redirects followed)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    address = f"http://127.0.0.1:{parts.port}{target}"
    return await http.get(address, headers={"Host": parts.netloc, **headers})


async def exposed(hosting: Embedded, port: int, name: str, *, public: bool = False) -> str:
    """Expose ``port`` through the server; the tunnel's own origin URL (from ``originUrl``)."""
    answer = await hosting.api.post("expose", json={"port": port, "name": name, "public": public})
    assert answer.status_code in (200, 201), answer.text
    tunnel = answer.json()
    hosting.exposed.append(Exposed(tunnel["id"], tunnel["slug"], tunnel["url"]))
    url: str = tunnel["originUrl"]
    assert url == f"http://{tunnel['slug']}.localhost:{hosting.port}/"
    return url


def embedded(make_hosting: MakeHosting, **settings: object) -> Embedded:
    """The run's Jupyter server (with these settings)."""
    hosting = make_hosting("embedded", **settings)
    assert isinstance(hosting, Embedded)
    return hosting


def cookie_of(answer: httpx.Response) -> str:
    """``name=value`` of the answer's ``Set-Cookie``."""
    return answer.headers["set-cookie"].split(";", 1)[0]


async def log_in(
    http: httpx.AsyncClient, hosting: Embedded, origin: str, path: str
) -> tuple[httpx.Response, str]:
    """The first visit of ``path`` through Jupyter's authorize page (with Jupyter's token);
    the callback's answer and the callback URL it redeemed."""
    first = await at(http, origin.rstrip("/") + path, **BROWSER)
    assert first.status_code == 302, first.text
    authorize = first.headers["location"]
    granted = await at(http, authorize, **BROWSER, **hosting.owner)
    assert granted.status_code == 302, granted.text
    callback = granted.headers["location"]
    return await at(http, callback, **BROWSER), callback


async def test_a_private_tunnel_is_let_in_at_its_origin_through_jupyter(
    make_hosting: MakeHosting, services: Services
) -> None:
    hosting = embedded(make_hosting)
    origin = await exposed(hosting, services.http_port, "own-origin")
    slug = urlsplit(origin).hostname
    assert slug is not None
    wanted = "/headers/page?x=1&y=2"
    async with visitor() as http:
        first = await at(http, origin.rstrip("/") + wanted, **BROWSER)
        program = await at(http, origin)
        authorize = first.headers["location"]
        not_logged_in = await at(http, authorize, **BROWSER)
        granted = await at(http, authorize, **BROWSER, **hosting.owner)
        callback = granted.headers["location"]
        answered = await at(http, callback, **BROWSER)
        cookie = cookie_of(answered)
        page = await at(http, origin.rstrip("/") + wanted, Cookie=f"{cookie}; app=1")
        root = await at(http, origin, Cookie=cookie)
        replayed = await at(http, callback, **BROWSER)
        made_up = await at(http, f"{origin.rstrip('/')}{CALLBACK}?code=made-up&next=/")
    assert first.status_code == 302
    assert authorize == (
        f"http://localhost:{hosting.port}{hosting.mount}/authorize"
        f"?tunnel={slug.split('.')[0]}&next={quote(wanted, safe='')}"
    )
    assert program.status_code == 401, "a program is not redirected"
    assert not_logged_in.status_code == 302
    assert "/login?next=" in not_logged_in.headers["location"], "Jupyter's login comes first"
    assert callback.startswith(f"{origin.rstrip('/')}{CALLBACK}?code=")
    assert parse_qs(urlsplit(callback).query)["next"] == [wanted]
    assert (answered.status_code, answered.headers["location"]) == (303, wanted)
    attributes = answered.headers["set-cookie"].lower()
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/;" in attributes
    assert "domain" not in attributes, "the cookie is for that subdomain only"
    assert f"max-age={ORIGIN_LOGIN_SECONDS}" in attributes
    assert page.status_code == 200, page.text
    seen = page.json()
    assert (seen["path"], seen["query"]) == ("/headers/page", "x=1&y=2"), "no prefix"
    assert seen["headers"]["Cookie"] == "app=1", "the app never sees the hub's cookie"
    assert (root.status_code, root.text) == (200, "hello from the app\n")
    assert replayed.status_code == 403, "a code is used once"
    assert made_up.status_code == 403


async def test_a_cookie_or_code_of_one_tunnel_does_not_open_another(
    make_hosting: MakeHosting, services: Services
) -> None:
    hosting = embedded(make_hosting)
    first = await exposed(hosting, services.http_port, "origin-a")
    second = await exposed(hosting, closed_port(), "origin-b")
    async with visitor() as http:
        answered, _ = await log_in(http, hosting, first, "/")
        cookie = cookie_of(answered)
        other = await at(http, second, Cookie=cookie, **BROWSER)
        granted = await at(http, other.headers["location"], **BROWSER, **hosting.owner)
        code = parse_qs(urlsplit(granted.headers["location"]).query)["code"][0]
        swapped = await at(http, f"{first.rstrip('/')}{CALLBACK}?code={code}&next=/")
    assert answered.status_code == 303
    assert other.status_code == 302, "tunnel A's cookie does not open tunnel B"
    assert swapped.status_code == 403, "tunnel B's code does not open tunnel A"


async def test_next_stays_on_the_tunnels_origin(
    make_hosting: MakeHosting, services: Services
) -> None:
    hosting = embedded(make_hosting)
    origin = await exposed(hosting, services.http_port, "origin-next")
    slug = urlsplit(origin).hostname
    assert slug is not None
    authorize = f"http://localhost:{hosting.port}{hosting.mount}/authorize"
    async with visitor() as http:
        granted = await at(
            http, f"{authorize}?tunnel={slug.split('.')[0]}&next=//evil.example/", **hosting.owner
        )
        answered = await at(http, granted.headers["location"])
        unknown = await at(http, f"{authorize}?tunnel=no-such-tunnel&next=/", **hosting.owner)
    assert (answered.status_code, answered.headers["location"]) == (303, "/")
    assert unknown.status_code == 404


async def test_a_public_tunnel_and_its_websockets_are_served_at_its_origin(
    make_hosting: MakeHosting, services: Services
) -> None:
    hosting = embedded(make_hosting)
    origin = await exposed(hosting, services.http_port, "origin-public", public=True)
    async with visitor() as http:
        page = await at(http, origin + "headers", **BROWSER)
    assert page.status_code == 200
    assert page.json()["path"] == "/headers"
    sock = socket.create_connection(("127.0.0.1", hosting.port))
    ws_url = origin.replace("http://", "ws://") + "ws"
    async with websockets.connect(ws_url, sock=sock) as echo:
        await echo.send("hello")
        assert await echo.recv() == "hello"


async def test_a_private_tunnels_websocket_at_its_origin_needs_the_cookie(
    make_hosting: MakeHosting, services: Services
) -> None:
    hosting = embedded(make_hosting)
    origin = await exposed(hosting, services.http_port, "origin-sockets")
    ws_url = origin.replace("http://", "ws://") + "ws"
    async with visitor() as http:
        answered, _ = await log_in(http, hosting, origin, "/")
    sock = socket.create_connection(("127.0.0.1", hosting.port))
    headers = {"Cookie": cookie_of(answered)}
    async with websockets.connect(ws_url, sock=sock, additional_headers=headers) as echo:
        await echo.send("private hello")
        assert await echo.recv() == "private hello"
    refused = socket.create_connection(("127.0.0.1", hosting.port))
    with pytest.raises(websockets.InvalidStatus) as caught:
        async with websockets.connect(ws_url, sock=refused):
            pass
    assert caught.value.response.status_code == 401


@pytest.mark.parametrize(
    "settings",
    [{"subdomains": False}, {"public_base_url": "https://hub.example.org/user/alice/"}],
    ids=["turned-off", "behind-a-proxy"],
)
async def test_the_origin_url_is_not_offered_where_it_cannot_work(
    make_hosting: MakeHosting, services: Services, settings: dict[str, object]
) -> None:
    hosting = embedded(make_hosting, **settings)
    answer = await hosting.api.post("expose", json={"port": services.http_port, "name": "plain"})
    tunnel = answer.json()
    hosting.exposed.append(Exposed(tunnel["id"], tunnel["slug"], tunnel["url"]))
    async with visitor() as http:
        page = await at(http, f"http://{tunnel['slug']}.localhost:{hosting.port}/", **BROWSER)
    assert tunnel["originUrl"] is None
    assert page.status_code in (403, 404), "not routed to the tunnel"


def test_a_code_works_once_for_its_tunnel_within_its_time() -> None:
    origins = OriginLogins(b"/tunnels/authorize")
    route, other = private_route("t1"), private_route("t2")
    code = origins.issue(route, moment=100.0)
    assert not origins.redeem(code, other, moment=101.0), "bound to its tunnel"
    assert not origins.redeem(code, route, moment=101.0), "used up by the wrong try"
    late = origins.issue(route, moment=100.0)
    assert not origins.redeem(late, route, moment=100.0 + CODE_SECONDS), "expired"
    fresh = origins.issue(route, moment=100.0)
    assert origins.redeem(fresh, route, moment=100.0 + CODE_SECONDS - 1)
    assert not origins.redeem(fresh, route, moment=101.0), "used once"


async def test_the_redirects_keep_the_port_the_browser_used(
    make_hosting: MakeHosting, services: Services
) -> None:
    """Behind an SSH forward (``ssh -L 9999:localhost:8888``) the browser's port is not the
    server's: the redirects stay on the browser's."""
    hosting = embedded(make_hosting)
    origin = await exposed(hosting, services.http_port, "origin-forwarded")
    slug = urlsplit(origin).hostname
    assert slug is not None
    forwarded = f"{slug}:9999"
    async with visitor() as http:
        address = f"http://127.0.0.1:{hosting.port}/page"
        first = await http.get(address, headers={"Host": forwarded, **BROWSER})
        authorize = urlsplit(first.headers["location"])
        granted = await http.get(
            f"http://127.0.0.1:{hosting.port}{authorize.path}?{authorize.query}",
            headers={"Host": authorize.netloc, **hosting.owner},
        )
    assert authorize.netloc == "localhost:9999"
    assert granted.headers["location"].startswith(f"http://{forwarded}{CALLBACK}?code=")


async def test_another_origin_cannot_post_with_the_tunnels_cookie(
    make_hosting: MakeHosting, services: Services
) -> None:
    """Every ``*.localhost`` is one site: ``SameSite=Lax`` sends the cookie along from another
    tunnel's page, whose ``Origin`` gives it away."""
    hosting = embedded(make_hosting)
    origin = await exposed(hosting, services.http_port, "origin-posts")
    netloc = urlsplit(origin).netloc
    async with visitor() as http:
        answered, _ = await log_in(http, hosting, origin, "/")
        cookie = cookie_of(answered)
        address = f"http://127.0.0.1:{hosting.port}/headers"
        own = await http.post(
            address, headers={"Host": netloc, "Cookie": cookie, "Origin": f"http://{netloc}"}
        )
        other = f"http://other.localhost:{hosting.port}"
        forged = await http.post(
            address, headers={"Host": netloc, "Cookie": cookie, "Origin": other}
        )
        read = await http.get(address, headers={"Host": netloc, "Cookie": cookie, "Origin": other})
    assert own.status_code == 200, own.text
    assert (forged.status_code, forged.json()["code"]) == (403, "CROSS_SITE_REQUEST")
    assert read.status_code == 200, "a GET changes nothing (and CORS keeps its answer)"
