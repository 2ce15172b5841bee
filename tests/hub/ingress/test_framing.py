"""Framing over raw sockets, on both hostings: malformed requests are refused before anything
reaches the app, only judged requests reach it (no smuggling), and the hub's own answers keep a
kept-alive connection usable (or close it cleanly when the visitor's body is too long to drop).
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests._apps import Services
from tests._sockets import closed_port
from tests.hub.ingress._hostings import Hosting
from tests.hub.ingress._raw import (
    RecordingApp,
    first_answer,
    one_connection,
    raw_request,
    read_answer,
)

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024

MALFORMED = [
    (b"Content-Length: 3\r\nTransfer-Encoding: chunked", b"both Content-Length and"),
    (b"Content-Length: 3\r\nContent-Length: 4", b"conflicting Content-Length"),
    (b"Transfer-Encoding: gzip", b"unsupported Transfer-Encoding"),
    (b"X-Folded: a\r\n b", b"folded header lines"),
    # a bare LF (or CR) may end a line for the app, not for the hub: never passed on
    (b"X-Note: a\nContent-Length: 5", b"a bare CR or LF"),
    (b"X-Note: a\rContent-Length: 5", b"a bare CR or LF"),
    (b"Bad Name: x", b"malformed header line"),
    (b"NoColon", b"malformed header line"),
]


@pytest.mark.parametrize(("fields", "reason"), MALFORMED)
async def test_a_malformed_request_on_a_kept_alive_connection_is_400(
    hosting: Hosting, services: Services, fields: bytes, reason: bytes
) -> None:
    """After a first request (inside Jupyter, the one tornado hands over), every head is the
    front's to parse: the malformed one is refused with the reason, and the connection ends."""
    tunnel = await hosting.expose(services.http_port, "framing", public=True)
    path = hosting.tunnel_path(tunnel.slug)
    malformed = f"POST {path}upload HTTP/1.1\r\nHost: x\r\n".encode() + fields + b"\r\n\r\n"
    reader, writer = await asyncio.open_connection(hosting.host, hosting.port)
    try:
        writer.write(raw_request("GET", tunnel.url) + malformed)
        first, _, _ = await read_answer(reader)
        rest = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    assert first == 200
    assert rest.startswith(b"HTTP/1.1 400 "), rest
    assert reason in rest


async def test_a_broken_chunked_body_is_400(hosting: Hosting, services: Services) -> None:
    tunnel = await hosting.expose(services.http_port, "chunks", public=True)
    path = hosting.tunnel_path(tunnel.slug)
    request = (
        f"POST {path}upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        + b"4\r\nWiki\r\nzz\r\n"
    )
    reader, writer = await asyncio.open_connection(hosting.host, hosting.port)
    try:
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400 ") and b"bad chunk size" in answer, answer


async def test_only_judged_requests_reach_the_app(hosting: Hosting) -> None:
    """A request the policy refuses, pipelined behind one it allows, never reaches the app,
    whatever the first one's framing; an ambiguous framing is refused before the app."""
    app = RecordingApp()
    try:
        tunnel = await hosting.expose(await app.start(), "recorded")
        grant = await hosting.share(tunnel, allowedMethods=["GET", "POST"], pathPrefix="/public/")
        token = grant["token"]
        base = f"{tunnel.url}public/"
        smuggled = raw_request("DELETE", f"{tunnel.url}admin?share_token={token}")
        path = hosting.tunnel_path(tunnel.slug)
        chunked_head = (
            f"POST {path}public/up?share_token={token} HTTP/1.1\r\nHost: x\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        chunked_body = b"5;ext=1\r\nhello\r\n0\r\nTrailer: t\r\n\r\n"
        cases = [
            raw_request("GET", f"{base}a?share_token={token}"),
            raw_request("POST", f"{base}b?share_token={token}", b"x" * 5000),
            chunked_head + chunked_body,
        ]
        for request in cases:
            answers = await one_connection(
                hosting.host, hosting.port, [request, smuggled], pipelined=True
            )
            assert [status for status, _, _ in answers] == [200, 403], answers
        ambiguous = chunked_head.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n")
        status, answer = await first_answer(
            hosting.host, hosting.port, ambiguous + b"0\r\n\r\n" + smuggled
        )
        assert status == 400 and b"both Content-Length and Transfer-Encoding" in answer, answer

        await hosting.set_status(tunnel, "paused")  # closes the hub's connections to the app
        received = await app.everything_received()
    finally:
        app.close()
    assert b"DELETE" not in received and b"/admin" not in received, received
    assert b"share_token" not in received
    assert received.count(b"HTTP/1.1\r\n") == len(cases)
    assert b"x" * 5000 in received and chunked_body in received


async def test_the_hubs_own_answers_keep_the_connection(
    hosting: Hosting, services: Services
) -> None:
    """Refusals (401, 404, 403, 503, a refused upload) on one connection, one after the other
    and pipelined: each is answered and the connection stays open; a share link on the same
    connection then reaches the app."""
    private = await hosting.expose(services.http_port, "kept-private")
    paused = await hosting.expose(closed_port(), "kept-paused", public=True)
    await hosting.set_status(paused, "paused")
    revoked = await hosting.share(private, name="revoked")
    await hosting.revoke(revoked)
    link = await hosting.share(private, name="guests")
    unknown = private.url.replace(private.slug, "no-such-tunnel")
    refusals = [
        (raw_request("GET", private.url), 401),
        (raw_request("GET", unknown), 404),
        (raw_request("GET", revoked["shareUrl"]), 403),
        (raw_request("GET", paused.url), 503),
        (raw_request("POST", private.url + "upload", bytes(1000)), 401),
        (raw_request("POST", private.url + "upload", bytes(MIB)), 401),
    ]
    upload = f"{private.url}upload?share_token={link['token']}"
    requests = [request for request, _ in refusals]
    requests.append(raw_request("POST", upload, bytes(100_000), close=True))
    for pipelined in (False, True):
        answers = await one_connection(hosting.host, hosting.port, requests, pipelined=pipelined)
        assert [status for status, _, _ in answers] == [*(want for _, want in refusals), 200]
        assert all(fields.get("Connection") != "close" for _, fields, _ in answers[:-1])
        assert answers[-1][2] == b'{"received": 100000}'


async def test_a_refusal_the_hub_cannot_read_past_closes_cleanly(
    hosting: Hosting, services: Services
) -> None:
    """The hub answers and closes without a reset even when unread bytes wait (a pipelined
    flood that is no request, a body too long to drop): a reset could lose the answer."""
    tunnel = await hosting.expose(services.http_port, "flooded")
    path = hosting.tunnel_path(tunnel.slug)
    head = f"GET {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    too_long = MIB + 1
    upload = f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {too_long}\r\n\r\n".encode()
    answers = []
    for request in (head + b"x" * 400_000, upload + bytes(too_long)):
        with socket.create_connection((hosting.host, hosting.port), timeout=15) as raw:
            raw.sendall(request)
            await asyncio.sleep(0.2)  # let the hub answer and close while bytes are unread
            answer = b""
            while chunk := await asyncio.to_thread(raw.recv, 65536):  # a reset raises here
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 401 Unauthorized\r\n")
        answers.append(answer)
    flood, refused_upload = answers
    # the GET was refused on a kept-alive connection; what followed was no request head
    assert b"\r\nConnection: close\r\n" not in flood.partition(b"HTTP/1.1 431 ")[0]
    assert b"HTTP/1.1 431 " in flood
    assert refused_upload.count(b"HTTP/1.1 ") == 1
    assert b"\r\nConnection: close\r\n" in refused_upload


LOOKALIKES_AND_BAD_NAMES = [
    # some servers read "_" as "-": the app would see framing the hub never checked
    (b"Content-Length: 5\r\nTransfer_Encoding: chunked", b"read it as Transfer-Encoding"),
    (b"Transfer-Encoding: chunked\r\nContent_Length: 5", b"read it as Content-Length"),
    (b"content_length: 5", b"read it as Content-Length"),
    # names outside RFC 9110's token characters
    (b"X(y): 1", b"malformed header line"),
    (b"X@y: 1", b"malformed header line"),
    (b'"X": 1', b"malformed header line"),
    (b"X\x80y: 1", b"malformed header line"),
    (b"Content-Length : 5", b"malformed header line"),
]


async def answer_and_rest(host: str, port: int, data: bytes) -> bytes:
    """Everything the hub sends back on one connection for ``data``, until it closes."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()


@pytest.mark.parametrize(("fields", "reason"), LOOKALIKES_AND_BAD_NAMES)
async def test_framing_lookalikes_and_bad_field_names_never_reach_the_app(
    hosting: Hosting, fields: bytes, reason: bytes
) -> None:
    """Refused with 400 as a connection's first request and on a kept-alive connection; the
    body and the request smuggled behind it never reach the app, which sees only the GETs."""
    app = RecordingApp()
    try:
        tunnel = await hosting.expose(await app.start(), "lookalikes", public=True)
        path = hosting.tunnel_path(tunnel.slug).encode()
        bad = b"POST " + path + b"up HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n\r\n"
        smuggled = b"0\r\n\r\nGET " + path + b"smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        first = await answer_and_rest(hosting.host, hosting.port, bad + smuggled)
        kept = await answer_and_rest(
            hosting.host, hosting.port, raw_request("GET", tunnel.url + "ok") + bad + smuggled
        )
        await hosting.set_status(tunnel, "paused")  # closes the hub's connections to the app
        received = await app.everything_received()
    finally:
        app.close()
    assert first.startswith(b"HTTP/1.1 400 "), first
    if hosting.name == "standalone" or b"read it as" in reason:
        # inside Jupyter tornado reads a connection's first head: it refuses bad names itself
        assert reason in first, first
    assert kept.startswith(b"HTTP/1.1 200 "), kept
    assert b"HTTP/1.1 400 " in kept and reason in kept, kept
    assert received.count(b"HTTP/1.1\r\n") == 1 and b"GET /ok " in received, received
    assert b"smuggled" not in received and b"POST" not in received, received
