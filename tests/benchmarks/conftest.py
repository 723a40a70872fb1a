"""Fixtures of the benchmark smoke tests: a throwaway redis-server (tests/support)."""

from tests.support.redis_server import redis_server, redis_url  # noqa: F401  # fixtures
