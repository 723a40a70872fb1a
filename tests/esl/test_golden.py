"""Golden tests: every frame of every FreeSWITCH capture is split and every event decoded.

``golden/<capture>.json`` lists, per frame, its content type, its outer headers (or their digest
for the large ``connect`` reply), the body's length and digest, and for events the decoded name,
channel, sequence, a few key headers and digests of the complete decoded headers and body. Any
change in how a single byte of the captures is read shows up as a diff here.

Regenerate after an intended change with ``CORESWITCH_UPDATE_GOLDEN=1 pytest tests/esl`` and review
the diff before committing it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from coreswitch.esl import Event, Frame, FrameParser

from .captures import LOAD_EVENTS, LOAD_FILES, RECV_FILES, read_capture

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CORESWITCH_UPDATE_GOLDEN") == "1"
KEY_HEADERS = ("Job-UUID", "Application", "Application-UUID", "Application-Response",
               "Hangup-Cause", "DTMF-Digit", "Channel-State", "API-Command", "Content-Length")


def digest(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def decode(frame: Frame) -> Event | None:
    if frame.content_type == "text/event-plain":
        return Event.from_plain(frame.body)
    if frame.content_type == "text/event-json":
        return Event.from_json(frame.body)
    return None


def describe_event(event: Event) -> dict[str, Any]:
    return {
        "name": event.name,
        "uuid": event.uuid,
        "seq": event.sequence,
        "keys": {k: event[k] for k in KEY_HEADERS if k in event},
        "duplicates": event.duplicates,
        "n_headers": len(event),
        "headers_sha": digest(json.dumps(event.headers, ensure_ascii=False, sort_keys=True)),
        "body": event.body if event.body is None or len(event.body) < 80 else digest(event.body),
    }


def describe(frame: Frame) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": frame.content_type}
    if len(frame.headers) <= 10:
        entry["headers"] = frame.headers
    else:  # the outbound `connect` reply: its channel data, as one digest
        entry["n_headers"] = len(frame.headers)
        entry["headers_sha"] = digest(json.dumps(frame.headers, ensure_ascii=False))
    entry["body_len"] = len(frame.body)
    entry["body_sha"] = digest(frame.body)
    event = decode(frame)
    if event is not None:
        entry["event"] = describe_event(event)
    return entry


def check_golden(name: str, actual: Any) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(actual, ensure_ascii=False, indent=1) + "\n"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with CORESWITCH_UPDATE_GOLDEN=1"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert json.loads(text) == expected


@pytest.mark.parametrize("name", RECV_FILES)
def test_every_frame_of_every_capture_matches_its_golden(name: str) -> None:
    data = read_capture(name)
    parser = FrameParser()
    frames = parser.feed(data)
    assert parser.buffered == 0  # nothing left over: the capture ends on a frame boundary
    # The frames account for every byte: serialising them gives the capture back.
    assert b"".join(f.to_bytes() for f in frames) == data
    for frame in frames:
        if "Content-Length" in frame.headers:
            assert len(frame.body) == int(frame.headers["Content-Length"])
    check_golden(name, [describe(f) for f in frames])


def test_the_goldens_cover_the_documented_frame_types() -> None:
    types: Counter[str] = Counter()
    for name in RECV_FILES:
        types.update(f.content_type for f in FrameParser().feed(read_capture(name)))
    assert set(types) == {
        "auth/request", "command/reply", "api/response", "text/event-plain", "text/event-json",
        "log/data", "text/disconnect-notice"}
    assert types["log/data"] > 40


def _load_events(name: str) -> tuple[list[Event], Counter[str]]:
    frames = FrameParser().feed(read_capture(name))
    others = Counter(f.content_type for f in frames if decode(f) is None)
    events = [e for e in map(decode, frames) if e is not None]
    return events, others


@pytest.mark.slow
def test_load_corpus_plain_and_json_decode_to_identical_events() -> None:
    plain, plain_other = _load_events(LOAD_FILES[0])
    json_, json_other = _load_events(LOAD_FILES[1])
    assert len(plain) == len(json_) == LOAD_EVENTS
    assert plain_other == json_other == Counter({"command/reply": 2, "auth/request": 1})
    mismatched = [i for i, (p, j) in enumerate(zip(plain, json_, strict=True)) if p != j]
    assert mismatched == []
    # Real FreeSWITCH repeats headers (CODEC: Channel-Write-Codec-*, HANGUP_COMPLETE:
    # Hangup-Cause); the plain decoder keeps the earlier values, both keep the last.
    dup_names = Counter(k for e in plain if e.duplicates for k in e.duplicates)
    assert dup_names["Hangup-Cause"] > 0
    assert dup_names["Channel-Write-Codec-Name"] > 0
    summary = {
        "events": len(plain),
        "by_name": dict(sorted(Counter(e.name for e in plain).items())),
        "channels": len({e.uuid for e in plain if e.uuid}),
        "with_body": sum(e.body is not None for e in plain),
        "with_duplicates": sum(bool(e.duplicates) for e in plain),
        "sha": digest("\n".join(
            json.dumps([e.headers, e.body], ensure_ascii=False, sort_keys=True) for e in plain)),
    }
    check_golden("load", summary)
