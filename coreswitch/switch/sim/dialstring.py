"""Dial strings as ``originate`` and ``bridge`` take them.

``{a=1,b='x\\, y'}user/1001,user/1002|sofia/gateway/gw/95598`` — a leading ``{...}`` block of
channel variables for every leg (values may be single-quoted; ``\\,`` and ``\\'`` are escapes, as
:func:`coreswitch.esl.command.channel_variables` writes them), ``,`` between endpoints rung at
once, ``|`` between groups tried one after another. ``[...]`` per-endpoint blocks are read too.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Endpoint:
    kind: str  # "user", "sofia", "loopback", "error", "agent", …
    target: str  # the user/extension part (``1001`` of ``user/1001@default``)
    raw: str
    variables: dict[str, str] = field(default_factory=dict)


def parse_variables(block: str) -> dict[str, str]:
    """``a=1,b='x\\, y'`` → ``{"a": "1", "b": "x, y"}``."""
    out: dict[str, str] = {}
    items: list[str] = []
    buf: list[str] = []
    quoted = False
    i = 0
    while i < len(block):
        ch = block[i]
        if ch == "\\" and i + 1 < len(block):
            buf.append(block[i + 1])
            i += 2
            continue
        if ch == "'":
            quoted = not quoted
        elif ch == "," and not quoted:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    items.append("".join(buf))
    for item in items:
        name, sep, value = item.partition("=")
        if sep and name.strip():
            out[name.strip()] = value
    return out


def _split_block(text: str, opener: str, closer: str) -> tuple[dict[str, str], str]:
    if not text.startswith(opener):
        return {}, text
    depth, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return parse_variables(text[1:i]), text[i + 1:]
    return {}, text


def split_variables(dialstring: str) -> tuple[dict[str, str], str]:
    """Split a leading ``{...}`` block off a dial string."""
    return _split_block(dialstring.strip(), "{", "}")


def _split_top(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    depth, quoted = 0, False
    for ch in text:
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "'":
            quoted = not quoted
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return [p for p in (x.strip() for x in parts) if p]


def parse_endpoint(text: str) -> Endpoint:
    local, rest = _split_block(text.strip(), "[", "]")
    parts = rest.split("/")
    kind = parts[0].lower()
    if kind == "sofia" and len(parts) >= 3:
        target = parts[-1]
    elif len(parts) >= 2:
        target = parts[1]
    else:
        target = rest
    return Endpoint(kind, target.split("@", 1)[0], rest, local)


def parse(dialstring: str) -> tuple[dict[str, str], list[list[Endpoint]]]:
    """Global variables and the groups of endpoints (``|`` groups of ``,`` endpoints)."""
    variables, rest = split_variables(dialstring)
    groups = [[parse_endpoint(e) for e in _split_top(group, ",")]
              for group in _split_top(rest, "|")]
    return variables, [g for g in groups if g]
