"""Registry fixtures: each test runs on SQLite and on a real PostgreSQL server.

PostgreSQL is started by the tests (coreswitch.store.testing). When it cannot be started the
PostgreSQL half fails under CI (CI=true) and is skipped, loudly, elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coreswitch.flows import FlowRegistry, LocalNotifier
from coreswitch.store import Database
from coreswitch.store.testing import PostgresUnavailable, open_test_database
from dsl import Environment


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    try:
        async with open_test_database(request.param, tmp_path) as db:
            yield db
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and could not be started: {exc}")
        pytest.skip(f"!!! PostgreSQL NOT TESTED: cannot start a server here: {exc}")


@pytest.fixture
def notifier() -> LocalNotifier:
    return LocalNotifier()


@pytest.fixture
def registry(database: Database, notifier: LocalNotifier) -> FlowRegistry:
    return FlowRegistry(database, Environment, notifier)
