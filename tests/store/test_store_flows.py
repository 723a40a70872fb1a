"""flow_versions and flow_live: numbering per flow, uniqueness, the live pointer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy.exc
from sqlalchemy.orm import Session

from coreswitch.store import Database, FlowVersion, flows


def _add(name: str, source: str = "s", who: str = "ops"):  # type: ignore[no-untyped-def]
    def work(session: Session) -> tuple[int, int]:
        row = flows.add_version(session, name=name, source=source, ir_json="{}",
                                content_hash=f"sha256:{source}", who=who, note="n")
        return row.id, row.version
    return work


async def test_versions_are_numbered_per_flow(database: Database) -> None:
    got = [await database.run(_add(n)) for n in ("a", "a", "b", "a")]
    assert [v for _, v in got] == [1, 2, 1, 3]
    rows = await database.run(lambda s: flows.list_versions(s, "a"))
    assert [r.version for r in rows] == [1, 2, 3]
    assert all(r.published_at.tzinfo is UTC for r in rows)
    assert rows[0].note == "n"


async def test_name_and_version_are_unique(database: Database) -> None:
    await database.run(_add("a"))

    def duplicate(session: Session) -> None:
        session.add(FlowVersion(name="a", version=1, source="", ir_json="{}",
                                content_hash="", published_by="", published_at=datetime.now(UTC)))
        session.flush()

    with pytest.raises(sqlalchemy.exc.IntegrityError):
        await database.run(duplicate)


async def test_live_pointer_moves(database: Database) -> None:
    await database.run(_add("a", "one"))
    await database.run(_add("a", "two"))
    await database.run(_add("b", "x"))

    def make_live(name: str, version: int):  # type: ignore[no-untyped-def]
        def work(session: Session) -> None:
            row = flows.get_version(session, name, version)
            assert row is not None
            flows.set_live(session, row, "ops")
        return work

    await database.run(make_live("a", 2))
    await database.run(make_live("b", 1))
    await database.run(make_live("a", 1))
    live = await database.run(flows.live_versions)
    assert [(r.name, r.version) for r in live] == [("a", 1), ("b", 1)]
    one = await database.run(lambda s: flows.live_version(s, "a"))
    assert one is not None
    assert one.source == "one"
    assert await database.run(lambda s: flows.live_version(s, "zzz")) is None


async def test_find_by_source(database: Database) -> None:
    await database.run(_add("a", "one"))
    await database.run(_add("a", "two"))
    found = await database.run(lambda s: flows.find_by_source(s, "a", "one"))
    assert found is not None
    assert found.version == 1
    assert await database.run(lambda s: flows.find_by_source(s, "a", "three")) is None


async def test_times_are_stored_as_utc_and_naive_times_are_refused(database: Database) -> None:
    east8 = timezone(timedelta(hours=8))

    def at(session: Session) -> datetime:
        return flows.add_version(session, name="a", source="", ir_json="{}", content_hash="",
                                 who="", at=datetime(2026, 1, 1, 8, 0, tzinfo=east8)).published_at

    await database.run(at)
    row = (await database.run(lambda s: flows.list_versions(s, "a")))[0]
    assert row.published_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert row.published_at.tzinfo is UTC

    def naive(session: Session) -> None:
        flows.add_version(session, name="b", source="", ir_json="{}", content_hash="", who="",
                          at=datetime(2026, 1, 1))

    with pytest.raises(sqlalchemy.exc.StatementError, match="naive datetime"):
        await database.run(naive)
