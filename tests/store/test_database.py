"""Database: work runs in a worker thread, one transaction per call; SQLite settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from coreswitch.store import Database, FlowVersion, flows


async def test_run_executes_off_the_event_loop_thread(database: Database) -> None:
    loop_thread = threading.get_ident()
    names = await database.run(lambda s: threading.current_thread().name)
    assert threading.get_ident() == loop_thread
    assert names.startswith("coreswitch-db")


def _add(session: Session) -> None:
    flows.add_version(session, name="f", source="src", ir_json="{}", content_hash="sha256:x",
                      who="t")


async def test_run_commits_on_return_and_rolls_back_on_error(database: Database) -> None:
    await database.run(_add)

    def add_then_fail(session: Session) -> None:
        _add(session)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await database.run(add_then_fail)
    count = await database.run(lambda s: s.scalar(select(func.count(FlowVersion.id))))
    assert count == 1


async def test_sqlite_uses_wal_foreign_keys_and_one_writer(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")  # parent directory is created
    try:
        mode = await db.run(lambda s: s.execute(text("PRAGMA journal_mode")).scalar())
        fks = await db.run(lambda s: s.execute(text("PRAGMA foreign_keys")).scalar())
        assert (mode, fks) == ("wal", 1)
        assert db._executor._max_workers == 1
    finally:
        await db.close()


async def test_in_memory_sqlite_is_one_shared_database() -> None:
    db = Database("sqlite://")
    try:
        await db.upgrade()
        await db.run(_add)
        assert await db.run(lambda s: s.scalar(select(func.count(FlowVersion.id)))) == 1
    finally:
        await db.close()


def test_postgresql_url_uses_psycopg_3() -> None:
    db = Database("postgresql://u:secret@db.example/cs")
    try:
        assert db.url.drivername == "postgresql+psycopg"
        assert "secret" not in repr(db)
    finally:
        db.close_blocking()


async def test_closed_database_refuses_work(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await db.close()
    await db.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await db.run(lambda s: None)
