"""Share links at the ingress, on both hostings: a link opens a private tunnel without other
credentials, a browser gets a cookie scoped to the tunnel, methods, paths and rates are
enforced per request, and the app never sees the token."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
import pytest
import websockets

from tests._apps import Services
from tests._tunnels import WAIT, visitor
from tests.hub.ingress._hostings import Hosting
from tests.hub.ingress._raw import one_connection, raw_request

pytestmark = pytest.mark.anyio

BROWSER = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}


async def test_a_link_opens_a_private_tunnel_and_its_token_stays_behind(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "private")
    grant = await hosting.share(tunnel, name="for the team")
    token = grant["token"]
    assert grant["shareUrl"] == f"{tunnel.url}?share_token={token}"
    async with visitor() as http:
        assert (await http.get(tunnel.url)).status_code == 401
        page = await http.get(grant["shareUrl"])
        seen = await http.post(
            f"{tunnel.url}headers/hook?a=1&share_token={token}&b=2",
            headers={"Cookie": "app=1"},
            content=b"{}",
        )
        as_bearer = await http.get(
            f"{tunnel.url}headers/", headers={"Authorization": f"Bearer {token}"}
        )
    assert (page.status_code, page.text) == (200, "hello from the app\n")
    app_view = seen.json()
    assert app_view["query"] == "a=1&b=2"
    assert app_view["headers"]["Cookie"] == "app=1"
    assert token not in json.dumps(app_view)
    assert "Authorization" not in as_bearer.json()["headers"]
    (share,) = await hosting.call("GET", f"/tunnels/{tunnel.id}/shares")
    assert share["accessCount"] == 3


async def test_a_browser_gets_a_cookie_scoped_to_the_tunnel(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "web")
    grant = await hosting.share(tunnel, name="browser", expiration="1h")
    prefix = f"{hosting.mount}/t/{tunnel.slug}"
    async with visitor() as http:
        opened = await http.get(
            f"{tunnel.url}headers/page?x=1&share_token={grant['token']}", headers=BROWSER
        )
        assert opened.status_code == 303, opened.text
        assert opened.headers["location"] == f"{prefix}/headers/page?x=1"
        parts = [part.strip() for part in opened.headers["set-cookie"].split(";")]
        assert parts[0] == f"tunnels_share={grant['token']}"
        assert {f"Path={prefix}/", "HttpOnly", "SameSite=Lax"} <= set(parts)
        max_age = int(next(p for p in parts if p.startswith("Max-Age="))[8:])
        assert 3500 < max_age <= 3600
        assert opened.headers["cache-control"] == "no-store"
        # the browser follows with the cookie (and its own cookies): the app sees only its own
        followed = await http.get(
            f"http://{urlsplit(tunnel.url).netloc}{opened.headers['location']}",
            headers={**BROWSER, "Cookie": f"theme=dark; tunnels_share={grant['token']}; b=2"},
        )
    assert followed.status_code == 200
    assert followed.json()["headers"]["Cookie"] == "theme=dark; b=2"
    assert followed.json()["query"] == "x=1"
    (share,) = await hosting.call("GET", f"/tunnels/{tunnel.id}/shares")
    assert share["accessCount"] == 1, "the redirect is no access: the page it led to is"


async def test_methods_paths_and_rates_are_enforced(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "limited")
    readonly = await hosting.share(
        tunnel, name="read only", allowedMethods=["get", "HEAD"], pathPrefix="/headers"
    )
    token = readonly["token"]
    limited = await hosting.share(tunnel, name="two a minute", rateLimitPerMinute=2)
    async with visitor() as http:
        assert (await http.get(f"{tunnel.url}headers/a?share_token={token}")).status_code == 200
        posted = await http.post(f"{tunnel.url}headers/a?share_token={token}", content=b"x")
        assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD")
        assert posted.json()["code"] == "METHOD_NOT_ALLOWED"
        for outside in ("", "headersX", "upload"):
            refused = await http.get(f"{tunnel.url}{outside}?share_token={token}")
            assert (refused.status_code, refused.json()["code"]) == (403, "PATH_NOT_SHARED")
        answers = [(await http.get(limited["shareUrl"])).status_code for _ in range(3)]
        over = await http.get(limited["shareUrl"])
        still = await http.get(f"{tunnel.url}headers?share_token={token}")
    assert answers == [200, 200, 429]
    assert (over.status_code, over.json()["code"]) == (429, "RATE_LIMITED")
    assert 1 <= int(over.headers["retry-after"]) <= 30
    assert still.status_code == 200, "one link's limit is its own"
    counts = {s["name"]: s["accessCount"] for s in await hosting.call(
        "GET", f"/tunnels/{tunnel.id}/shares"
    )}  # fmt: skip
    assert counts == {"read only": 2, "two a minute": 2}, "refused requests are no accesses"


async def test_a_read_only_link_names_the_method_it_refused(
    hosting: Hosting, services: Services
) -> None:
    """A Dash app POSTs its callbacks: behind a GET/HEAD link the 405 says why it broke."""
    tunnel = await hosting.expose(services.http_port, "dash")
    grant = await hosting.share(tunnel, name="read only", allowedMethods=["HEAD", "get"])
    url = f"{tunnel.url}_dash-update-component?share_token={grant['token']}"
    async with visitor() as http:
        posted = await http.post(url, json={"output": "graph"})
        page = await http.put(url, content=b"x", headers={"Accept": "text/html"})
    said = "this share link allows GET, HEAD; the app sent POST"
    assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD")
    assert posted.json() == {
        "code": "METHOD_NOT_ALLOWED",
        "message": f"{said}: ask its owner for a link that also allows POST",
        "details": {"method": "POST", "allowedMethods": ["GET", "HEAD"]},
    }
    assert (page.status_code, page.headers["allow"]) == (405, "GET, HEAD")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<h1>Not allowed through this share link</h1>" in page.text
    assert "This share link allows GET, HEAD; the app sent PUT" in page.text


async def test_each_request_is_judged_by_its_own_credential(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "judged")
    grant = await hosting.share(tunnel, name="one", allowedMethods=["GET"])
    requests = [
        raw_request("GET", grant["shareUrl"]),
        raw_request("GET", tunnel.url),  # no share token: the tunnel's own rule
        raw_request("GET", tunnel.url, headers=hosting.owner),
        raw_request("POST", grant["shareUrl"], b"x", close=True),
    ]
    answers = await one_connection(hosting.host, hosting.port, requests, pipelined=True)
    assert [status for status, _, _ in answers] == [200, 401, 200, 405]


async def test_revoked_links_are_refused_at_once(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "short")
    grant = await hosting.share(tunnel, name="to revoke")
    async with visitor(limits=httpx.Limits(max_connections=1)) as http:
        assert (await http.get(grant["shareUrl"])).status_code == 200
        await hosting.revoke(grant)
        refused = await http.get(grant["shareUrl"])
        page = await http.get(grant["shareUrl"], headers=BROWSER)
        unknown = await http.get(f"{tunnel.url}?share_token=jts_made-up")
    assert (refused.status_code, refused.json()["code"]) == (403, "SHARE_REVOKED")
    assert page.status_code == 403 and "set-cookie" not in page.headers
    assert "<h1>This share link was revoked</h1>" in page.text
    assert (unknown.status_code, unknown.json()["code"]) == (403, "INVALID_SHARE")


async def test_pause_applies_to_share_links_and_websockets_pass(
    hosting: Hosting, services: Services
) -> None:
    tunnel = await hosting.expose(services.http_port, "paused")
    grant = await hosting.share(tunnel, name="ws")
    ws_url = tunnel.url.replace("http://", "ws://") + f"ws?share_token={grant['token']}"
    async with websockets.connect(ws_url, open_timeout=WAIT) as socket:
        await socket.send("through a share")
        assert await asyncio.wait_for(socket.recv(), WAIT) == "through a share"
    await hosting.set_status(tunnel, "paused")
    async with visitor() as http:
        paused = await http.get(grant["shareUrl"])
        page = await http.get(tunnel.url, headers={"Accept": "text/html", **hosting.owner})
        await hosting.set_status(tunnel, "active")
        resumed = await http.get(grant["shareUrl"])
    assert (paused.status_code, paused.json()["code"]) == (503, "AGENT_UNAVAILABLE")
    assert page.status_code == 503
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Tunnel &#x27;paused&#x27; is paused." in page.text
    assert "<script" not in page.text and "http" not in page.text.split("</style>")[1]
    assert resumed.status_code == 200
