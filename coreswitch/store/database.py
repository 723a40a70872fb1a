"""The database handle: an engine, and one place where blocking database work runs.

SQLAlchemy sessions are synchronous, so :meth:`Database.run` executes a function of a
:class:`~sqlalchemy.orm.Session` in a dedicated worker thread, inside one transaction, and the
event loop only awaits the result. SQLite gets exactly one worker thread (one writer, no
``database is locked`` between our own threads), WAL journalling and foreign keys; PostgreSQL
gets a few workers sharing the connection pool.

    database = Database("sqlite:///coreswitch.db")
    await database.upgrade()                      # alembic upgrade head
    n = await database.run(lambda s: s.scalar(select(func.count(FlowVersion.id))))
    await database.close()
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

T = TypeVar("T")

DEFAULT_URL = "sqlite:///coreswitch.db"
MIGRATIONS = Path(__file__).with_name("migrations")

#: Worker threads for databases that allow concurrent writers (PostgreSQL).
_SERVER_WORKERS = 4


class Database:
    """An engine plus the worker thread(s) that run all session work off the event loop."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False) -> None:
        self._url = _normalise(make_url(url))
        self._engine = _create_engine(self._url, echo=echo)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        workers = 1 if self.is_sqlite else _SERVER_WORKERS
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="coreswitch-db")
        self._closed = False

    @property
    def url(self) -> URL:
        return self._url

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def is_sqlite(self) -> bool:
        return self._url.get_backend_name() == "sqlite"

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a database thread, in one transaction.

        Committed when ``fn`` returns, rolled back when it raises (the exception propagates).
        Return plain values or detached rows; the session is closed afterwards. Cancelling the
        awaiting task does not stop work already started in the thread.
        """
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, fn)

    def run_blocking(self, fn: Callable[[Session], T]) -> T:
        """:meth:`run` for code outside an event loop (command-line tools, tests)."""
        return self._executor.submit(self._transaction, fn).result()

    async def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (``alembic upgrade head``)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._migrate, command.upgrade, "head")

    def upgrade_blocking(self, revision: str = "head") -> None:
        self._executor.submit(self._migrate, command.upgrade, revision).result()

    def downgrade_blocking(self, revision: str) -> None:
        """``alembic downgrade REVISION`` (``"base"`` drops every table)."""
        self._executor.submit(self._migrate, command.downgrade, revision).result()

    async def close(self) -> None:
        """Finish queued work, stop the worker thread(s) and close all connections."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        self._engine.dispose()

    def close_blocking(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=True)
        self._engine.dispose()

    def alembic_config(self) -> AlembicConfig:
        """An Alembic configuration for this database's migrations (no ini file needed)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option(
            "sqlalchemy.url", self._url.render_as_string(hide_password=False).replace("%", "%%"))
        return cfg

    def _transaction(self, fn: Callable[[Session], T]) -> T:
        with self._sessions.begin() as session:
            return fn(session)

    def _migrate(self, step: Callable[[AlembicConfig, str], None], revision: str) -> None:
        cfg = self.alembic_config()
        with self._engine.begin() as connection:
            cfg.attributes["connection"] = connection
            step(cfg, revision)

    def __repr__(self) -> str:
        return f"Database({self._url.render_as_string(hide_password=True)!r})"


def _normalise(url: URL) -> URL:
    # "postgresql://" would pick psycopg2; coreswitch uses psycopg 3.
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or bool(url.query.get("mode") == "memory")


def _create_engine(url: URL, *, echo: bool) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if _is_memory(url):
        kwargs["poolclass"] = StaticPool  # one shared in-memory database
    else:
        assert url.database is not None
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, **kwargs)
    memory = _is_memory(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return engine
