"""``acd_store``: each store test runs on the in-process store and on a real Redis."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.store import AcdStore
from tests.support.redis_server import redis_server, redis_url  # noqa: F401  # fixtures

_prefixes = itertools.count(1)


@pytest.fixture(params=["memory", "redis"])
async def acd_store(request: pytest.FixtureRequest) -> AsyncIterator[AcdStore]:
    if request.param == "memory":
        store: AcdStore = MemoryStore(seed=7)
    else:
        from coreswitch.acd.redis_store import RedisStore  # Redis only when asked

        url = request.getfixturevalue("redis_url")
        store = await RedisStore.connect(url, prefix=f"t{next(_prefixes)}:")
    yield store
    await store.close()
