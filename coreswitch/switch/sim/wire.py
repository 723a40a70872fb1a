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

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

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


#: Matches the first character :func:`url_encode` must encode (unsafe ASCII, controls, non-ASCII).
_NEEDS_ENCODING = re.compile("[^!$'()*,\\-./0-9A-Z_a-z~]")


def url_encode(value: str) -> str:
    """URL-encode a header value as ``switch_url_encode`` does.

    Unsafe ASCII, controls and every non-ASCII byte become ``%XX`` (upper-case hex), *except* a
    ``%`` already followed by two upper-case hex digits, which FreeSWITCH passes through: that is
    why a caller-ID name holding ``%41`` reads back as ``A`` (see ``shared/esl/README.md``).
    """
    if _NEEDS_ENCODING.search(value) is None:  # the common case: nothing to encode
        return value
    data = value.encode("utf-8", "surrogateescape")
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
    #: ``headers`` by lower-case name (the first of names that differ only in case), made on
    #: first use; ``headers`` is not to change afterwards.
    _lower: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

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
        lower = self._lower
        if lower is None:
            lower = {}
            for key, value in self.headers.items():
                lower.setdefault(key.lower(), value)  # the first match, as a scan finds it
            self._lower = lower
        return lower.get(name.lower(), default)

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


Pair = tuple[str, str]
Pairs = Sequence[Pair]

#: Encoded headers by (name, value): channel data and variables repeat in event after event.
_json_items: dict[tuple[str, str], bytes] = {}
_plain_items: dict[tuple[str, str], bytes] = {}
_MEMO_SIZE = 1 << 16  # entries; a full memo starts again (timestamps never repeat)


def _memoised(memo: dict[tuple[str, str], bytes], name: str, value: str,
              encode: Callable[[str, str], bytes]) -> bytes:
    """``encode(name, value)``, remembered in ``memo`` (emptied when full)."""
    key = (name, value)
    found = memo.get(key)
    if found is None:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        found = memo[key] = encode(name, value)
    return found


def _encode_json_item(name: str, value: str) -> bytes:
    encoded = _json.encode(
        value[len(ARRAY_PREFIX):].split(ARRAY_SEPARATOR) if value.startswith(ARRAY_PREFIX)
        else value)
    return _json.encode(name) + b":" + encoded


def json_item(name: str, value: str) -> bytes:
    """One header as :func:`json_body` writes it: ``"name":"value"`` (``ARRAY::`` as a list)."""
    return _memoised(_json_items, name, value, _encode_json_item)


def json_members(pairs: Pairs) -> bytes:
    """``pairs`` as comma-separated JSON members, as :func:`json_body` writes them (without
    ``Content-Length``): in one ``msgspec`` call when no name repeats and no value is an
    ``ARRAY::`` (same bytes), else header by header."""
    if len(pairs) > 3:
        members = dict(pairs)
        if (len(members) == len(pairs) and "Content-Length" not in members
                and not any(map(str.startswith, members.values(), repeat(ARRAY_PREFIX)))):
            return _json.encode(members)[1:-1]
    return b",".join([json_item(k, v) for k, v in pairs if k != "Content-Length"])


def plain_item(name: str, value: str) -> bytes:
    """One header line as :func:`plain_body` writes it: ``name: url-encoded value``."""
    return _memoised(_plain_items, name, value, _encode_plain_item)


def _encode_plain_item(name: str, value: str) -> bytes:
    return f"{name}: {url_encode(value)}\n".encode()


def plain_body(pairs: Pairs, body: str | None) -> bytes:
    """A ``text/event-plain`` body, URL-encoded exactly as FreeSWITCH does.

    Headers are (name, value) pairs because FreeSWITCH sends some names twice
    (``Hangup-Cause`` in ``CHANNEL_HANGUP_COMPLETE``).
    """
    parts = [f"{k}: {url_encode(v)}\n" for k, v in pairs if k != "Content-Length"]
    return _plain_tail("".join(parts).encode(), body)


def _plain_tail(head: bytes, body: str | None) -> bytes:
    """Header lines, then the blank line, with the inner ``Content-Length`` and the body."""
    if body is None:
        return head + b"\n"
    data = body.encode("utf-8", "surrogateescape")
    return head + f"Content-Length: {len(data)}\n\n".encode() + data


def json_body(pairs: Pairs, body: str | None) -> bytes:
    """A ``text/event-json`` body: compact, raw UTF-8, arrays as lists, body as ``_body``.

    Written by hand (not from a dict) so repeated header names stay repeated, as cJSON does.
    """
    members = json_members(pairs)
    return _json_tail([members] if members else [], body)


def _json_tail(items: list[bytes], body: str | None) -> bytes:
    """The JSON object of ``items`` (encoded headers), with ``Content-Length`` and ``_body``."""
    if body is not None:
        length = str(len(body.encode("utf-8", "surrogateescape")))
        items.append(b'"Content-Length":' + _json.encode(length))
        items.append(b'"_body":' + _json.encode(body))
    return b"{" + b",".join(items) + b"}"


_CTYPES = {"json": b"\nContent-Type: text/event-json\n\n",
           "plain": b"\nContent-Type: text/event-plain\n\n"}


def event_frame(body: bytes, fmt: str) -> bytes:
    ctype = _CTYPES["json" if fmt == "json" else "plain"]
    return b"".join((b"Content-Length: ", str(len(body)).encode(), ctype, body))


class Headers:
    """A run of event headers whose wire encodings are computed once per format.

    Events are built from such runs (:meth:`SimEvent.of`) so that what does not change between
    events — the host block of an event name, a channel's data while its state stands — is
    serialised once, not once per event and listener. ``pairs`` must not change afterwards.
    """

    __slots__ = ("_json", "_pairs", "_plain")

    def __init__(self, pairs: Pairs) -> None:
        self._pairs = pairs
        self._json: bytes | None = None
        self._plain: bytes | None = None

    @property
    def pairs(self) -> Pairs:
        """The (name, value) pairs, in order."""
        return self._pairs

    def json(self) -> bytes:
        """The headers as JSON object members, comma-separated (no braces; empty if none)."""
        if self._json is None:
            self._json = json_members(self.pairs)
        return self._json

    def plain(self) -> bytes:
        """The headers as ``text/event-plain`` lines."""
        if self._plain is None:
            self._plain = b"".join([plain_item(k, v) for k, v in self.pairs
                                    if k != "Content-Length"])
        return self._plain


class SimEvent:
    """An event the switch fires: ordered header pairs, an optional body, encoded lazily once
    per format however many listeners receive it.

    ``SimEvent(pairs, body)`` takes the headers as they are; :meth:`of` builds an event from
    :class:`Headers` runs whose encodings are shared with other events (the same bytes)."""

    __slots__ = ("_blocks", "_event", "_json", "_name", "_pairs", "_plain", "_uuid",
                 "_uuid_known", "body")

    def __init__(self, pairs: list[Pair], body: str | None = None) -> None:
        self._pairs: list[Pair] | None = pairs
        self._blocks: Sequence[Headers] | None = None
        self.body = body
        self._event: Event | None = None
        self._plain: bytes | None = None
        self._json: bytes | None = None
        self._name: str | None = None
        self._uuid: str | None = None
        self._uuid_known = False

    @classmethod
    def of(cls, blocks: Sequence[Headers], body: str | None = None, *, name: str | None = None,
           uuid: str | None = None, uuid_known: bool = False) -> SimEvent:
        """An event made of header runs, in order. ``name`` (``Event-Name``) and, when
        ``uuid_known``, ``uuid`` (``Unique-ID``, None when absent) are what the headers say:
        the builder knows them, so routing an event needs no header lookup."""
        event = cls.__new__(cls)
        event._pairs = event._event = event._plain = event._json = None
        event._blocks, event.body = blocks, body
        event._name, event._uuid, event._uuid_known = name, uuid, uuid_known
        return event

    @property
    def pairs(self) -> list[Pair]:
        """Every header, in wire order (a repeated name appears twice)."""
        if self._pairs is None:
            assert self._blocks is not None
            self._pairs = [pair for block in self._blocks for pair in block.pairs]
        return self._pairs

    @property
    def event(self) -> Event:
        """The event as a client decodes it (a repeated header keeps its last value)."""
        if self._event is None:
            self._event = Event(dict(self.pairs), self.body)
        return self._event

    @property
    def name(self) -> str:
        if self._name is None:
            self._name = self.event.name
        return self._name

    def get(self, name: str, default: str = "") -> str:
        if self._uuid_known and name == "Unique-ID":
            return default if self._uuid is None else self._uuid
        value: str = self.event.headers.get(name, default)
        return value

    def frame(self, fmt: str) -> bytes:
        """The whole frame (outer ``Content-Length``, ``Content-Type``, body) in ``fmt``."""
        if fmt == "json":
            if self._json is None:
                self._json = event_frame(self._json_body(), "json")
            return self._json
        if self._plain is None:
            self._plain = event_frame(self._plain_body(), "plain")
        return self._plain

    def _json_body(self) -> bytes:
        if self._blocks is None:
            return json_body(self.pairs, self.body)
        items = [part for part in [block.json() for block in self._blocks] if part]
        return _json_tail(items, self.body)

    def _plain_body(self) -> bytes:
        if self._blocks is None:
            return plain_body(self.pairs, self.body)
        return _plain_tail(b"".join([block.plain() for block in self._blocks]), self.body)
