"""Extract event header *shapes* from real FreeSWITCH captures into ``templates.json``.

Run from the repository root (the output is committed beside this module)::

    python -m coreswitch.switch.sim.extract_templates ../shared/esl

For every event name seen in the ``text/event-plain`` frames of the captures it records:

* ``calling`` — ``Event-Calling-File`` / ``-Function`` / ``-Line-Number`` of the first instance;
* ``lead`` — headers FreeSWITCH puts *before* ``Event-Name`` (``PRIVATE_COMMAND`` carries the
  ``sendmsg`` headers there);
* ``pre`` — event headers between the core block and the channel block (``Hangup-Cause`` of
  ``CHANNEL_HANGUP_COMPLETE``, ``Original-Channel-Call-State`` of ``CHANNEL_CALLSTATE`` …);
* ``channel`` / ``variables`` — whether the event carries the channel block / ``variable_*``;
* ``post`` — event headers after the channel data (``Application-*``, ``DTMF-*``, ``Playback-*``),
  the ordered union over all instances (an ``answer`` has no ``Application-Data``, a playback has).

Globally it records the core block and the channel block (the ordered union of channel and caller
profile headers), which :mod:`coreswitch.switch.sim.events` fills in for each channel.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from coreswitch.esl.event import Event
from coreswitch.esl.frame import FrameParser

CORE = [
    "Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4",
    "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
    "Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence",
]
_CHANNEL_FIRST = "Channel-State"
_CHANNEL_PREFIXES = ("Channel-", "Caller-", "Other-Leg-", "Other-Type")
_CHANNEL_NAMES = {"Unique-ID", "Call-Direction", "Presence-Call-Direction", "Answer-State",
                  "Hangup-Cause", "Presence-Data-Cols"}
CAPTURES = ("inbound-plain.recv", "outbound-session.recv", "load-plain.recv.gz")


def _merge(into: list[str], names: list[str]) -> None:
    """Ordered union: each new name goes right after the name that precedes it in ``names``."""
    for i, name in enumerate(names):
        if name in into:
            continue
        at = into.index(names[i - 1]) + 1 if i and names[i - 1] in into else len(into)
        into.insert(at, name)


def _is_channel(name: str) -> bool:
    return name in _CHANNEL_NAMES or name.startswith(_CHANNEL_PREFIXES)


def shape(event: Event) -> dict[str, Any]:
    names = list(event.headers)
    start = names.index("Event-Name")
    lead, rest = names[:start], names[start:]
    body = [n for n in rest if n not in CORE]
    has_channel = _CHANNEL_FIRST in body
    pre: list[str] = []
    post: list[str] = []
    channel: list[str] = []
    if has_channel:
        first = body.index(_CHANNEL_FIRST)
        pre = body[:first]
        seen_vars = False
        for name in body[first:]:
            if name.startswith("variable_"):
                seen_vars = True
            elif not seen_vars and _is_channel(name) and not post:
                channel.append(name)
            else:
                post.append(name)
    else:
        pre = body
    return {
        "calling": [event.get("Event-Calling-File", ""), event.get("Event-Calling-Function", ""),
                    event.get("Event-Calling-Line-Number", "")],
        "lead": lead, "pre": pre, "channel": has_channel,
        "variables": any(n.startswith("variable_") for n in names),
        "post": post, "channel_block": channel,
    }


def extract(directory: Path) -> dict[str, Any]:
    events: dict[str, dict[str, Any]] = {}
    channel_block: list[str] = []
    for name in CAPTURES:
        path = directory / name
        if not path.exists():
            continue
        data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
        for frame in FrameParser().feed(data):
            if frame.content_type != "text/event-plain":
                continue
            event = Event.from_plain(frame.body)
            got = shape(event)
            block = got.pop("channel_block")
            if event.name not in ("CODEC",):
                _merge(channel_block, block)
            known = events.get(event.name)
            if known is None:
                events[event.name] = got
                continue
            for key in ("lead", "pre", "post"):
                _merge(known[key], got[key])
            known["variables"] = known["variables"] or got["variables"]
    return {"source": "FreeSWITCH 1.10.12 captures in shared/esl (see extract_templates.py)",
            "core": CORE, "channel_block": channel_block, "events": events}


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else Path("../shared/esl")
    out = Path(__file__).with_name("templates.json")
    out.write_text(json.dumps(extract(directory), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
