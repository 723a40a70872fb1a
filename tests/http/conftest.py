"""HTTP fixtures: an admin app over a registry on a temporary SQLite database.

Requests go through ``httpx.ASGITransport`` in the test's own event loop (starlette 1.0
deprecates its TestClient with httpx, and the registry lives on this loop anyway).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from http_helpers import make_client

from coreswitch.flows import FlowRegistry, LocalNotifier
from coreswitch.http import create_app
from coreswitch.store import Database
from dsl import Environment

TOKEN = "s3cret-token"


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[FlowRegistry]:
    database = Database(f"sqlite:///{tmp_path / 'http.db'}")
    await database.upgrade()
    yield FlowRegistry(database, Environment, LocalNotifier())
    await database.close()


@pytest.fixture
async def client(registry: FlowRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry, token=TOKEN)
    async with make_client(app, {"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c
