"""Outer framing of the Event Socket: headers, a blank line, then ``Content-Length`` bytes of body.

Every message FreeSWITCH sends on an event socket is a *frame*::

    Content-Type: text/event-plain\\n
    Content-Length: 474\\n
    \\n
    <474 bytes of body>

Frames without ``Content-Length`` have no body (``command/reply``, ``auth/request``, and the
outbound-mode ``connect`` reply, whose channel data travels as URL-encoded top-level headers).
The parser works on bytes and never decodes a body: that is the event decoder's job
(:mod:`coreswitch.esl.event`). Header text is decoded as UTF-8 with undecodable bytes replaced by
U+FFFD; FreeSWITCH only writes ASCII there.
"""

from __future__ import annotations

from coreswitch.esl.errors import ProtocolError

#: Largest header block we accept before the blank line (the ``connect`` reply is a few KiB).
MAX_HEADER_BYTES = 256 * 1024
#: Largest body we accept (``show channels as json`` on a busy switch is a few MiB).
MAX_BODY_BYTES = 64 * 1024 * 1024


class Frame:
    """One outer frame: its headers (text, as sent) and its body (bytes, undecoded)."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: dict[str, str], body: bytes = b"") -> None:
        self.headers = headers
        self.body = body

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def reply_text(self) -> str:
        """The ``Reply-Text`` of a ``command/reply``, or the body of an ``api/response``."""
        if "Reply-Text" in self.headers:
            return self.headers["Reply-Text"]
        return self.body.decode("utf-8", "replace")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self.headers == other.headers and self.body == other.body

    def __hash__(self) -> int:  # pragma: no cover - frames are not meant as keys
        return hash((tuple(self.headers.items()), self.body))

    def __repr__(self) -> str:
        kind = self.content_type or "?"
        return f"Frame({kind}, headers={len(self.headers)}, body={len(self.body)}B)"

    def to_bytes(self) -> bytes:
        """Serialise the frame exactly as a switch would send it (``Content-Length`` as given)."""
        head = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        return head.encode() + b"\n" + self.body


def parse_header_block(block: bytes | bytearray) -> dict[str, str]:
    """Parse ``Name: value`` lines (no trailing blank line). Later duplicates win."""
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(": ")
        if not sep:
            name, sep, value = line.partition(":")
            if not sep or not name:
                raise ProtocolError(f"malformed header line {line[:80]!r}")
        headers[name] = value
    return headers


class FrameParser:
    """Incremental frame parser: feed it whatever the socket read, get back complete frames.

    A frame may be split across any number of reads and a read may hold many frames. The parser
    keeps at most one partial frame; it raises :class:`ProtocolError` (and stays unusable) on bytes
    that cannot be ESL: a header line without a colon, a bad ``Content-Length``, a header block
    larger than ``max_header_bytes`` or a body larger than ``max_body_bytes``.
    """

    __slots__ = ("_body_len", "_buf", "_failed", "_headers", "_scan", "max_body_bytes",
                 "max_header_bytes")

    def __init__(
        self,
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buf = bytearray()
        self._scan = 0  # where the search for the blank line resumes
        self._headers: dict[str, str] | None = None  # headers of a frame awaiting its body
        self._body_len = 0
        self._failed: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a frame not yet complete."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        pos = 0
        try:
            while True:
                headers = self._headers
                if headers is not None:
                    end = pos + self._body_len
                    if len(buf) < end:
                        break
                    frames.append(Frame(headers, bytes(buf[pos:end])))
                    pos = end
                    self._headers = None
                    continue
                while pos < len(buf) and buf[pos] == 10:  # stray newlines between frames
                    pos += 1
                end = buf.find(b"\n\n", max(pos, self._scan))
                if end < 0:
                    if len(buf) - pos > self.max_header_bytes:
                        raise ProtocolError(
                            f"no end of headers within {self.max_header_bytes} bytes"
                        )
                    self._scan = max(pos, len(buf) - 1)
                    break
                if end - pos > self.max_header_bytes:
                    raise ProtocolError(
                        f"header block of {end - pos} bytes exceeds {self.max_header_bytes}")
                headers = parse_header_block(buf[pos:end])
                pos = end + 2
                length = headers.get("Content-Length")
                if length is None:
                    frames.append(Frame(headers))
                    continue
                self._body_len = _content_length(length, self.max_body_bytes)
                self._headers = headers
        except ProtocolError as exc:
            self._failed = exc
            raise
        if pos:
            del buf[:pos]
            self._scan = max(0, self._scan - pos)
        return frames


def _content_length(text: str, limit: int) -> int:
    if not text.isdigit() or not text.isascii():
        raise ProtocolError(f"bad Content-Length {text[:40]!r}")
    length = int(text)
    if length > limit:
        raise ProtocolError(f"Content-Length {length} exceeds the limit of {limit} bytes")
    return length
