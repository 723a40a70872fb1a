"""The queue log in the database: batched writes, order, data, an outage that loses nothing."""

from __future__ import annotations

import datetime as dt

from coreswitch.acd.queue_log import DatabaseQueueLog, events
from coreswitch.store import Database

T0 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC).timestamp()


async def test_events_are_written_in_order_with_their_data(database: Database) -> None:
    log = DatabaseQueueLog(database)
    log.record("enter", at=T0, queue="service", call_id="c1", node="n1",
               data={"priority": 100, "ani": "13800000000", "note": "贵宾"})
    log.record("answer", at=T0 + 12.5, queue="service", call_id="c1", agent="1001",
               data={"waited": 12.5})
    await log.close()
    got = await events(database, queue="service")
    assert [(e.event, e.agent) for e in got] == [("enter", ""), ("answer", "1001")]
    assert got[0].data == {"priority": 100, "ani": "13800000000", "note": "贵宾"}
    assert abs(got[1].at - (T0 + 12.5)) < 1e-3
    assert log.written == 2
    assert [e.event for e in await events(database, agent="1001")] == ["answer"]


async def test_events_wait_while_the_database_is_down_and_are_written_later(
        database: Database) -> None:
    log = DatabaseQueueLog(database)
    real = database.run
    failing = True

    async def run(fn):  # type: ignore[no-untyped-def]
        if failing:
            raise ConnectionError("database restarting")
        return await real(fn)

    database.run = run  # type: ignore[method-assign]
    log.record("enter", at=T0, queue="q", call_id="c1")
    await log.flush()
    assert log.written == 0
    failing = False
    log.record("abandon", at=T0 + 5, queue="q", call_id="c1")
    await log.close()
    database.run = real  # type: ignore[method-assign]
    assert [e.event for e in await events(database)] == ["enter", "abandon"]
