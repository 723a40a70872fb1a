"""CallRecorder writes call records with one Core INSERT per batch, on SQLite and PostgreSQL.

The transcript is encoded to JSON text before it reaches the database thread; every reader
(the ORM column, the calls API, the benchmarks' ``json.loads`` of the raw column) must get back
exactly the list the call produced.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from coreswitch.runtime.service import CallRecorder, EndedCall
from coreswitch.store import Database, calls
from coreswitch.store.calls import CallRecord

TRANSCRIPT: list[dict[str, Any]] = [
    {"t": 0, "event": "call", "flow": "utility_95598", "version": None, "hash": "sha256:ab",
     "ani": "13800138000", "dnis": "95598", "at": "2026-11-23T11:07+08:00"},
    {"t": 600, "event": "prompt", "text": "欢迎致电国网XX供电公司95598供电服务热线。", "lang": "zh",
     "file": "tts/zh/97e508bbdfa81066.wav", "barged": False},
    {"t": 9120, "event": "input", "state": "main_menu", "digits": "***", "reason": "max"},
    {"t": 9500, "event": "queue", "queue": "repair", "waited": 12.5, "position": 3,
     "values": {"nested": [1, 2.25, None, True, "引号\"和\\反斜杠"]}},
    {"t": 30500, "event": "hangup", "cause": "NORMAL_CLEARING", "by": "flow"},
]

STARTED = datetime(2026, 11, 23, 3, 7, tzinfo=UTC)
ENDED = datetime(2026, 11, 23, 3, 8, 30, tzinfo=UTC)


def _call(uuid: str, transcript: list[dict[str, Any]] = TRANSCRIPT) -> EndedCall:
    return EndedCall(uuid, "13800138000", "95598", "utility_95598", None, "sha256:ab",
                     STARTED, ENDED, "NORMAL_CLEARING", "bye", transcript)


async def test_records_and_their_transcripts_read_back_as_written(database: Database) -> None:
    recorder = CallRecorder(database, batch=2)  # three batches for five calls
    for i in range(5):
        recorder.add(_call(f"u-{i}"))
    await recorder.close()
    assert recorder.written == 5
    rows = await database.run(lambda s: list(s.scalars(select(CallRecord)
                                                       .order_by(CallRecord.id))))
    assert [r.call_uuid for r in rows] == [f"u-{i}" for i in range(5)]  # in the order added
    row = rows[0]
    assert row.transcript == TRANSCRIPT
    assert (row.ani, row.dnis, row.flow_name, row.flow_version_id, row.flow_hash) == (
        "13800138000", "95598", "utility_95598", None, "sha256:ab")
    assert (row.started_at, row.ended_at, row.answered_at) == (STARTED, ENDED, None)
    assert (row.hangup_cause, row.end_state) == ("NORMAL_CLEARING", "bye")
    same = await database.run(lambda s: calls.get_call(s, "u-4"))
    assert same is not None
    assert same.transcript == TRANSCRIPT


async def test_the_stored_column_is_json_that_plain_readers_parse(database: Database) -> None:
    recorder = CallRecorder(database)
    recorder.add(_call("u-raw"))
    await recorder.flush()
    raw = await database.run(lambda s: s.execute(text(
        "SELECT transcript FROM call_records WHERE call_uuid = 'u-raw'")).scalar_one())
    # SQLite hands back the text (benchmarks/calls/harness.py json.loads it); psycopg parses
    # a json column itself
    assert (json.loads(raw) if isinstance(raw, str) else raw) == TRANSCRIPT


async def test_text_msgspec_cannot_encode_is_still_recorded(database: Database) -> None:
    odd = [{"t": 0, "event": "call", "ani": "bad\udc80byte"}, {"t": 1, "event": "fallback"}]
    recorder = CallRecorder(database)
    recorder.add(_call("u-odd", odd))
    await recorder.flush()
    assert recorder.written == 1
    row = await database.run(lambda s: calls.get_call(s, "u-odd"))
    assert row is not None
    assert row.transcript[1] == {"t": 1, "event": "fallback"}
    assert row.transcript[0]["ani"].startswith("bad")


async def test_a_failed_batch_is_kept_in_order_and_written_later(database: Database) -> None:
    recorder = CallRecorder(database, batch=2)
    real_run = database.run
    attempts: list[int] = []

    async def down_once(fn: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 2:  # the second batch fails
            raise OSError("database restarting")
        return await real_run(fn)

    database.run = down_once  # type: ignore[method-assign]
    try:
        for i in range(5):
            recorder.add(_call(f"u-{i}"))
        await recorder.flush()  # first batch written, second fails: flush stops there
        assert recorder.written == 2
        recorder.add(_call("u-5"))
        await recorder.flush()  # the kept calls first, then the new one
    finally:
        database.run = real_run  # type: ignore[method-assign]
    assert recorder.written == 6
    uuids = await database.run(lambda s: list(s.scalars(
        select(CallRecord.call_uuid).order_by(CallRecord.id))))
    assert uuids == [f"u-{i}" for i in range(6)]
