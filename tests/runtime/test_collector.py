"""The garbage-collector schedule of serve: young collections from the loop, rare full ones."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from coreswitch.collector import ScheduledCollector
from coreswitch.config import ConfigError, load_config


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    """Two objects referring to each other: only the cyclic collector frees them."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture(autouse=True)
def automatic_gc_back() -> Iterator[None]:
    yield
    gc.enable()
    gc.unfreeze()


async def test_young_collections_free_cycles_that_die_young() -> None:
    collector = ScheduledCollector(young_every=0.01, full_every=0)
    collector.start()
    try:
        assert not gc.isenabled()  # CPython's allocation-count trigger is off
        freed = asyncio.Event()
        a, _ = cycle()
        weakref.finalize(a, freed.set)
        del a
        await asyncio.wait_for(freed.wait(), 10)  # the schedule freed it, nothing else runs gc
        assert collector.young_collections >= 1
    finally:
        collector.stop()
    assert gc.isenabled()


async def test_a_cycle_that_outlived_a_young_collection_waits_for_the_full_one(
        caplog: pytest.LogCaptureFixture) -> None:
    collector = ScheduledCollector(young_every=3600, full_every=0)  # collections by hand here
    collector.start()
    try:
        a, ref = cycle()
        gc.collect(0)  # still referenced: survives, leaves the young generation
        del a
        gc.collect(0)
        assert ref() is not None  # young collections no longer look at it
        with caplog.at_level(logging.INFO, logger="coreswitch.gc"):
            found = collector.collect_full()
        assert ref() is None
        assert found >= 2
        assert collector.full_collections == 1
        assert f"{found} unreachable objects freed" in caplog.text
    finally:
        collector.stop()


async def test_full_collections_run_on_their_own_schedule() -> None:
    collector = ScheduledCollector(young_every=3600, full_every=0.01)
    collector.start()
    try:
        freed = asyncio.Event()
        a, _ = cycle()
        gc.collect(0)
        weakref.finalize(a, freed.set)
        del a
        await asyncio.wait_for(freed.wait(), 10)
        assert collector.full_collections >= 1
        assert collector.young_collections == 0
    finally:
        collector.stop()


async def test_by_default_only_full_collections_run() -> None:
    collector = ScheduledCollector()
    collector.start()
    try:
        assert not gc.isenabled()
        a, ref = cycle()
        del a
        keep = [[] for _ in range(50_000)]  # would start CPython's own collections many times
        assert ref() is not None  # no young collection: the cycle waits for the full one
        assert collector.young_collections == 0
        del keep
        collector.collect_full()
        assert ref() is None
    finally:
        collector.stop()


def test_bad_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="young_every"):
        ScheduledCollector(young_every=-1)
    with pytest.raises(ValueError, match="full_every"):
        ScheduledCollector(full_every=-1)


@pytest.mark.parametrize(("text", "message"), [
    ("[gc]\nyoung_every = -0.1\n", "gc.young_every: must be 0 (never) or positive"),
    ("[gc]\nfull_every = -5\n", "gc.full_every: must be 0 (never) or positive"),
])
def test_config_refuses_bad_gc_settings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)


def test_config_defaults() -> None:
    config = load_config(None)
    assert config.gc.young_every == 0.0
    assert config.gc.full_every == 600.0
