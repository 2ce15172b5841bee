"""Just enough HTTP/1.1 to route, authorise and delimit messages, without copying bodies.

The ingress parses each request head (to route and check access per request, even on a
kept-alive or pipelined connection) and each response head (to know when a response ends and
what its status was). Bodies are never parsed: :class:`BodyScanner` only finds where a body
ends (a ``Content-Length`` count or the chunked-encoding sizes), so the bytes themselves are
handed on as they came. Anything ambiguous that could be used to smuggle a request past the
checks (both ``Content-Length`` and ``Transfer-Encoding``, conflicting lengths, folded headers,
unknown transfer codings) is refused with 400.
"""

from __future__ import annotations

import dataclasses
import re

from .._core.errors import TunnelError

__all__ = [
    "MAX_HEAD_BYTES",
    "BodyScanner",
    "HeadError",
    "RequestHead",
    "ResponseHead",
    "find_head_end",
    "parse_request_head",
    "parse_response_head",
]

MAX_HEAD_BYTES = 64 * 1024
"""The largest request or response head accepted."""
MAX_CHUNK_LINE = 4096
HEAD_END = b"\r\n\r\n"

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_NO_BODY_STATUSES = frozenset({204, 304})


class HeadError(TunnelError):
    """A message head that cannot be accepted; ``status`` is what to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def find_head_end(buffer: bytes | bytearray) -> int:
    """Return the index just past the head's blank line, or -1 if the head is incomplete."""
    index = buffer.find(HEAD_END)
    if index > MAX_HEAD_BYTES or (index < 0 and len(buffer) > MAX_HEAD_BYTES):
        raise HeadError(431, f"the message head is larger than {MAX_HEAD_BYTES} bytes")
    return -1 if index < 0 else index + len(HEAD_END)


_FIELD_BLOCK = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*\r\n)*")
"""Field lines, each a token name, a colon and a value without CR or LF, ending in CRLF."""


def _parse_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    """The field lines of a head (``block``: from after the start line to the blank line,
    each line ending in CRLF). One regular-expression pass checks the whole block; only a
    bad block is looked at line by line, to say what is wrong (:func:`_field_error`)."""
    if _FIELD_BLOCK.fullmatch(block) is None:
        raise _field_error(block)
    fields: list[tuple[bytes, bytes]] = []
    for line in block[:-2].split(b"\r\n") if block else ():
        name, _, value = line.partition(b":")
        fields.append((name, value.strip(b" \t")))
    return fields


def _field_error(block: bytes) -> HeadError:
    for line in block.split(b"\r\n"):
        if _FIELD_BLOCK.fullmatch(line + b"\r\n") is not None:
            continue
        if line[:1] in (b" ", b"\t"):
            return HeadError(400, "folded header lines are not accepted")
        if b"\r" in line or b"\n" in line:
            # a bare CR or LF could end the line for the app but not for the hub
            return HeadError(400, f"a bare CR or LF in header line {line[:100]!r}")
        return HeadError(400, f"malformed header line {line[:100]!r}")
    return HeadError(400, "malformed header block")


def _framing(fields: list[tuple[bytes, bytes]]) -> tuple[int | None, bool, set[bytes]]:
    """Return ``(content_length, chunked, connection_tokens)`` after smuggling checks."""
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    connection: set[bytes] = set()
    for name, value in fields:
        lowered = name.lower()
        if lowered == b"content-length":
            lengths.add(value)
        elif lowered == b"transfer-encoding":
            codings.append(value)
        elif lowered == b"connection":
            connection.update(token.strip().lower() for token in value.split(b","))
    if codings:
        if lengths:
            raise HeadError(400, "both Content-Length and Transfer-Encoding were sent")
        coding = b",".join(codings).lower().replace(b" ", b"")
        if coding != b"chunked":
            raise HeadError(400, f"unsupported Transfer-Encoding {coding.decode(errors='replace')}")
        return None, True, connection
    if not lengths:
        return None, False, connection
    if len(lengths) > 1:
        raise HeadError(400, "conflicting Content-Length headers")
    text = lengths.pop()
    if not text.isdigit() or len(text) > 18:
        raise HeadError(400, f"bad Content-Length {text[:30]!r}")
    return int(text), False, connection


@dataclasses.dataclass
class RequestHead:
    """A parsed request head; ``fields`` keeps the original names, order and values."""

    method: bytes
    target: bytes
    version: bytes
    fields: list[tuple[bytes, bytes]]
    content_length: int | None
    chunked: bool
    connection: set[bytes]

    def get(self, name: bytes) -> bytes | None:
        """The first value of a header (case-insensitive name), or None."""
        lowered = name.lower()
        for field, value in self.fields:
            if field.lower() == lowered:
                return value
        return None

    @property
    def host(self) -> bytes:
        """The ``Host`` header (empty when missing)."""
        return self.get(b"host") or b""

    @property
    def upgrade(self) -> bool:
        """Whether the client asks to switch protocols (WebSocket)."""
        return b"upgrade" in self.connection and self.get(b"upgrade") is not None

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after this request."""
        if self.version == b"HTTP/1.0":
            return b"keep-alive" in self.connection
        return b"close" not in self.connection

    def body_scanner(self) -> BodyScanner:
        """A scanner for this request's body (no framing headers means no body)."""
        return BodyScanner(self.content_length or 0, self.chunked)

    def serialize(self) -> bytes:
        """The head as bytes, with the blank line."""
        lines = [b" ".join((self.method, self.target, self.version))]
        lines.extend(name + b": " + value for name, value in self.fields)
        return b"\r\n".join(lines) + HEAD_END


def parse_request_head(head: bytes) -> RequestHead:
    """Parse a request head (ending with the blank line); raise :class:`HeadError` if bad."""
    line_end = head.find(b"\r\n")
    start_line = head[:line_end]
    parts = start_line.split(b" ")
    if len(parts) != 3 or not parts[0] or not _TOKEN.match(parts[0]):
        raise HeadError(400, f"malformed request line {start_line[:100]!r}")
    method, target, version = parts
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HeadError(505, f"unsupported HTTP version {version[:20]!r}")
    if not target or any(byte < 0x21 or byte == 0x7F for byte in target):
        raise HeadError(400, "malformed request target")
    fields = _parse_fields(head[line_end + 2 : -2])
    length, chunked, connection = _framing(fields)
    if target[:1] != b"/" and method != b"CONNECT":
        target, fields = _origin_form(target, fields)
    return RequestHead(method, target, version, fields, length, chunked, connection)


def _origin_form(
    target: bytes, fields: list[tuple[bytes, bytes]]
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Turn an absolute-form target (``http://host/path``, sent through proxies) into
    ``/path``, with the authority as the ``Host`` header, as RFC 9112 asks of servers."""
    scheme, separator, rest = target.partition(b"://")
    if not separator or scheme.lower() not in (b"http", b"https"):
        if target == b"*":
            return target, fields
        raise HeadError(400, "the request target must start with '/' or 'http://'")
    authority, slash, path = rest.partition(b"/")
    fields = [(name, value) for name, value in fields if name.lower() != b"host"]
    fields.append((b"Host", authority))
    return slash + path if slash else b"/", fields


@dataclasses.dataclass
class ResponseHead:
    """A parsed response head: what is needed to find its end."""

    status: int
    version: bytes
    content_length: int | None
    chunked: bool
    connection: set[bytes]

    @property
    def informational(self) -> bool:
        """A 1xx other than 101: a final response follows."""
        return 100 <= self.status < 200 and self.status != 101

    def body_scanner(self, request_method: bytes) -> BodyScanner:
        """A scanner for the body that follows this head, given the request's method."""
        if (
            request_method == b"HEAD"
            or self.status in _NO_BODY_STATUSES
            or 100 <= self.status < 200
        ):
            return BodyScanner(0, False)
        if self.chunked:
            return BodyScanner(None, True)
        return BodyScanner(self.content_length, False)

    @property
    def closes(self) -> bool:
        """Whether the server closes the connection after this response."""
        if self.version == b"HTTP/1.0":
            return b"keep-alive" not in self.connection
        return b"close" in self.connection


def parse_response_head(head: bytes) -> ResponseHead:
    """Parse a response head; raise :class:`HeadError` (502) if it is not HTTP/1.x."""
    line_end = head.find(b"\r\n")
    start_line = head[:line_end]
    parts = start_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HeadError(502, f"the local service sent a malformed status line {start_line[:100]!r}")
    try:
        fields = _parse_fields(head[line_end + 2 : -2])
        length, chunked, connection = _framing(fields)
    except HeadError as exc:
        raise HeadError(502, f"the local service sent a bad response head: {exc.message}") from None
    return ResponseHead(int(parts[1]), parts[0], length, chunked, connection)


class BodyScanner:
    """Finds where a body ends in the bytes that flow past, without copying them.

    ``length`` is the Content-Length; ``None`` with ``chunked`` false means "until the
    connection closes" (a response only).
    """

    _SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)

    def __init__(self, length: int | None, chunked: bool) -> None:
        self.chunked = chunked
        self.until_close = length is None and not chunked
        self.remaining = length or 0
        self._state = self._SIZE if chunked else (self._DONE if length == 0 else self._DATA)
        self._line = bytearray()

    @property
    def done(self) -> bool:
        """Whether the whole body has gone past."""
        return self._state == self._DONE

    def feed(self, data: bytes, start: int = 0) -> int:
        """Consume the body's bytes from ``data[start:]``; return how many belong to it."""
        if self.until_close:
            return len(data) - start
        position = start
        end = len(data)
        while position < end and self._state != self._DONE:
            if self._state == self._DATA:
                taken = min(self.remaining, end - position)
                self.remaining -= taken
                position += taken
                if self.remaining == 0:
                    self._state = self._DATA_END if self.chunked else self._DONE
            else:
                position = self._feed_line(data, position, end)
        return position - start

    def _feed_line(self, data: bytes, position: int, end: int) -> int:
        """Read one CRLF-terminated control line (chunk size, chunk end, trailer)."""
        newline = data.find(b"\n", position, end)
        if newline < 0:
            self._line += data[position:end]
            if len(self._line) > MAX_CHUNK_LINE:
                raise HeadError(400, "a chunk-size line is too long")
            return end
        self._line += data[position : newline + 1]
        position = newline + 1
        line = bytes(self._line).rstrip(b"\r\n")
        self._line.clear()
        if self._state == self._SIZE:
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HeadError(400, f"bad chunk size {size_text[:20]!r}") from None
            if size_text.startswith((b"-", b"+", b"0x", b"0X")) or size < 0:
                raise HeadError(400, f"bad chunk size {size_text[:20]!r}")
            if size == 0:
                self._state = self._TRAILER
            else:
                self.remaining = size
                self._state = self._DATA
        elif self._state == self._DATA_END:
            if line:
                raise HeadError(400, "a chunk is longer than its size")
            self._state = self._SIZE
        elif not line:
            self._state = self._DONE
        return position
