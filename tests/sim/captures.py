"""The recorded FreeSWITCH captures (``<repo>/../shared/esl`` or ``$CORESWITCH_SHARED/esl``).

They are required: a missing directory fails the tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from coreswitch.esl import Event, Frame, FrameParser

REPO = Path(__file__).resolve().parents[2]
ESL_DIR = Path(os.environ.get("CORESWITCH_SHARED", REPO.parent / "shared")) / "esl"


@cache
def frames(name: str) -> tuple[Frame, ...]:
    return tuple(FrameParser().feed((ESL_DIR / name).read_bytes()))


def events(name: str) -> list[tuple[Frame, Event]]:
    out = []
    for frame in frames(name):
        if frame.content_type == "text/event-plain":
            out.append((frame, Event.from_plain(frame.body)))
        elif frame.content_type == "text/event-json":
            out.append((frame, Event.from_json(frame.body)))
    return out


def plain_pairs(body: bytes) -> list[tuple[str, str]]:
    """The raw (still URL-encoded) header lines of a plain event body, in order."""
    head = body.split(b"\n\n", 1)[0].decode()
    return [tuple(line.split(": ", 1)) for line in head.split("\n")]  # type: ignore[misc]


def sent_commands(name: str) -> list[str]:
    """What the client wrote on a captured connection, as text."""
    out = []
    for line in (ESL_DIR / name).read_text().splitlines():
        record = json.loads(line)
        if record["dir"] == "send":
            out.append(record["data"].encode("latin-1").decode("utf-8"))
    return out


@cache
def load_prefix(name: str = "load-plain.recv.gz", size: int = 3_000_000) -> tuple[Frame, ...]:
    """The frames in the first ``size`` bytes of a load corpus (its first calls, complete)."""
    import gzip

    with gzip.open(ESL_DIR / name) as f:
        data = f.read(size)
    parser = FrameParser()
    return tuple(parser.feed(data))
