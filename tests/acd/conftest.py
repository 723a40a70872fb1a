"""``acd_store``: each store test runs on the in-process store and on a real Redis.

The Redis half starts a throwaway ``redis-server`` (tests/support/redis_server.py); when it
cannot start, the Redis half fails under CI (CI=true) and is skipped, loudly, elsewhere. Each
test gets a fresh key prefix on the shared server.
"""

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
        try:  # Redis only when asked
            from coreswitch.acd.redis_store import RedisStore
        except ImportError as exc:
            pytest.fail(f"the Redis ACD store cannot be imported "
                        f"(coreswitch.acd.redis_store.RedisStore): {exc}")
        url = request.getfixturevalue("redis_url")  # CI: fail; elsewhere: loud skip
        store = await RedisStore.connect(url, prefix=f"test{next(_prefixes)}:")
    yield store
    await store.close()
