"""Smoke tests of ``coreswitch bench acd``: small runs print one result line per store and
size in the documented format (timings are not judged here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coreswitch.cli import bench
from tests.support.redis_server import RedisServer

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^acd (memory|redis) (\d+) agents: p50 (\d+) us, p99 (\d+) us, "
                  r"([\d,]+) dispatches/s$", re.M)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[tuple[str, ...]]:
    main = bench.load_main(REPO / "benchmarks" / "bench_acd.py")
    assert main is not None
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("# acd: 100 queues, 20 skills"), out
    lines = LINE.findall(out)
    for _kind, _n, p50, p99, rate in lines:
        assert int(p50) <= int(p99)
        assert int(rate.replace(",", "")) > 0
    return [tuple(line[:2]) for line in lines]


def test_a_small_in_process_run_prints_one_line_per_size(
        capsys: pytest.CaptureFixture[str]) -> None:
    got = run(["--store", "memory", "--agents", "200", "400", "--dispatches", "200"], capsys)
    assert got == [("memory", "200"), ("memory", "400")]


def test_a_small_redis_run_prints_its_line(capsys: pytest.CaptureFixture[str],
                                           redis_server: RedisServer) -> None:
    got = run(["--store", "redis", "--agents", "200", "--dispatches", "100", "--workers", "2",
               "--redis-url", redis_server.url], capsys)
    assert got == [("redis", "200")]
