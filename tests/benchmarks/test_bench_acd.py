"""Smoke test of ``coreswitch bench acd``: a small run on both stores prints the result lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coreswitch.cli import bench
from tests.support.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^acd (memory|redis) (\d+) agents: p50 (\d+) us, p99 (\d+) us, "
                  r"([\d,]+) dispatches/s$", re.M)


def test_small_run_prints_one_line_per_store_and_size(capsys: pytest.CaptureFixture[str],
                                                       redis_server: RedisServer) -> None:
    main = bench.load_main(REPO / "benchmarks" / "bench_acd.py")
    assert main is not None
    code = main(["--agents", "200", "400", "--dispatches", "300",
                 "--redis-url", redis_server.url])
    out = capsys.readouterr().out
    assert code == 0
    lines = LINE.findall(out)
    assert [(kind, int(n)) for kind, n, *_ in lines] == [
        ("memory", 200), ("memory", 400), ("redis", 200), ("redis", 400)], out
    for _kind, _n, p50, p99, rate in lines:
        assert 0 < int(p50) <= int(p99)
        assert int(rate.replace(",", "")) > 0
