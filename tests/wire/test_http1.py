"""The head parser and body delimiter the ingress judges every request with
(``_wire/http1.py``): where a request's body ends (Content-Length and chunked bodies, fed whole
or a byte at a time) and which framings are refused."""

from __future__ import annotations

import pytest

from jupyter_tunnels._wire.http1 import (
    BodyScanner,
    HeadError,
    parse_request_head,
    parse_response_head,
)


class RequestBody:
    """A request's body as the front follows it: the head's framing, then the scanner."""

    def __init__(self, head: bytes) -> None:
        self._scanner: BodyScanner = parse_request_head(head).body_scanner()

    @property
    def complete(self) -> bool:
        return self._scanner.done

    def split(self, data: bytes) -> tuple[bytes, bytes]:
        taken = self._scanner.feed(data)
        return data[:taken], data[taken:]


NEXT = b"GET /next HTTP/1.1\r\n\r\n"


def head(*fields: str) -> bytes:
    return ("\r\n".join(["POST /up HTTP/1.1", "Host: app", *fields]) + "\r\n\r\n").encode()


def split_all(body: RequestBody, data: bytes, step: int) -> tuple[bytes, bytes]:
    """Feed ``data`` ``step`` bytes at a time; what the body took and what came after."""
    taken, after = bytearray(), b""
    for at in range(0, len(data), step):
        if body.complete:
            after += data[at : at + step]
            continue
        part, rest = body.split(data[at : at + step])
        taken += part
        after += rest
    return bytes(taken), after


CHUNKED = b"5;name=value\r\nhello\r\n1A\r\n" + b"z" * 26 + b"\r\n0\r\nX-Sum: 1\r\nX-More: 2\r\n\r\n"


@pytest.mark.parametrize("step", [1, 2, 7, 4096])
@pytest.mark.parametrize(
    ("fields", "content"),
    [
        ((), b""),
        (("Content-Length: 0",), b""),
        (("Content-Length: 11",), b"hello world"),
        (("Transfer-Encoding: chunked",), CHUNKED),
        (("Transfer-Encoding: chunked",), b"0\r\n\r\n"),
        (("transfer-encoding: Chunked",), b"3\r\nabc\r\n0\r\n\r\n"),
    ],
)
def test_the_body_ends_where_its_framing_says(
    fields: tuple[str, ...], content: bytes, step: int
) -> None:
    body = RequestBody(head(*fields))
    taken, after = split_all(body, content + NEXT, step)
    assert (taken, after) == (content, NEXT)
    assert body.complete


def test_a_body_still_arriving_is_not_complete() -> None:
    body = RequestBody(head("Transfer-Encoding: chunked"))
    assert body.split(b"5\r\nhel") == (b"5\r\nhel", b"")
    assert not body.complete
    counted = RequestBody(head("Content-Length: 10"))
    assert counted.split(b"12345") == (b"12345", b"") and not counted.complete


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("Transfer-Encoding: chunked", "Content-Length: 5"), "both Content-Length and"),
        (("Transfer-Encoding: gzip, chunked",), "unsupported Transfer-Encoding"),
        (("Content-Length: -1",), "bad Content-Length"),
        (("Content-Length: 1e3",), "bad Content-Length"),
        (("Content-Length: 5", "Content-Length: 6"), "conflicting Content-Length"),
        (("Transfer_Encoding: chunked", "Content-Length: 5"), "read it as Transfer-Encoding"),
        (("content_length: 5",), "read it as Content-Length"),
        (("CONTENT_LENGTH: 5", "Transfer-Encoding: chunked"), "read it as Content-Length"),
        (("Host: other",), "more than one Host header"),
        (("host: app",), "more than one Host header"),
    ],
)
def test_an_ambiguous_framing_is_refused(fields: tuple[str, ...], message: str) -> None:
    with pytest.raises(HeadError, match=message):
        RequestBody(head(*fields))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"zz\r\n", "bad chunk size"),
        (b"\r\n", "bad chunk size"),
        (b"-3\r\n", "bad chunk size"),
        (b"3\r\nabcdef\r\n", "longer than its size"),
        (b"1" * 70_000, "too long"),
    ],
)
def test_a_broken_chunked_body_is_an_error(data: bytes, message: str) -> None:
    body = RequestBody(head("Transfer-Encoding: chunked"))
    with pytest.raises(HeadError, match=message):
        body.split(data)


@pytest.mark.parametrize(
    "name", ["X(y)", "X@y", "X[1]", '"Quoted"', "X\x80y", "X y", "X/y", "X=y", "X{y}", "X;y"]
)
def test_a_field_name_outside_the_token_characters_is_refused(name: str) -> None:
    with pytest.raises(HeadError, match="malformed header line"):
        parse_request_head(head(f"{name}: 1").replace(b"\xc2", b""))


def test_other_names_with_an_underscore_pass() -> None:
    parsed = parse_request_head(head("X_Custom_Length: 5", "Content-Length: 0"))
    assert parsed.get(b"x_custom_length") == b"5" and parsed.content_length == 0


def test_an_apps_framing_lookalike_is_a_bad_response() -> None:
    good = b"HTTP/1.1 200 OK\r\nX_Length: 1\r\nContent-Length: 2\r\n\r\n"
    assert parse_response_head(good).content_length == 2
    with pytest.raises(HeadError, match="read it as Transfer-Encoding") as refused:
        parse_response_head(b"HTTP/1.1 200 OK\r\nTransfer_Encoding: chunked\r\n\r\n")
    assert refused.value.status == 502
