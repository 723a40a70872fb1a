"""Call detail records: started, completed, linked to the flow version that ran them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy.exc
from sqlalchemy.orm import Session

from coreswitch.store import Database, calls, flows


async def test_a_call_record_from_start_to_end(database: Database) -> None:
    def start(session: Session) -> None:
        v = flows.add_version(session, name="f", source="", ir_json="{}",
                              content_hash="sha256:a", who="ops")
        calls.start_call(session, call_uuid="u-1", ani="13800000000", dnis="95598",
                         flow_name="f", flow_version_id=v.id, flow_hash="sha256:a",
                         started_at=datetime(2026, 1, 1, 9, 0, tzinfo=UTC))

    await database.run(start)
    transcript = [{"event": "prompt", "text": "您好"}, {"event": "hangup"}]
    await database.run(lambda s: calls.end_call(
        s, "u-1", hangup_cause="NORMAL_CLEARING", end_state="goodbye",
        answered_at=datetime(2026, 1, 1, 9, 0, 1, tzinfo=UTC), transcript=transcript))
    row = await database.run(lambda s: calls.get_call(s, "u-1"))
    assert row is not None
    assert (row.ani, row.dnis, row.flow_name, row.flow_hash) == (
        "13800000000", "95598", "f", "sha256:a")
    assert row.hangup_cause == "NORMAL_CLEARING"
    assert row.end_state == "goodbye"
    assert row.transcript == transcript
    assert row.ended_at is not None
    assert row.ended_at.tzinfo is UTC
    assert row.answered_at == datetime(2026, 1, 1, 9, 0, 1, tzinfo=UTC)


async def test_ending_an_unknown_call_is_an_error(database: Database) -> None:
    with pytest.raises(LookupError, match="no call record"):
        await database.run(lambda s: calls.end_call(s, "nope", hangup_cause="NORMAL_CLEARING"))


async def test_flow_version_must_exist(database: Database) -> None:
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        await database.run(lambda s: calls.start_call(
            s, call_uuid="u-2", ani="1", dnis="2", flow_version_id=999))
