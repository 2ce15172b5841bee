"""Just enough HTTP/1.1 to route, authorise and delimit messages, without copying bodies.

The ingress parses each request head (to route and check access per request, even on a
kept-alive or pipelined connection) and each response head (to know when a response ends and
what its status was). Bodies are never parsed: :class:`BodyScanner` only finds where a body
ends (a ``Content-Length`` count or the chunked-encoding sizes), so the bytes themselves are
handed on as they came. Anything ambiguous that could be used to smuggle a request past the
checks (both ``Content-Length`` and ``Transfer-Encoding``, conflicting lengths, folded headers,
unknown transfer codings, a field name outside RFC 9110's token characters, a name that differs
from a framing field only by ``_``, which some servers read as ``-``) is refused with 400.
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
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")
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


Fields = list[tuple[bytes, bytes]]
_FRAMING_FIELDS = frozenset({b"content-length", b"transfer-encoding", b"connection"})
_LOOKALIKE_FIELDS = {b"content_length": "Content-Length", b"transfer_encoding": "Transfer-Encoding"}
"""Names that differ from a framing field only by ``_``: some servers (those that map fields to
CGI-style variables) read them as the framing field, which the hub would not have checked."""
_WATCHED_FIELDS = _FRAMING_FIELDS | _LOOKALIKE_FIELDS.keys()


def _parse_fields(block: bytes) -> tuple[Fields, dict[bytes, bytes], dict[bytes, list[bytes]]]:
    """The field lines of a head (``block``: from after the start line to the blank line,
    each line ending in CRLF): the fields as sent, the first value of each lower-case name,
    and every value of the framing fields. One regular-expression pass checks the whole
    block; only a bad block is looked at line by line, to say what is wrong
    (:func:`_field_error`)."""
    if _FIELD_BLOCK.fullmatch(block) is None:
        raise _field_error(block)
    fields: Fields = []
    index: dict[bytes, bytes] = {}
    framing: dict[bytes, list[bytes]] = {}
    for line in block[:-2].split(b"\r\n") if block else ():
        name, _, value = line.partition(b":")
        value = value.strip(b" \t")
        fields.append((name, value))
        lowered = name.lower()
        if lowered in _WATCHED_FIELDS:
            if lowered in _LOOKALIKE_FIELDS:
                raise _lookalike_error(name)
            framing.setdefault(lowered, []).append(value)
        if lowered not in index:
            index[lowered] = value
        elif lowered == b"host":  # RFC 9112, 3.2: tornado would join them, the hub take one
            raise HeadError(400, "more than one Host header")
    return fields, index, framing


_FRAMING_LINE = re.compile(
    rb"^(content[-_]length|transfer[-_]encoding|connection):([^\r\n]*)",
    re.IGNORECASE | re.MULTILINE,
)


def _framing_fields(block: bytes) -> dict[bytes, list[bytes]]:
    """Only the framing fields of a head (a response's: nothing else is needed from it)."""
    if _FIELD_BLOCK.fullmatch(block) is None:
        raise _field_error(block)
    framing: dict[bytes, list[bytes]] = {}
    for match in _FRAMING_LINE.finditer(block):
        name = match[1]
        if b"_" in name:
            raise _lookalike_error(name)
        framing.setdefault(name.lower(), []).append(match[2].strip(b" \t"))
    return framing


def _lookalike_error(name: bytes) -> HeadError:
    framing = _LOOKALIKE_FIELDS[name.lower()]
    return HeadError(400, f"header {name.decode()!r} is refused: some servers read it as {framing}")


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


def _framing(framing: dict[bytes, list[bytes]]) -> tuple[int | None, bool, set[bytes]]:
    """Return ``(content_length, chunked, connection_tokens)`` after smuggling checks."""
    lengths = set(framing.get(b"content-length", ()))
    codings = framing.get(b"transfer-encoding")
    connection = {
        token.strip().lower()
        for value in framing.get(b"connection", ())
        for token in value.split(b",")
    }
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


class RequestHead:
    """A parsed request head; ``fields`` keeps the original names, order and values.

    Change the fields with :meth:`set_fields` (or :meth:`remove_field`), never in place: the
    head keeps an index of them by lower-case name for :meth:`get`.
    """

    __slots__ = (
        "_index",
        "chunked",
        "connection",
        "content_length",
        "fields",
        "method",
        "target",
        "version",
    )

    def __init__(
        self,
        method: bytes,
        target: bytes,
        version: bytes,
        fields: Fields,
        content_length: int | None,
        chunked: bool,
        connection: set[bytes],
        index: dict[bytes, bytes] | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.fields = fields
        self.content_length = content_length
        self.chunked = chunked
        self.connection = connection
        self._index = index

    @property
    def index(self) -> dict[bytes, bytes]:
        """The first value of each field, by lower-case name."""
        if self._index is None:
            self._index = _index(self.fields)
        return self._index

    def get(self, name: bytes) -> bytes | None:
        """The first value of a header (``name`` in lower case), or None."""
        return self.index.get(name)

    def set_fields(self, fields: Fields) -> None:
        """Replace the fields (the request's framing stays what was parsed)."""
        self.fields = fields
        self._index = None

    def remove_field(self, position: int, replacement: tuple[bytes, bytes] | None = None) -> None:
        """Remove the field at ``position`` (or put ``replacement`` there)."""
        fields = list(self.fields)
        if replacement is None:
            del fields[position]
        else:
            fields[position] = replacement
        self.set_fields(fields)

    @property
    def host(self) -> bytes:
        """The ``Host`` header (empty when missing)."""
        return self.get(b"host") or b""

    @property
    def upgrade(self) -> bool:
        """Whether the client asks to switch protocols (WebSocket)."""
        return b"upgrade" in self.connection and any(
            name.lower() == b"upgrade" for name, _ in self.fields
        )

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
    if not target or _BAD_TARGET.search(target) is not None:
        raise HeadError(400, "malformed request target")
    fields, index, framing = _parse_fields(head[line_end + 2 : -2])
    length, chunked, connection = _framing(framing)
    if target[:1] != b"/" and method != b"CONNECT":
        target, fields = _origin_form(target, fields)
        index = _index(fields)
    return RequestHead(method, target, version, fields, length, chunked, connection, index)


def _index(fields: Fields) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in reversed(fields)}


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
        length, chunked, connection = _framing(_framing_fields(head[line_end + 2 : -2]))
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
