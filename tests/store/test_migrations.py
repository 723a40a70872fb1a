"""The Alembic migrations create exactly the schema the ORM metadata describes."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from coreswitch.store import Database, metadata


def _diff(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        return list(compare_metadata(context, metadata))


async def test_upgrade_head_matches_the_orm_metadata(database: Database) -> None:
    assert _diff(database) == []
    with database.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


async def test_upgrade_twice_is_a_no_op(database: Database) -> None:
    await database.upgrade()
    assert _diff(database) == []


async def test_downgrade_to_base_and_up_again(database: Database) -> None:
    await database.run(lambda s: None)  # the worker thread is alive
    database.downgrade_blocking("base")
    with database.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    await database.upgrade()
    assert _diff(database) == []
