"""The switch's side of the Event Socket wire: parsing commands, serialising replies and events.

FreeSWITCH reads a command as a first line, optional ``Name: value`` header lines and a blank
line; a body follows only when the headers carry ``content-length``, and is then read byte for byte
(mod_event_socket's ``read_packet``). :class:`CommandParser` does exactly that, so a CR or LF that
reached the wire inside an argument *would* start a second command here too — which is what lets
the tests prove that :mod:`coreswitch.esl.command` never lets one through.

Everything FreeSWITCH writes is serialised here, byte for byte as in ``shared/esl/*.recv``:

* ``command/reply`` (``Reply-Text``), ``api/response`` (``Content-Length`` and the output);
* events: outer ``Content-Length`` then ``Content-Type`` (the order FreeSWITCH uses for
  events), bodies in ``text/event-plain`` (values URL-encoded with :func:`url_encode`) or
  ``text/event-json``;
* ``auth/request``, ``text/disconnect-notice`` (inbound and outbound/linger variants) and
  ``text/rude-rejection``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from coreswitch.esl.event import ARRAY_PREFIX, ARRAY_SEPARATOR, Event

#: ``SWITCH_URL_UNSAFE`` from switch_utils.h.
_UNSAFE = frozenset(b"\r\n \"#%&+:;<=>?@[\\]^`{|}")
_HEX = frozenset(b"0123456789ABCDEF")
_ENCODE_TABLE = [
    chr(b) if 32 <= b <= 126 and b not in _UNSAFE else f"%{b:02X}" for b in range(256)
]

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

_json = msgspec.json.Encoder()


def url_encode(value: str) -> str:
    """URL-encode a header value as ``switch_url_encode`` does.

    Unsafe ASCII, controls and every non-ASCII byte become ``%XX`` (upper-case hex), *except* a
    ``%`` already followed by two upper-case hex digits, which FreeSWITCH passes through: that is
    why a caller-ID name holding ``%41`` reads back as ``A`` (see ``shared/esl/README.md``).
    """
    data = value.encode("utf-8", "surrogateescape")
    if all(32 <= b <= 126 and b not in _UNSAFE for b in data):
        return value
    out: list[str] = []
    n = len(data)
    for i, b in enumerate(data):
        if b == 0x25 and i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
            out.append("%")
        else:
            out.append(_ENCODE_TABLE[b])
    return "".join(out)


# -- commands from the client -------------------------------------------------------------------

@dataclass
class Command:
    """One command as the switch parsed it: its first line, headers and (optional) body."""

    line: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def verb(self) -> str:
        return self.line.split(" ", 1)[0].lower()

    @property
    def rest(self) -> str:
        """Everything after the verb on the first line."""
        parts = self.line.split(" ", 1)
        return parts[1] if len(parts) > 1 else ""

    def header(self, name: str, default: str = "") -> str:
        """A header by case-insensitive name (FreeSWITCH's event headers are case-insensitive)."""
        lname = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lname:
                return value
        return default

    def to_bytes(self) -> bytes:
        head = "\n".join([self.line, *(f"{k}: {v}" for k, v in self.headers.items())])
        return head.encode() + b"\n\n" + self.body


class CommandParser:
    """Incremental parser of client commands, following mod_event_socket's ``read_packet``.

    * leading blank lines are skipped; a command ends at the first empty line;
    * the first line is the command; each further line is ``Name: value`` (a line without a colon
      is kept as a header with an empty value, as FreeSWITCH's parser does not reject it);
    * ``content-length`` (any case) makes the next N bytes the body, read verbatim.
    """

    def __init__(self, max_bytes: int = 16 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self._pending: Command | None = None
        self._need = 0
        self.max_bytes = max_bytes

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        if len(self._buf) > self.max_bytes:
            raise ValueError("command larger than the switch accepts")
        out: list[Command] = []
        while True:
            if self._pending is not None:
                if len(self._buf) < self._need:
                    break
                self._pending.body = bytes(self._buf[: self._need])
                del self._buf[: self._need]
                out.append(self._pending)
                self._pending = None
                continue
            while self._buf and self._buf[0] in (10, 13):
                del self._buf[:1]
            end = self._buf.find(b"\n\n")
            crlf = self._buf.find(b"\r\n\r\n")
            if crlf >= 0 and (end < 0 or crlf < end):
                block, skip = self._buf[:crlf], crlf + 4
            elif end >= 0:
                block, skip = self._buf[:end], end + 2
            else:
                break
            del self._buf[:skip]
            command = _parse_block(bytes(block))
            length = command.header("content-length")
            if length.strip().isdigit() and int(length) > 0:
                self._pending, self._need = command, int(length)
                continue
            out.append(command)
        return out


def _parse_block(block: bytes) -> Command:
    lines = block.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name:  # read_packet drops a line without a colon
            headers[name] = value.lstrip(" ")
    return Command(lines[0].strip(), headers)


# -- frames to the client -----------------------------------------------------------------------

def auth_request() -> bytes:
    return b"Content-Type: auth/request\n\n"


def command_reply(text: str, extra: Mapping[str, str] | None = None) -> bytes:
    head = f"Content-Type: command/reply\nReply-Text: {text}\n"
    if extra:
        head += "".join(f"{k}: {v}\n" for k, v in extra.items())
    return head.encode() + b"\n"


def api_response(output: str) -> bytes:
    body = output.encode("utf-8", "surrogateescape")
    return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body


def disconnect_notice(controlled_uuid: str | None = None) -> bytes:
    """The goodbye notice: bare on an inbound socket, with the channel's UUID on an outbound one."""
    head = "Content-Type: text/disconnect-notice\n"
    if controlled_uuid:
        head += f"Controlled-Session-UUID: {controlled_uuid}\nContent-Disposition: disconnect\n"
    return f"{head}Content-Length: {len(GOODBYE)}\n\n".encode() + GOODBYE


def linger_notice(controlled_uuid: str, channel_name: str, linger: int) -> bytes:
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {controlled_uuid}\n"
        "Content-Disposition: linger\n"
        f"Channel-Name: {channel_name}\n"
        f"Linger-Time: {linger}\n"
        "Content-Length: 0\n\n"
    ).encode()


def rude_rejection(text: str = "Access Denied, go away.\n") -> bytes:
    body = text.encode()
    return (f"Content-Type: text/rude-rejection\nContent-Length: {len(body)}\n\n").encode() + body


def connect_reply(channel_headers: Mapping[str, str]) -> bytes:
    """The outbound ``connect`` reply: channel data as URL-encoded top-level headers."""
    head = "".join(f"{k}: {url_encode(v)}\n" for k, v in channel_headers.items())
    head += "Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n"
    return head.encode() + b"\n"


Pairs = Sequence[tuple[str, str]]


def plain_body(pairs: Pairs, body: str | None) -> bytes:
    """A ``text/event-plain`` body, URL-encoded exactly as FreeSWITCH does.

    Headers are (name, value) pairs because FreeSWITCH sends some names twice
    (``Hangup-Cause`` in ``CHANNEL_HANGUP_COMPLETE``).
    """
    parts = [f"{k}: {url_encode(v)}\n" for k, v in pairs if k != "Content-Length"]
    if body is None:
        return "".join(parts).encode() + b"\n"
    data = body.encode("utf-8", "surrogateescape")
    parts.append(f"Content-Length: {len(data)}\n")
    return "".join(parts).encode() + b"\n" + data


def json_body(pairs: Pairs, body: str | None) -> bytes:
    """A ``text/event-json`` body: compact, raw UTF-8, arrays as lists, body as ``_body``.

    Written by hand (not from a dict) so repeated header names stay repeated, as cJSON does.
    """
    items: list[bytes] = []
    for k, v in pairs:
        if k == "Content-Length":
            continue
        value: str | list[str] = (
            v[len(ARRAY_PREFIX):].split(ARRAY_SEPARATOR) if v.startswith(ARRAY_PREFIX) else v)
        items.append(_json.encode(k) + b":" + _json.encode(value))
    if body is not None:
        length = str(len(body.encode("utf-8", "surrogateescape")))
        items.append(b'"Content-Length":' + _json.encode(length))
        items.append(b'"_body":' + _json.encode(body))
    return b"{" + b",".join(items) + b"}"


def event_frame(body: bytes, fmt: str) -> bytes:
    ctype = "text/event-json" if fmt == "json" else "text/event-plain"
    return f"Content-Length: {len(body)}\nContent-Type: {ctype}\n\n".encode() + body


class SimEvent:
    """An event the switch fires: ordered header pairs, an optional body, encoded lazily once
    per format however many listeners receive it."""

    __slots__ = ("_event", "_json", "_plain", "body", "pairs")

    def __init__(self, pairs: list[tuple[str, str]], body: str | None = None) -> None:
        self.pairs = pairs
        self.body = body
        self._event: Event | None = None
        self._plain: bytes | None = None
        self._json: bytes | None = None

    @property
    def event(self) -> Event:
        """The event as a client decodes it (a repeated header keeps its last value)."""
        if self._event is None:
            self._event = Event(dict(self.pairs), self.body)
        return self._event

    @property
    def name(self) -> str:
        return self.event.name

    def get(self, name: str, default: str = "") -> str:
        value: str = self.event.headers.get(name, default)
        return value

    def frame(self, fmt: str) -> bytes:
        if fmt == "json":
            if self._json is None:
                self._json = event_frame(json_body(self.pairs, self.body), "json")
            return self._json
        if self._plain is None:
            self._plain = event_frame(plain_body(self.pairs, self.body), "plain")
        return self._plain
