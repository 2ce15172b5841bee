"""The ingress inside Jupyter: visitors reach the tunnel's app through ``{base_url}tunnels/t/``,
streamed both ways, with forwarding headers set and Jupyter's credentials left behind."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import h11
import httpx
import websockets
from jupyter_server.serverapp import ServerApp
from sqlalchemy import update

from jupyter_tunnels.connector import Connector
from jupyter_tunnels.hub.store import _tables
from jupyter_tunnels.jupyter import TunnelsApp
from tests._apps import Services, event_lines
from tests.jupyter._helpers import body, start, tunnels_app

JSON = {"Content-Type": "application/json"}
MIB = 1024 * 1024
ROUNDS = 20
"""Rounds of refusals on one connection: closing after a refusal raced the next request."""


async def expose(jp_fetch: Any, **wanted: Any) -> dict[str, Any]:
    """``POST tunnels/expose``; the Tunnel."""
    answer = await jp_fetch(
        "tunnels", "expose", method="POST", body=json.dumps(wanted), headers=dict(JSON)
    )
    result: dict[str, Any] = body(answer)
    return result


def visitor() -> httpx.AsyncClient:
    """A visitor with no Jupyter credentials (fixtures must be synchronous here)."""
    return httpx.AsyncClient(timeout=20)


def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def jupyter_token(serverapp: ServerApp) -> str:
    """The server's login token."""
    token = serverapp.identity_provider.token
    assert token, "the test server has a token"
    return token


async def test_public_app_is_served_with_forwarding_headers(
    jp_fetch: Any, jp_serverapp: ServerApp, jp_base_url: str, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="web", public=True)
        page = await http.get(tunnel["url"])
        assert page.status_code == 200
        assert page.text == "hello from the app\n"

        chained = {"X-Forwarded-For": "10.9.8.7"}
        seen = (await http.get(tunnel["url"] + "headers/deep?x=1", headers=chained)).json()
        assert seen["path"] == "/headers/deep"
        assert seen["query"] == "x=1"
        headers = seen["headers"]
        prefix = f"{jp_base_url}tunnels/t/{tunnel['slug']}"
        assert headers["X-Forwarded-Prefix"] == prefix
        assert headers["X-Forwarded-Host"] == f"127.0.0.1:{jp_serverapp.port}"
        assert headers["X-Forwarded-Proto"] == "http"
        assert headers["X-Forwarded-For"] == "10.9.8.7, 127.0.0.1"
        assert headers["Host"] == f"127.0.0.1:{services.http_port}"


async def test_jupyter_credentials_never_reach_the_app(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="private-app")
        assert tunnel["access"] == "private"
        token = jupyter_token(jp_serverapp)
        url = tunnel["url"] + f"headers?token={token}&_xsrf=abc&keep=1&token=other"

        refused = await http.get(url.replace(f"token={token}&", ""))
        assert refused.status_code == 401
        assert refused.json()["code"] == "MISSING_AUTH"

        answer = await jp_fetch("tunnels", "info")  # token-authenticated: Jupyter sets its cookie
        (login,) = [value.split(";", 1)[0] for value in answer.headers.get_list("Set-Cookie")]
        assert login.startswith("username-")
        cookie = f"{login}; _xsrf=2|abc; app_session=kept; jupyterhub-session-id=x"
        seen = (
            await http.get(
                url,
                headers={"Authorization": f"token {token}", "Cookie": cookie, "X-XSRFToken": "abc"},
            )
        ).json()
        headers = seen["headers"]
        assert "Authorization" not in headers
        assert "X-Xsrftoken" not in headers
        assert headers["Cookie"] == "app_session=kept"
        assert seen["query"] == "keep=1&token=other"


async def test_streams_flow_both_ways_unbuffered(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="streams", public=True)

        async def upload() -> AsyncIterator[bytes]:
            block = bytes(MIB)
            for _ in range(64):
                yield block

        uploaded = await http.post(tunnel["url"] + "upload", content=upload())
        assert uploaded.json() == {"received": 64 * MIB}

        received = 0
        async with http.stream("GET", tunnel["url"] + f"download?size={64 * MIB}") as download:
            async for chunk in download.aiter_raw():
                received += len(chunk)
        assert received == 64 * MIB

        loop = asyncio.get_running_loop()
        chunks: list[bytes] = []
        arrivals: list[float] = []
        started = loop.time()
        async with http.stream("GET", tunnel["url"] + "events?count=4&interval=0.3") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            async for chunk in events.aiter_raw():
                chunks.append(chunk)
                arrivals.append(loop.time() - started)
        assert event_lines(chunks) == ["event 0", "event 1", "event 2", "event 3"]
        assert len(arrivals) >= 4 and arrivals[-1] - arrivals[0] >= 0.6


async def test_websocket_passes_through_and_counts_as_activity(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    app = await start(jp_serverapp)
    tunnel = await expose(jp_fetch, port=services.http_port, name="sockets", public=True)
    assert not app.current_activity()
    ws_url = tunnel["url"].replace("http://", "ws://") + "ws"
    async with websockets.connect(ws_url) as echo:
        for message in ("hello", b"\x00binary\xff"):
            await echo.send(message)
            assert await echo.recv() == message
        assert app.current_activity()
    for _ in range(100):  # the relay ends once both sides have closed
        if not app.current_activity():
            break
        await asyncio.sleep(0.05)
    assert not app.current_activity()


async def test_each_request_is_judged_on_its_own(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(timeout=20, limits=limits) as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="judged", public=True)
        first = await http.get(tunnel["url"])
        assert first.status_code == 200
        assert first.headers.get("Connection") != "close"  # kept alive: the front judges the next
        connection = first.extensions["network_stream"]

        await jp_fetch(
            "tunnels", "v1", "tunnels", tunnel["id"], method="PATCH",
            body=json.dumps({"status": "paused"}), headers=dict(JSON),
        )  # fmt: skip
        paused = await http.get(tunnel["url"])
        assert paused.status_code == 503
        assert "paused" in paused.json()["message"]

        await jp_fetch(
            "tunnels", "v1", "tunnels", tunnel["id"], method="PATCH",
            body=json.dumps({"status": "active"}), headers=dict(JSON),
        )  # fmt: skip
        resumed = await http.get(tunnel["url"])
        assert resumed.status_code == 200
        for answer in (paused, resumed):
            assert answer.extensions["network_stream"] is connection, "one connection throughout"


async def test_clear_errors_for_bad_visits(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="errors", public=True)
        bare = tunnel["url"].rstrip("/")
        redirect = await http.get(bare + "?a=1")
        assert redirect.status_code == 308
        assert redirect.headers["Location"].endswith(f"/t/{tunnel['slug']}/?a=1")

        unknown = await http.get(bare.replace(tunnel["slug"], "no-such-tunnel") + "/")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "TUNNEL_NOT_FOUND"


async def test_target_down_gives_a_clear_502(jp_fetch: Any, jp_serverapp: ServerApp) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        port = unused_port()
        tunnel = await expose(jp_fetch, port=port, name="down", public=True)
        answer = await http.get(tunnel["url"])
        assert answer.status_code == 502
        error = answer.json()
        assert error["code"] == "LOCAL_UNAVAILABLE"
        assert f"127.0.0.1:{port}" in error["message"]


async def test_another_connector_serves_through_data_connections(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    async with visitor() as http:
        app = await start(jp_serverapp)
        embedded = app.embedded
        assert embedded is not None and embedded.token is not None
        hub_url = app.local_url() + "tunnels"
        connector = Connector(hub_url, embedded.token, client_instance_id="terminal", pool_size=2)
        await connector.start()
        try:
            tunnel = await connector.expose(services.http_port, name="from-a-terminal", public=True)
            assert not embedded.dials(embedded.hub.router.by_id[tunnel.id])
            for _ in range(3):
                page = await http.get(tunnel.url)
                assert page.text == "hello from the app\n"
        finally:
            await connector.close(release=True)
        assert tunnels_app(jp_serverapp) is app


async def test_share_links_work_inside_jupyter(
    jp_fetch: Any, jp_serverapp: ServerApp, jp_base_url: str, services: Services
) -> None:
    async with visitor() as http:
        await start(jp_serverapp)
        tunnel = await expose(jp_fetch, port=services.http_port, name="shared")
        assert (await http.get(tunnel["url"])).status_code in (401, 403), "private"
        created = await jp_fetch(
            "tunnels",
            "v1",
            "tunnels",
            tunnel["id"],
            "shares",
            method="POST",
            body=json.dumps({"name": "guests", "allowedMethods": ["GET"], "rateLimitPerMinute": 5}),
            headers=dict(JSON),
        )
        grant = body(created)
        assert grant["shareUrl"] == f"{tunnel['url']}?share_token={grant['token']}"

        # no Jupyter login, no cookie: the link alone opens the private tunnel
        seen = await http.get(f"{tunnel['url']}headers/a?q=1&share_token={grant['token']}")
        assert seen.status_code == 200, seen.text
        assert seen.json()["query"] == "q=1"
        assert grant["token"] not in seen.text

        browser = {"Accept": "text/html", "Cookie": "app=1"}
        opened = await http.get(grant["shareUrl"], headers=browser)
        assert opened.status_code == 303
        prefix = f"{jp_base_url}tunnels/t/{tunnel['slug']}"
        assert opened.headers["location"] == f"{prefix}/"
        assert f"Path={prefix}/" in opened.headers["set-cookie"]
        cookie = {"Cookie": f"app=1; tunnels_share={grant['token']}"}
        followed = await http.get(f"{tunnel['url']}headers/b", headers=cookie)
        assert followed.status_code == 200
        assert followed.json()["headers"]["Cookie"] == "app=1"

        posted = await http.post(grant["shareUrl"], content=b"x")
        assert (posted.status_code, posted.headers["allow"]) == (405, "GET")
        answers = [(await http.get(grant["shareUrl"])).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429], "5 a minute: 2 were used above"

        await jp_fetch("tunnels", "v1", "shares", grant["id"], method="DELETE", headers=dict(JSON))
        revoked = await http.get(grant["shareUrl"])
        assert (revoked.status_code, revoked.json()["code"]) == (403, "SHARE_REVOKED")
        page = await http.get(grant["shareUrl"], headers={"Accept": "text/html"})
        assert page.status_code == 403
        assert "<h1>This share link was revoked</h1>" in page.text


async def share(jp_fetch: Any, tunnel_id: str, name: str) -> dict[str, Any]:
    """``POST tunnels/v1/tunnels/{id}/shares`` as the Jupyter user; the grant."""
    created = await jp_fetch(
        "tunnels", "v1", "tunnels", tunnel_id, "shares",
        method="POST", body=json.dumps({"name": name}), headers=dict(JSON),
    )  # fmt: skip
    grant: dict[str, Any] = body(created)
    return grant


async def expire_share(app: TunnelsApp, share_id: str, tunnel_id: str) -> None:
    """Move a share's expiry into the past, as time would (a write the router reloads)."""
    assert app.embedded is not None
    store = app.embedded.hub.store
    async with store.write() as conn:
        await conn.execute(
            update(_tables.shares).where(_tables.shares.c.id == share_id).values(expires_at=1.0)
        )
        store.changed(conn, [tunnel_id])


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, httpx.Headers, bytes]:
    """One response with a ``Content-Length`` from a raw connection: status, fields, body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 20)
    status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
    fields = httpx.Headers([tuple(line.split(": ", 1)) for line in lines])
    content = await reader.readexactly(int(fields.get("Content-Length", "0")))
    return int(status_line.split(" ")[1]), fields, content


async def test_refusals_keep_a_kept_alive_connection_usable(
    jp_fetch: Any, jp_serverapp: ServerApp, services: Services
) -> None:
    app = await start(jp_serverapp)
    private = await expose(jp_fetch, port=services.http_port, name="kept-private")
    paused = await expose(jp_fetch, port=unused_port(), name="kept-paused", public=True)
    await jp_fetch(
        "tunnels", "v1", "tunnels", paused["id"], method="PATCH",
        body=json.dumps({"status": "paused"}), headers=dict(JSON),
    )  # fmt: skip
    revoked = await share(jp_fetch, private["id"], "revoked")
    await jp_fetch("tunnels", "v1", "shares", revoked["id"], method="DELETE", headers=dict(JSON))
    expired = await share(jp_fetch, private["id"], "expired")
    await expire_share(app, expired["id"], private["id"])
    link = await share(jp_fetch, private["id"], "guests")
    unknown = private["url"].replace(private["slug"], "no-such-tunnel")
    refusals: list[tuple[str, str, bytes | None, int]] = [
        ("GET", private["url"], None, 401),
        ("GET", unknown, None, 404),
        ("GET", revoked["shareUrl"], None, 403),
        ("GET", expired["shareUrl"], None, 410),
        ("GET", paused["url"], None, 503),
        ("POST", private["url"] + "upload", bytes(1000), 401),
    ]

    async with httpx.AsyncClient(timeout=20, limits=httpx.Limits(max_connections=1)) as http:
        for _ in range(ROUNDS):
            connections = []
            for method, url, content, status in refusals:
                refused = await http.request(method, url, content=content)
                assert refused.status_code == status, refused.text
                assert refused.headers.get("Connection") != "close", "the hub keeps it alive"
                connections.append(refused.extensions["network_stream"])
            assert all(c is connections[0] for c in connections), "all came on one connection"
            opened = await http.get(link["shareUrl"])
            assert (opened.status_code, opened.text) == (200, "hello from the app\n")
            assert (await http.get(private["url"])).status_code == 401
            upload = f"{private['url']}upload?share_token={link['token']}"
            uploaded = await http.post(upload, content=bytes(MIB))
            assert uploaded.json() == {"received": MIB}

    # a body too long to read and drop: answered at once, and the connection closed, as said
    async with visitor() as http:
        for _ in range(ROUNDS):
            refused = await http.post(private["url"] + "upload", content=bytes(8 * MIB))
            assert (refused.status_code, refused.headers["Connection"]) == (401, "close")

    # on one raw connection, one after the other and pipelined: each is judged and answered
    upload = f"{private['url']}upload?share_token={link['token']}"
    requests = [raw_request(method, url, content) for method, url, content, _ in refusals]
    requests.append(raw_request("POST", upload, bytes(100_000), close=True))
    for pipelined in (False, True):
        answers = await one_connection(private["url"], requests, pipelined=pipelined)
        assert [status for status, _, _ in answers] == [*(wanted for *_, wanted in refusals), 200]
        assert all(fields.get("Connection") != "close" for _, fields, _ in answers[:-1])
        assert answers[-1][1]["Connection"] == "close"
        assert json.loads(answers[-1][2]) == {"received": 100_000}


def raw_request(
    method: str, url: str, content: bytes | None = None, *, close: bool = False
) -> bytes:
    """An HTTP/1.1 request as sent on the wire (``close``: it asks to close the connection)."""
    parsed = httpx.URL(url)
    head = f"{method} {parsed.raw_path.decode()} HTTP/1.1\r\nHost: {parsed.netloc.decode()}\r\n"
    if close:
        head += "Connection: close\r\n"
    return f"{head}Content-Length: {len(content or b'')}\r\n\r\n".encode() + (content or b"")


async def one_connection(
    url: str, requests: list[bytes], *, pipelined: bool
) -> list[tuple[int, httpx.Headers, bytes]]:
    """The answers to ``requests`` sent on one connection; the last must close it cleanly."""
    parsed = httpx.URL(url)
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    answers = []
    try:
        if pipelined:
            writer.write(b"".join(requests))
        for request in requests:
            if not pipelined:
                writer.write(request)
            answers.append(await read_answer(reader))
        if b"Connection: close" in requests[-1]:
            assert await asyncio.wait_for(reader.read(), 20) == b"", "a clean close at the end"
    finally:
        writer.close()
    return answers


class RecordingApp:
    """An app that answers every request ``200 ok`` and records every byte it receives, per
    connection (h11 finds where each request ends, independently of the hub's parser)."""

    def __init__(self) -> None:
        self.received: list[asyncio.Future[bytes]] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.received.append(done)
        seen = bytearray()
        connection = h11.Connection(h11.SERVER)
        try:
            while data := await reader.read(65536):
                seen += data
                connection.receive_data(data)
                while (event := connection.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
                    if isinstance(event, h11.EndOfMessage):
                        answer = h11.Response(status_code=200, headers=[("Content-Length", "2")])
                        writer.write(connection.send(answer) or b"")
                        writer.write(connection.send(h11.Data(data=b"ok")) or b"")
                        writer.write(connection.send(h11.EndOfMessage()) or b"")
                        connection.start_next_cycle()
        finally:
            done.set_result(bytes(seen))
            writer.close()

    async def everything_received(self) -> bytes:
        """What every connection received, once they have all closed."""
        return b"".join([await asyncio.wait_for(done, 20) for done in self.received])

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def test_only_judged_requests_reach_the_app(jp_fetch: Any, jp_serverapp: ServerApp) -> None:
    await start(jp_serverapp)
    app = RecordingApp()
    try:
        tunnel = await expose(jp_fetch, port=await app.start(), name="recorded")
        grant_answer = await jp_fetch(
            "tunnels", "v1", "tunnels", tunnel["id"], "shares", method="POST",
            body=json.dumps({"name": "get-public", "allowedMethods": ["GET", "POST"],
                             "pathPrefix": "/public/"}),
            headers=dict(JSON),
        )  # fmt: skip
        token = body(grant_answer)["token"]
        base = f"{tunnel['url']}public/"
        smuggled = raw_request("DELETE", f"{tunnel['url']}admin?share_token={token}")
        chunked_head = (
            f"POST {httpx.URL(base + 'up?share_token=' + token).raw_path.decode()} HTTP/1.1\r\n"
            f"Host: {httpx.URL(base).netloc.decode()}\r\nTransfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunked_body = b"5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"
        cases = [
            raw_request("GET", f"{base}a?share_token={token}"),
            raw_request("POST", f"{base}b?share_token={token}", b"x" * 5000),
            chunked_head + chunked_body,
        ]
        for request in cases:
            # the request, then one the share does not allow, pipelined on one connection:
            # each is judged, so the second is refused and never reaches the app
            answers = await one_connection(tunnel["url"], [request, smuggled], pipelined=True)
            assert [status for status, _, _ in answers] == [200, 403], answers
        # a framing the app and the hub could read differently is refused before the app
        ambiguous = chunked_head.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n")
        status, answer = await careless_visit(tunnel["url"], ambiguous + b"0\r\n\r\n" + smuggled)
        assert status == 400 and b"both Content-Length and Transfer-Encoding" in answer, answer

        await jp_fetch(
            "tunnels",
            "v1",
            "tunnels",
            tunnel["id"],
            method="PATCH",
            body=json.dumps({"status": "paused"}),
            headers=dict(JSON),
        )  # fmt: skip  (pausing closes the hub's kept-alive connections to the app)
        received = await app.everything_received()
        assert b"DELETE" not in received and b"/admin" not in received, received
        assert b"share_token" not in received
        assert received.count(b"HTTP/1.1\r\n") == len(cases)
        assert b"x" * 5000 in received and chunked_body in received
    finally:
        app.close()


async def careless_visit(url: str, data: bytes) -> tuple[int, bytes]:
    """Send ``data`` on one raw connection; the first answer's status and body."""
    parsed = httpx.URL(url)
    reader, writer = await asyncio.open_connection(parsed.host, parsed.port)
    try:
        writer.write(data)
        status, _, content = await read_answer(reader)
        return status, content
    finally:
        writer.close()
