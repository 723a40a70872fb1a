"""Work orders: numbered by the database, one sequence per day, unique across nodes.

Each test runs on SQLite and on PostgreSQL (the ``database`` fixture). "Nodes" are separate
:class:`Database` objects on the same database — separate engines, connections and worker
threads, as two ``coreswitch serve`` processes would have.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.orm import Session

from coreswitch.store import Database, work_orders

CST = timezone(timedelta(hours=8))


def _create(at: datetime, *, call_id: str = "c-1", type: str = "故障报修"
            ) -> Callable[[Session], str]:
    def create(session: Session) -> str:
        return work_orders.create(
            session, created_at=at, type=type, department="抢修", priority="high",
            fields={"区号": "03", "amount": "12.50"}, call_id=call_id, ani="13800000000",
            dnis="95598", flow_name="utility_95598", flow_version=3,
            flow_state="repair_area").number
    return create


async def test_numbers_are_the_day_and_its_sequence(database: Database) -> None:
    day1 = datetime(2026, 11, 23, 23, 59, tzinfo=CST)
    numbers = [await database.run(_create(day1)) for _ in range(3)]
    assert numbers == ["20261123000001", "20261123000002", "20261123000003"]
    # the next day (in the call's time zone, though still the 23rd in UTC) starts again at 1
    day2 = datetime(2026, 11, 24, 0, 1, tzinfo=CST)
    assert await database.run(_create(day2)) == "20261124000001"
    assert await database.run(_create(day1)) == "20261123000004"


async def test_the_order_is_stored_with_its_call(database: Database) -> None:
    at = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    number = await database.run(_create(at, call_id="call-9"))
    row = await database.run(lambda s: work_orders.get(s, number))
    assert row is not None
    assert (row.type, row.department, row.priority) == ("故障报修", "抢修", "high")
    assert row.fields == {"区号": "03", "amount": "12.50"}
    assert (row.call_id, row.ani, row.dnis) == ("call-9", "13800000000", "95598")
    assert (row.flow_name, row.flow_version, row.flow_state) == ("utility_95598", 3, "repair_area")
    assert row.created_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    of_call = await database.run(lambda s: [o.number for o in work_orders.of_call(s, "call-9")])
    assert of_call == [number]


async def test_an_order_that_fails_to_insert_gives_its_number_back(database: Database) -> None:
    at = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    assert await database.run(_create(at)) == "20261123000001"

    def failing(session: Session) -> None:
        _create(at)(session)
        raise RuntimeError("the rest of the transaction failed")

    with pytest.raises(RuntimeError):
        await database.run(failing)
    assert await database.run(_create(at)) == "20261123000002"  # no gap


async def test_nodes_sharing_the_database_never_give_the_same_number(
        database: Database) -> None:
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        at = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
        numbers = await asyncio.gather(*(node.run(_create(at, call_id=f"c-{i}"))
                                         for i in range(40)
                                         for node in (database, other)))
    finally:
        await other.close()
    assert len(set(numbers)) == 80
    assert sorted(numbers) == [f"20261123{n:06d}" for n in range(1, 81)]


async def test_a_day_must_be_eight_digits(database: Database) -> None:
    with pytest.raises(ValueError, match="YYYYMMDD"):
        await database.run(lambda s: work_orders.next_number(s, "2026-11-23"))
