"""FreeSWITCH events: decoding and encoding ``text/event-plain`` and ``text/event-json`` bodies.

Both formats decode to the same :class:`Event`: a ``dict`` of header name → text, plus an optional
body (BACKGROUND_JOB results, ``api`` output carried in events).

Decoding rules, identical for both formats so that one event reads the same whichever way it came:

* Plain header values are URL-decoded (``%XX``; ``+`` stays ``+``, as FreeSWITCH encodes spaces as
  ``%20``). FreeSWITCH leaves an existing ``%XX`` in a value unencoded, so a value that contained a
  literal ``%41`` reads back as ``A``: that loss happens on the switch and is kept as is.
* Text is UTF-8; invalid byte sequences become U+FFFD (``errors="replace"``). Nothing raises on bad
  UTF-8, so a hostile caller-ID name cannot take a connection down.
* Multi-value headers keep FreeSWITCH's plain form ``ARRAY::first|:second``; JSON arrays are folded
  to that form. :meth:`Event.get_list` splits them.
* A header sent twice keeps its last value (what a JSON decoder does too); the earlier values of a
  plain event are kept in :attr:`Event.duplicates`.
* The inner ``Content-Length`` header is kept; the body is the text it delimits (JSON: ``_body``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

import msgspec

from coreswitch.esl.errors import ProtocolError

ARRAY_PREFIX = "ARRAY::"
ARRAY_SEPARATOR = "|:"

# FreeSWITCH's SWITCH_URL_UNSAFE set plus every control and non-ASCII byte is %-encoded.
_URL_UNSAFE = "\r\n #%&+:;<=>?@[\\]^`{|}\""
_URL_SAFE = "".join(chr(c) for c in range(33, 127) if chr(c) not in _URL_UNSAFE)

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_json_decoder = msgspec.json.Decoder()
_json_str_dict = msgspec.json.Decoder(dict[str, str])
_json_str_list = msgspec.json.Decoder(list[str])
_HIGH_ESCAPE = re.compile(rb"%[89A-Fa-f]")
_NOT_PCT_COLON_NL = bytes(c for c in range(256) if c not in b"%:\n")
_json_encoder = msgspec.json.Encoder()


class Event(Mapping[str, str]):
    """A decoded FreeSWITCH event: ``event["Unique-ID"]``, ``event.get(...)``, ``event.body``."""

    __slots__ = ("body", "duplicates", "headers")

    def __init__(
        self,
        headers: dict[str, str],
        body: str | None = None,
        duplicates: dict[str, list[str]] | None = None,
    ) -> None:
        self.headers = headers
        self.body = body
        self.duplicates = duplicates

    # -- Mapping -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)

    def __contains__(self, name: object) -> bool:
        return name in self.headers

    def get(self, name: str, default: Any = None) -> Any:
        return self.headers.get(name, default)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return self.headers == other.headers and self.body == other.body

    __hash__ = None  # type: ignore[assignment]  # mutable mapping-like value: not hashable

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.uuid or ''}>".replace(" >", ">")

    # -- common fields ---------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str | None:
        return self.headers.get("Event-Subclass")

    @property
    def uuid(self) -> str | None:
        """The channel this event is about (``Unique-ID``), if any."""
        return self.headers.get("Unique-ID")

    @property
    def job_uuid(self) -> str | None:
        return self.headers.get("Job-UUID")

    @property
    def application_uuid(self) -> str | None:
        return self.headers.get("Application-UUID")

    @property
    def sequence(self) -> int | None:
        seq = self.headers.get("Event-Sequence")
        return int(seq) if seq is not None and seq.isascii() and seq.isdigit() else None

    def variable(self, name: str, default: str | None = None) -> str | None:
        """A channel variable carried in the event (``variable_<name>``)."""
        return self.headers.get("variable_" + name, default)

    def get_list(self, name: str) -> list[str]:
        """All values of a header, splitting ``ARRAY::a|:b``; ``[]`` when absent."""
        value = self.headers.get(name)
        if value is None:
            return []
        if value.startswith(ARRAY_PREFIX):
            return value[len(ARRAY_PREFIX):].split(ARRAY_SEPARATOR)
        return [value]

    # -- decoding --------------------------------------------------------------------------------
    @classmethod
    def from_plain(cls, data: bytes) -> Event:
        """Decode a ``text/event-plain`` body."""
        # Most events have no body and end with their blank line; when the JSON path accepts
        # everything before it, the block held no other blank line (one would make the JSON
        # invalid), so it is the whole header block: no search for the blank line needed.
        tried = len(data) - 2 if data.endswith(b"\n\n") else -1
        decoded = _plain_headers_json(data[:tried]) if tried >= 0 else None
        rest = b""
        if decoded is None:
            head, _, rest = data.partition(b"\n\n")
            if len(head) != tried:
                decoded = _plain_headers_json(head)
        if decoded is None:
            text = head.decode("utf-8", "replace")
            decoded = _plain_headers_fast(text)
            if decoded is None:
                decoded = _plain_headers_careful(text)
        headers, duplicates = decoded
        body = None
        length = headers.get("Content-Length")
        if length is not None:
            if not (length.isascii() and length.isdigit()):
                raise ProtocolError(f"bad inner Content-Length {length[:40]!r}")
            n = int(length)
            if len(rest) < n:
                raise ProtocolError(f"event body is {len(rest)} bytes, Content-Length says {n}")
            body = rest[:n].decode("utf-8", "replace")
        if "Event-Name" not in headers:
            raise ProtocolError("event without Event-Name")
        return cls(headers, body, duplicates)

    @classmethod
    def from_json(cls, data: bytes) -> Event:
        """Decode a ``text/event-json`` body."""
        try:
            # FreeSWITCH sends strings only, except for multi-value (array) headers: decode
            # straight to str → str in C, and take the general path only when that fails.
            headers = _json_str_dict.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
            pass
        else:
            text_body = headers.pop("_body", None)
            if "Event-Name" not in headers:
                raise ProtocolError("event without Event-Name")
            return cls(headers, text_body)
        try:
            obj = _json_decoder.decode(data)
        except RecursionError:
            raise ProtocolError("JSON event is nested too deeply") from None
        except (msgspec.DecodeError, UnicodeDecodeError):
            # msgspec rejects invalid UTF-8: apply the stated policy and try once more.
            try:
                obj = _json_decoder.decode(data.decode("utf-8", "replace").encode())
            except (msgspec.DecodeError, RecursionError) as exc:
                raise ProtocolError(f"event body is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ProtocolError("JSON event is not an object")
        body = obj.pop("_body", None)
        for name, value in obj.items():
            if type(value) is not str:
                obj[name] = _json_value(name, value)
        if "Event-Name" not in obj:
            raise ProtocolError("event without Event-Name")
        if body is not None and type(body) is not str:
            body = _json_value("_body", body)
        return cls(obj, body)

    # -- encoding (the simulated switch and test corpora) ----------------------------------------
    def to_plain(self) -> bytes:
        """Encode as a ``text/event-plain`` body, URL-encoding values as FreeSWITCH does."""
        headers = dict(self.headers)
        body = b""
        if self.body is not None:
            body = self.body.encode()
            headers["Content-Length"] = str(len(body))
        else:
            headers.pop("Content-Length", None)
        text = "".join(f"{k}: {quote(v, safe=_URL_SAFE)}\n" for k, v in headers.items())
        return text.encode() + b"\n" + body

    def to_json(self) -> bytes:
        """Encode as a ``text/event-json`` body (arrays as JSON lists, body as ``_body``)."""
        obj: dict[str, str | list[str]] = {}
        for k, v in self.headers.items():
            obj[k] = v[len(ARRAY_PREFIX):].split(ARRAY_SEPARATOR) if v.startswith(
                ARRAY_PREFIX) else v
        if self.body is not None:
            obj["Content-Length"] = str(len(self.body.encode()))
            obj["_body"] = self.body
        else:
            obj.pop("Content-Length", None)
        return _json_encoder.encode(obj)


def _plain_headers_json(
    head: bytes,
) -> tuple[dict[str, str], dict[str, list[str]] | None] | None:
    """Decode a header block by rewriting it to JSON for msgspec; ``None`` when it cannot.

    FreeSWITCH %-encodes every space, colon, quote, backslash, control and non-ASCII byte of a
    value, so in a block it wrote each line is ``name: value`` with exactly one ``": "`` and no
    other space or colon. One-byte rewrites (memchr-fast) turn that into a JSON object —
    newline → ``","``, colon → ``":``, space → ``"``, ``%XX`` → ``\\u00XX`` — which msgspec
    decodes in C, URL escapes included. Any line of another shape gives invalid JSON (a string
    can hold no quote, so every line must be ``name: value`` or ``name::value``, which the
    careful path reads the same way), and the text paths below decide. A ``%XX`` of a byte
    >= 0x80 comes out as that Latin-1 character; such values (a UTF-8 caller-ID name) are
    re-decoded as UTF-8. Only ASCII blocks take this path, so the result equals
    :func:`_plain_headers_careful`'s (a property test checks it).
    """
    if not head.isascii() or b'"' in head or b"\\" in head:
        return None
    joined = head.replace(b"\n", b'","')
    lines = (len(joined) - len(head)) // 2 + 1
    escapes = b"%" in head
    if escapes:
        # Names are sent as they are: a "%" before the colon of its line is part of a name and
        # must not be decoded. Of "%", ":" and newline, such a line keeps "...%:".
        if b"%:" in head.translate(None, _NOT_PCT_COLON_NL):
            return None
        joined = joined.replace(b"%", b"\\u00")
    named = joined.replace(b":", b'":')
    try:
        headers = _json_str_dict.decode(b'{"' + named.replace(b" ", b'"') + b'"}')
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if "" in headers:
        return None  # a line "::x" passes the JSON shape; the careful path refuses it
    duplicates: dict[str, list[str]] | None = None
    if len(headers) != lines:
        # A repeated name (FreeSWITCH repeats Channel-Write-Codec-*): last wins, earlier kept.
        # A "name::value" line would be misread by the list form: leave those to the text paths.
        duplicates = _json_duplicates(joined, lines) if len(named) - len(joined) == lines else None
        if duplicates is None:
            return None
    if escapes and _HIGH_ESCAPE.search(head):
        for name, value in headers.items():
            if not value.isascii():
                headers[name] = _utf8(value)
    return headers, duplicates


def _json_duplicates(joined: bytes, lines: int) -> dict[str, list[str]] | None:
    """The earlier values of repeated names, from the block rewritten as a JSON list."""
    try:
        pairs = _json_str_list.decode(
            b'["' + joined.replace(b":", b'",').replace(b" ", b'"') + b'"]')
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(pairs) != 2 * lines:
        return None
    duplicates: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for name, value in zip(pairs[0::2], pairs[1::2], strict=True):
        if name in seen:
            duplicates.setdefault(name, []).append(_utf8(seen[name]))
        seen[name] = value
    return duplicates


def _utf8(value: str) -> str:
    """A value whose ``%XX`` escapes came out as Latin-1 characters, decoded as UTF-8."""
    if value.isascii():
        return value
    return value.encode("latin-1").decode("utf-8", "replace")


def _plain_headers_fast(text: str) -> tuple[dict[str, str], dict[str, list[str]] | None] | None:
    """Decode a header block in a few whole-block passes; ``None`` when the careful path is needed.

    FreeSWITCH %-encodes colons, spaces and newlines inside values, so in a block it wrote every
    line holds exactly one colon, the ``": "`` separator. When the block has exactly one colon and
    one ``": "`` per line, splitting on ``": "`` gives names and values alternately; the values are
    then unquoted in one pass, joined by newlines (safe as no value holds an encoded newline).
    Anything else — an unencoded colon in a value, a line without a separator, an encoded
    newline — takes :func:`_plain_headers_careful`. (A hand-made block with both a line missing
    its colon and another line holding two could pass these counts; FreeSWITCH never sends one.)
    """
    lines = text.count("\n") + 1
    if text.count(":") != lines or "%0A" in text or "%0a" in text:
        return None
    parts = text.replace("\n", ": ").split(": ")
    if len(parts) != 2 * lines:
        return None
    names = parts[0::2]
    if "" in names:
        return None
    values = unquote_text("\n".join(parts[1::2])).split("\n")
    headers = dict(zip(names, values, strict=True))
    if len(headers) == lines:
        return headers, None
    # A repeated name (FreeSWITCH repeats Channel-Write-Codec-*): last wins, earlier kept aside.
    duplicates: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for name, value in zip(names, values, strict=True):
        if name in seen:
            duplicates.setdefault(name, []).append(seen[name])
        seen[name] = value
    return headers, duplicates


def unquote_text(text: str) -> str:
    """URL-decode ``%XX`` escapes (UTF-8, invalid sequences → U+FFFD), as ``urllib.parse.unquote``.

    The common case — ASCII text whose every ``%`` starts a valid escape — is rewritten to
    ``\\xXX`` escapes and decoded by the C ``unicode_escape`` codec, several times faster than
    ``unquote``'s per-escape Python loop; anything else takes ``unquote`` itself.
    """
    if "%" not in text:
        return text
    if not text.isascii() or _BAD_ESCAPE.search(text):
        return unquote(text)
    escaped = text.replace("\\", "\\\\").replace("%", "\\x").encode("ascii")
    return escaped.decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def _plain_headers_careful(text: str) -> tuple[dict[str, str], dict[str, list[str]] | None]:
    headers: dict[str, str] = {}
    duplicates: dict[str, list[str]] | None = None
    for line in text.split("\n"):
        name, sep, value = line.partition(": ")
        if not sep:
            if not line:
                continue
            name, sep, value = line.partition(":")
            if not sep or not name:
                raise ProtocolError(f"malformed event header line {line[:80]!r}")
        value = unquote_text(value)
        if name in headers:
            if duplicates is None:
                duplicates = {}
            duplicates.setdefault(name, []).append(headers[name])
        headers[name] = value
    return headers, duplicates


def _json_value(name: str, value: object) -> str:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ARRAY_PREFIX + ARRAY_SEPARATOR.join(value)
    if isinstance(value, int | float | bool):
        return msgspec.json.encode(value).decode()
    raise ProtocolError(f"JSON event header {name!r} has an unexpected value {value!r:.60}")
