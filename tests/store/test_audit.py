"""The audit log is append-only: no API to change rows, and no way to change them via the ORM."""

from __future__ import annotations

import inspect as pyinspect
from datetime import UTC, datetime

import pytest
import sqlalchemy.exc
from sqlalchemy import delete, text, update
from sqlalchemy.orm import Session

from coreswitch.store import AuditEntry, AuditLogIsAppendOnly, Database, audit


def test_the_module_offers_only_append_and_reads() -> None:
    public = {name for name, obj in vars(audit).items()
              if not name.startswith("_") and pyinspect.isfunction(obj)
              and obj.__module__ == audit.__name__}
    assert public == {"append", "entries"}
    methods = {name for name, _ in pyinspect.getmembers(AuditEntry, pyinspect.isfunction)
               if not name.startswith("_")}
    assert methods == set()


async def _one(database: Database) -> int:
    def add(session: Session) -> int:
        return audit.append(session, who="ops", action="flow.publish", subject="flow:x",
                            detail={"version": 1}).id
    return await database.run(add)


async def test_append_and_read_back(database: Database) -> None:
    await _one(database)
    await database.run(lambda s: audit.append(s, who="ops", action="flow.rollback",
                                              subject="flow:x"))
    rows = await database.run(lambda s: audit.entries(s, subject="flow:x"))
    assert [(r.action, r.detail) for r in rows] == [("flow.publish", {"version": 1}),
                                                    ("flow.rollback", {})]
    assert rows[0].at.tzinfo is UTC
    assert abs((datetime.now(UTC) - rows[0].at).total_seconds()) < 60
    only = await database.run(lambda s: audit.entries(s, action="flow.rollback"))
    assert len(only) == 1


async def test_orm_update_is_refused(database: Database) -> None:
    row_id = await _one(database)

    def tamper(session: Session) -> None:
        row = session.get(AuditEntry, row_id)
        assert row is not None
        row.who = "someone else"

    with pytest.raises(AuditLogIsAppendOnly):
        await database.run(tamper)
    rows = await database.run(audit.entries)
    assert rows[0].who == "ops"


async def test_orm_delete_is_refused(database: Database) -> None:
    row_id = await _one(database)

    def remove(session: Session) -> None:
        session.delete(session.get(AuditEntry, row_id))

    with pytest.raises(AuditLogIsAppendOnly):
        await database.run(remove)
    assert len(await database.run(audit.entries)) == 1


@pytest.mark.parametrize("statement", [update(AuditEntry).values(who="x"), delete(AuditEntry)])
async def test_bulk_statements_are_refused(database: Database, statement: object) -> None:
    await _one(database)
    with pytest.raises(AuditLogIsAppendOnly):
        await database.run(lambda s: s.execute(statement))  # type: ignore[call-overload]


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET who = 'x'", "DELETE FROM audit_log"])
async def test_the_database_refuses_raw_sql_changes(database: Database, sql: str) -> None:
    await _one(database)
    with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"):
        await database.run(lambda s: s.execute(text(sql)))
    rows = await database.run(audit.entries)
    assert [r.who for r in rows] == ["ops"]
