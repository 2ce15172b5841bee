"""The ingress inside a real Jupyter server: Jupyter's login opens the owner's private tunnels
exactly as it opens Jupyter (same user, same cookie validity, logout effective at the next
request), Jupyter's credentials never reach an app, and a kept-alive connection carries
Jupyter's own requests and tunnel requests in any order (the connection goes back to Jupyter
and comes back to the front)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests._apps import Services, start_services
from tests.hub.ingress._hostings import Embedded
from tests.hub.ingress._raw import one_connection, raw_request
from tests.kernel._servers import JupyterServerProcess, start_jupyter_server

pytestmark = pytest.mark.anyio


@pytest.fixture
async def embedded(embedded_server: JupyterServerProcess) -> AsyncIterator[Embedded]:
    """The embedded hosting only."""
    hosting = Embedded(embedded_server)
    try:
        yield hosting
    finally:
        await hosting.aclose()


async def login_cookie(server: JupyterServerProcess) -> tuple[str, str]:
    """The login cookie Jupyter sets for a token-authenticated request: ``(name, value)``."""
    async with httpx.AsyncClient(timeout=20, trust_env=False) as http:
        answer = await http.get(server.url + "api/status", headers=server.headers)
    for cookie in answer.headers.get_list("set-cookie"):
        name, _, rest = cookie.partition("=")
        if name.startswith("username-"):
            return name, rest.split(";", 1)[0]
    raise AssertionError(f"no login cookie in {answer.headers}")


async def test_jupyters_login_opens_private_tunnels_and_logout_closes_them(
    embedded: Embedded, services: Services
) -> None:
    tunnel = await embedded.expose(services.http_port, "logged-in")
    name, value = await login_cookie(embedded.server)
    tampered = value[:-4] + ("0000" if not value.endswith("0000") else "1111")
    requests = [
        raw_request("GET", tunnel.url, headers={"Cookie": f"{name}={value}"}),
        raw_request("GET", tunnel.url, headers={"Cookie": f"{name}={tampered}"}),
        raw_request("GET", tunnel.url),  # the browser logged out: its cookie is gone
        raw_request("GET", tunnel.url, headers={"Cookie": f"other=1; {name}={value}"}),
        raw_request("GET", tunnel.url, headers={"Authorization": f"token {embedded.server.token}"}),
        raw_request("GET", tunnel.url, headers={"Authorization": "token not-the-token"}),
    ]
    answers = await one_connection(embedded.host, embedded.port, requests, pipelined=False)
    assert [status for status, _, _ in answers] == [200, 401, 401, 200, 200, 401]

    # a real browser session: the logout page clears the cookie, the next request is refused
    async with httpx.AsyncClient(timeout=20, trust_env=False) as browser:
        browser.cookies.set(name, value, domain="127.0.0.1")
        assert (await browser.get(tunnel.url)).status_code == 200
        await browser.get(embedded.server.url + "logout")
        assert name not in browser.cookies
        refused = await browser.get(tunnel.url, headers={"Accept": "text/html"})
        program = await browser.get(tunnel.url)
    assert refused.status_code == 302, "a browser is sent to Jupyter's login (test_login.py)"
    assert "/login?next=" in refused.headers["location"]
    assert program.status_code == 401
    assert "log in to Jupyter" in program.json()["message"]


async def test_a_cross_site_request_with_only_jupyters_cookie_is_refused(
    embedded: Embedded, services: Services
) -> None:
    tunnel = await embedded.expose(services.http_port, "cross-site")
    name, value = await login_cookie(embedded.server)
    cookie = {"Cookie": f"{name}={value}"}
    same_site = {**cookie, "Origin": f"http://127.0.0.1:{embedded.port}"}
    other_site = {**cookie, "Origin": "http://evil.example"}
    async with httpx.AsyncClient(timeout=20, trust_env=False) as http:
        refused = await http.post(tunnel.url + "upload", content=b"x", headers=other_site)
        allowed = await http.post(tunnel.url + "upload", content=b"x", headers=same_site)
        read = await http.get(tunnel.url, headers=other_site)  # reading is no forgery
        upgrade = {
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        hijacked = await http.get(tunnel.url + "ws", headers={**other_site, **upgrade})
        with_token = await http.post(
            tunnel.url + "upload",
            content=b"x",
            headers={"Origin": "http://evil.example", **embedded.owner},
        )
    assert (refused.status_code, refused.json()["code"]) == (403, "CROSS_SITE_REQUEST")
    assert allowed.json() == {"received": 1}
    assert read.status_code == 200
    assert (hijacked.status_code, hijacked.json()["code"]) == (403, "CROSS_SITE_REQUEST")
    assert with_token.json() == {"received": 1}, "a token is no ambient credential"


async def test_jupyters_credentials_never_reach_the_app(
    embedded: Embedded, services: Services
) -> None:
    tunnel = await embedded.expose(services.http_port, "credentials")
    token = embedded.server.token
    name, value = await login_cookie(embedded.server)
    cookie = f"{name}={value}; _xsrf=2|abc; app_session=kept; jupyterhub-session-id=x"
    async with httpx.AsyncClient(timeout=20, trust_env=False) as http:
        seen = (
            await http.get(
                tunnel.url + f"headers?token={token}&_xsrf=abc&keep=1&token=other",
                headers={"Authorization": f"token {token}", "Cookie": cookie, "X-XSRFToken": "a"},
            )
        ).json()
    headers = seen["headers"]
    assert "Authorization" not in headers and "X-Xsrftoken" not in headers
    assert headers["Cookie"] == "app_session=kept"
    assert seen["query"] == "keep=1&token=other"


async def test_jupyters_token_never_reaches_an_app_but_the_apps_own_authorization_does(
    embedded: Embedded, services: Services
) -> None:
    """On a public tunnel only Jupyter's token goes (its ``token`` scheme, or the server's
    token in any scheme); on a private one, where Jupyter's login let the visitor in, any
    bearer goes too (Jupyter accepts bearers), and other schemes pass."""
    other = start_services("other")  # one tunnel per port inside Jupyter
    try:
        public = await embedded.expose(services.http_port, "public-authorization", public=True)
        private = await embedded.expose(other.http_port, "private-authorization")
        token = embedded.server.token
        name, value = await login_cookie(embedded.server)
        values = [f"token {token}", f"Bearer {token}", "token other", "Bearer app", "Basic eA=="]
        requests = [
            raw_request("GET", public.url + "headers/", headers={"Authorization": v})
            for v in values
        ]
        logged_in = {"Cookie": f"{name}={value}"}
        requests += [
            raw_request("GET", private.url + "headers/", headers={**logged_in, "Authorization": v})
            for v in ("Bearer app", "Basic eA==")
        ]
        answers = await one_connection(embedded.host, embedded.port, requests, pipelined=False)
    finally:
        other.stop()
    assert [status for status, _, _ in answers] == [200] * len(requests)
    passed = [json.loads(body)["headers"].get("Authorization") for _, _, body in answers]
    assert passed == [None, None, None, "Bearer app", "Basic eA==", None, "Basic eA=="]


async def test_jupyters_own_requests_and_tunnel_requests_share_a_connection(
    embedded: Embedded, services: Services
) -> None:
    tunnel = await embedded.expose(services.http_port, "shared-connection", public=True)
    jupyter = embedded.server.url + "api/status"
    auth = {"Authorization": f"token {embedded.server.token}"}
    note = b'{"type": "file", "format": "text", "content": "hello"}'
    requests = [
        raw_request("GET", tunnel.url),
        raw_request("GET", jupyter, headers=auth),
        raw_request("GET", tunnel.url + "headers/again"),
        raw_request("PUT", embedded.server.url + "api/contents/note.txt", note, headers=auth),
        raw_request("GET", jupyter, headers=auth),
        raw_request("GET", tunnel.url, close=True),
    ]
    for pipelined in (False, True):
        answers = await one_connection(embedded.host, embedded.port, requests, pipelined=pipelined)
        statuses = [status for status, _, _ in answers]
        assert statuses[:3] == [200, 200, 200] and statuses[4:] == [200, 200], statuses
        assert statuses[3] in (200, 201), "Jupyter saved the note (a body it read itself)"
        assert b'"started"' in answers[1][2], "Jupyter itself answered"
        assert b"/headers/again" in answers[2][2], "then the tunnel's app again"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServerProcess]:
    """A Jupyter server that speaks HTTPS itself (a self-signed certificate it trusts)."""
    base = tmp_path_factory.mktemp("tls-jupyter")
    certificate, key = base / "cert.pem", base / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
         "-out", str(certificate)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    server = start_jupyter_server(base, tls=(certificate, key))
    yield server
    server.stop()


async def test_a_server_that_speaks_tls_itself_hands_connections_over_too(
    tls_server: JupyterServerProcess, services: Services
) -> None:
    """Tornado keeps the TLS keys: the front gets the decrypted bytes through a socket pair,
    and Jupyter's own requests still go back to Jupyter on the same connection."""
    hosting = Embedded(tls_server)
    try:
        tunnel = await hosting.expose(services.http_port, "over-tls")
        assert tunnel.url.startswith("https://")
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(
            timeout=20, trust_env=False, verify=tls_server.verify, limits=limits
        ) as http:
            private = await http.get(tunnel.url + "headers/x", headers=hosting.owner)
            refused = await http.get(tunnel.url)
            jupyter = await http.get(tls_server.url + "api/status", headers=hosting.owner)
            again = await http.get(tunnel.url + "headers/y", headers=hosting.owner)
            uploaded = await http.post(
                tunnel.url + "upload", content=bytes(4 * 1024 * 1024), headers=hosting.owner
            )
    finally:
        await hosting.aclose()
    assert private.status_code == 200
    assert private.json()["headers"]["X-Forwarded-Proto"] == "https"
    assert refused.status_code == 401
    assert jupyter.status_code == 200 and "started" in jupyter.json()
    assert again.json()["path"] == "/headers/y"
    assert uploaded.json() == {"received": 4 * 1024 * 1024}
    streams = {id(a.extensions["network_stream"]) for a in (private, refused, jupyter, again)}
    assert len(streams) == 1
