"""DatabaseServices, the services ``coreswitch serve`` gives flows: work orders in the database.

Numbers must never repeat: not after a restart (the in-memory LocalServices starts again at
000001) and not between two server processes sharing the database. A "process" here is a
DatabaseServices on its own Database object (engine, connection, worker thread).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from coreswitch.runtime.services import CallInfo, DatabaseServices, ServiceFailed
from coreswitch.store import Database, WorkOrder
from tests.runtime.runtime_helpers import compile_flow, place_call

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 11, 23, 9, 30, tzinfo=CST)


def _info(call_id: str, now: dt.datetime = NOW) -> CallInfo:
    return CallInfo(call_id, "13800138000", "95598", "utility_95598", 2, "repair", now)


async def _order(services: DatabaseServices, call_id: str) -> str:
    return await services.work_order(_info(call_id), type="故障报修", department="抢修班",
                                     priority="紧急", fields={"area": "03"})


def _open(path: Path) -> Database:
    return Database(f"sqlite:///{path}")


def test_two_servers_on_one_sqlite_file_give_distinct_numbers_and_a_restart_goes_on(
        tmp_path: Path) -> None:
    path = tmp_path / "coreswitch.db"

    async def first_run() -> list[str]:
        a, b = _open(path), _open(path)
        await a.upgrade()
        try:
            one, two = DatabaseServices(database=a), DatabaseServices(database=b)
            return list(await asyncio.gather(*(_order(s, f"{name}-{i}") for i in range(25)
                                               for name, s in (("a", one), ("b", two)))))
        finally:
            await a.close()
            await b.close()

    async def after_restart() -> tuple[str, int]:
        db = _open(path)
        await db.upgrade()
        try:
            number = await _order(DatabaseServices(database=db), "after-restart")
            count = await db.run(lambda s: len(s.scalars(select(WorkOrder)).all()))
            return number, count
        finally:
            await db.close()

    numbers = asyncio.run(first_run())
    assert len(set(numbers)) == 50
    assert sorted(numbers) == [f"20261123{n:06d}" for n in range(1, 51)]
    assert asyncio.run(after_restart()) == ("20261123000051", 51)


def test_a_flow_gets_the_stored_number(tmp_path: Path) -> None:
    ir = compile_flow("""
        flow t:
          start order
        var ticket: text = ""
        state order:
          work_order "故障报修":
            department "抢修班"
            field phone = caller.ani
            field amount = 12.50
            into ticket
            failure -> sorry
          say "单号{ticket}"
          hangup
        state sorry:
          say "工单创建失败"
          hangup
        """)
    db = _open(tmp_path / "coreswitch.db")
    db.upgrade_blocking()
    try:
        first = place_call(ir, services=DatabaseServices(database=db))
        second = place_call(ir, services=DatabaseServices(database=db))  # a new server process
        rows = db.run_blocking(lambda s: s.scalars(select(WorkOrder).order_by(WorkOrder.id)).all())
    finally:
        db.close_blocking()
    assert first.var("ticket") == "20261123000001"
    assert second.var("ticket") == "20261123000002"
    assert "单号20261123000002" in second.heard()
    assert [r.number for r in rows] == ["20261123000001", "20261123000002"]
    assert rows[0].fields == {"phone": "13800138000", "amount": "12.50"}  # decimals as text
    assert (rows[0].type, rows[0].department, rows[0].flow_name) == ("故障报修", "抢修班", "t")


def test_a_database_that_cannot_store_the_order_is_a_service_failure(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = _open(tmp_path / "coreswitch.db")  # never migrated: no work_orders table
        try:
            with pytest.raises(ServiceFailed, match="cannot be stored"):
                await _order(DatabaseServices(database=db), "c-1")
        finally:
            await db.close()

    asyncio.run(scenario())
