"""RecordingStore: paths, safe names, metadata round-trip."""

from __future__ import annotations

import datetime as dt
import json
import wave
from pathlib import Path

import pytest

from coreswitch.media.errors import RecordingError
from coreswitch.media.recording import RecordingMeta, RecordingStore, safe_name

CST = dt.timezone(dt.timedelta(hours=8))
STARTED = dt.datetime(2026, 11, 22, 14, 5, 1, tzinfo=CST)
CALL = "5f1c9e2a-0b1d-4c3e-9f00-1234567890ab"


def write_wav(path: Path, seconds: float, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))


@pytest.mark.parametrize(("text", "expected"), [
    (CALL, CALL),
    ("1001", "1001"),
    ("../../etc/passwd", None),
    ("投诉", None),
    ("a b/c", None),
    ("", None),
    (".hidden", None),
    ("x" * 200, None),
])
def test_safe_name(text: str, expected: str | None) -> None:
    name = safe_name(text)
    if expected is not None:
        assert name == expected
    assert name
    assert len(name) <= 64
    assert "/" not in name
    assert "\\" not in name
    assert not name.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "_.-") for c in name)


def test_safe_names_stay_distinct() -> None:
    assert safe_name("投诉") != safe_name("举报")
    assert safe_name("a/b") != safe_name("a?b")
    assert safe_name("投诉") == safe_name("投诉")


def test_record_round_trip(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    target = store.begin("record", call_id=CALL, ani="13800138000", dnis="95598",
                         flow="95598", state="report_record", started=STARTED,
                         extra={"var": "statement"})
    assert target.audio == tmp_path / "record/2026/11/22" / f"{CALL}-140501.wav"
    assert target.sidecar == target.audio.with_suffix(".json")
    assert not target.meta.finished
    # FreeSWITCH records into the target; then the flow finishes it.
    write_wav(target.audio, 2.5)
    meta = store.finish(target, reason="silence")
    assert meta.duration == 2.5
    assert meta.reason == "silence"
    assert meta.finished
    back = store.read(meta.id)
    assert back == meta
    assert back.started == "2026-11-22T14:05:01+08:00"
    assert back.extra == {"var": "statement"}
    assert store.audio_path(back) == target.audio
    on_disk = json.loads(target.sidecar.read_text(encoding="utf-8"))
    assert on_disk["ani"] == "13800138000"
    assert on_disk["flow"] == "95598"
    assert on_disk["state"] == "report_record"
    assert not list(tmp_path.rglob("*.tmp"))


def test_voicemail_by_mailbox(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    first = store.begin("voicemail", call_id=CALL, ani="13800138000", dnis="95598",
                        flow="after_hours", state="leave_message", started=STARTED,
                        mailbox="投诉")
    assert first.audio.parent == tmp_path / "voicemail" / safe_name("投诉") / "2026/11/22"
    second = store.begin("voicemail", call_id=CALL, ani="13800138000", dnis="95598",
                         flow="after_hours", state="leave_message", started=STARTED,
                         mailbox="投诉")
    assert second.audio != first.audio  # same call, same second: a distinct name
    assert second.audio.name == f"{CALL}-140501-2.wav"
    other = store.begin("voicemail", call_id="other", ani="1", dnis="95598", flow="f",
                        state="s", started=STARTED + dt.timedelta(minutes=1), mailbox="1001")
    store.finish(first, reason="hangup", duration=12.0)
    store.finish(second, reason="max")  # nothing recorded: duration 0
    assert store.read(second.meta.id).duration == 0.0
    box = store.list(mailbox="投诉")
    assert [m.id for m in box] == [first.meta.id, second.meta.id]
    assert all(m.mailbox == "投诉" for m in box)
    assert [m.id for m in store.list(kind="voicemail")] == [first.meta.id, second.meta.id,
                                                            other.meta.id]
    assert store.list(kind="record") == []
    assert [m.call_id for m in store.list(call_id="other")] == ["other"]


def test_caller_text_cannot_escape_base_dir(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path / "rec")
    target = store.begin("voicemail", call_id="../../../x", ani="a", dnis="d", flow="f",
                         state="s", started=STARTED, mailbox="../../outside")
    assert target.audio.resolve().is_relative_to((tmp_path / "rec").resolve())
    assert not (tmp_path / "outside").exists()
    with pytest.raises(RecordingError):
        store.read("../../../etc/passwd")


def test_refusals(tmp_path: Path) -> None:
    store = RecordingStore(tmp_path)
    with pytest.raises(ValueError, match="mailbox"):
        store.begin("voicemail", call_id=CALL, ani="a", dnis="d", flow="f", state="s",
                    started=STARTED)
    with pytest.raises(ValueError, match="time zone"):
        store.begin("record", call_id=CALL, ani="a", dnis="d", flow="f", state="s",
                    started=STARTED.replace(tzinfo=None))
    with pytest.raises(RecordingError, match="no recording"):
        store.read("record/2026/11/22/missing")
    (tmp_path / "record").mkdir()
    (tmp_path / "record" / "broken.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RecordingError, match="unreadable"):
        store.read("record/broken")


def test_meta_defaults() -> None:
    meta = RecordingMeta(id="record/x", kind="record", call_id="c", ani="a", dnis="d", flow="f",
                         state="s", started=STARTED.isoformat())
    assert (meta.duration, meta.reason, meta.mailbox, meta.extra) == (None, None, None, {})
