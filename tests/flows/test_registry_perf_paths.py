"""The registry's compile path: republishing a known source compiles nothing (same hash, same
diagnostics), compiles run in a worker process, and a compile process that cannot start or dies
leaves publishing working on a thread."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from flow_sources import flow

import dsl
from coreswitch.flows import FlowRegistry, LocalNotifier, PublishStatus, Refusal
from coreswitch.flows import registry as registry_module
from coreswitch.flows.registry import Compiled, ProcessCompiler, compile_in_thread
from coreswitch.store import Database, audit
from dsl import Environment
from dsl.builtins import Builtin
from dsl.environment import FunctionSig, parse_type

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flows" / "95598.flow"


class CountingCompiler:
    """The registry's compile seam: records what it was asked to compile."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.closed = False

    async def compile(self, source: str, env: Environment) -> Compiled:
        self.sources.append(source)
        return await compile_in_thread(source, env)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def compiler() -> CountingCompiler:
    return CountingCompiler()


@pytest.fixture
def counted(database: Database, compiler: CountingCompiler) -> FlowRegistry:
    return FlowRegistry(database, Environment, LocalNotifier(), compiler=compiler)


# -- the compile memo ----------------------------------------------------------------------------

async def test_republishing_known_sources_compiles_each_once(
        counted: FlowRegistry, compiler: CountingCompiler) -> None:
    a, b = flow(tag="A", greeting="甲"), flow(tag="B", greeting="乙")
    results = [await counted.publish("demo", s, "alice") for s in (a, b, a, b, a)]
    assert [r.status for r in results] == [PublishStatus.PUBLISHED] * 5
    assert [r.version for r in results] == [1, 2, 3, 4, 5]
    hashes = [r.content_hash for r in results]
    assert hashes[0] == hashes[2] == hashes[4] != hashes[1] == hashes[3]
    assert compiler.sources == [a, b]
    live = counted.get("demo")
    assert live is not None
    fresh, _ = dsl.compile_source(a)
    assert live.ir == fresh
    assert fresh is not None
    assert live.content_hash == fresh["content_hash"]

    unchanged = await counted.publish("demo", a, "alice")
    assert unchanged.status is PublishStatus.UNCHANGED
    checked = await counted.validate(b)
    assert (checked.name, checked.content_hash, checked.diagnostics) == ("demo", hashes[1], ())
    assert compiler.sources == [a, b]


async def test_a_refused_source_is_refused_again_from_memory_with_the_same_diagnostics(
        counted: FlowRegistry, compiler: CountingCompiler, database: Database) -> None:
    await counted.publish("demo", flow(), "alice")
    bad = flow(tag="v2", broken=True)
    first = await counted.publish("demo", bad, "alice")
    second = await counted.publish("demo", bad, "bob")
    for result in (first, second):
        assert result.status is PublishStatus.REFUSED
        assert result.refusal is Refusal.CHECKER
    assert second.diagnostics == first.diagnostics == dsl.compile_source(bad)[1]
    assert [d.code for d in second.errors] == [d.code for d in first.errors] != []
    assert second.message == first.message
    assert second.rendered() == first.rendered()
    assert compiler.sources == [flow(), bad]
    checked = await counted.validate(bad)
    assert checked.diagnostics == first.diagnostics
    assert compiler.sources == [flow(), bad]
    refusals = [e for e in await database.run(audit.entries) if e.action == "flow.refused"]
    assert len(refusals) == 2
    assert refusals[0].detail["errors"] == refusals[1].detail["errors"] != []
    live = counted.resolve("95598")
    assert live is not None
    assert live.version == 1


async def test_another_environment_compiles_again(database: Database,
                                                  compiler: CountingCompiler) -> None:
    functions: dict[str, FunctionSig] = {}
    envs = [Environment()]
    registry = FlowRegistry(database, lambda: envs[-1], LocalNotifier(), compiler=compiler)
    source = flow()
    await registry.validate(source)
    await registry.validate(source)
    assert len(compiler.sources) == 1
    envs.append(Environment(functions=functions))  # a plugin registry is now known
    await registry.validate(source)
    await registry.validate(source)
    assert len(compiler.sources) == 2
    text = parse_type("text")
    assert text is not None
    functions["crm.tier"] = FunctionSig("crm.tier", (("phone", text),), text)  # added in place
    await registry.validate(source)
    assert len(compiler.sources) == 3


async def test_the_memo_is_bounded(counted: FlowRegistry, compiler: CountingCompiler,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "COMPILE_MEMO_SIZE", 2)
    one, two, three = (flow(tag=t) for t in ("1", "2", "3"))
    for source in (one, two, three, three, two, one):
        await counted.validate(source)
    assert compiler.sources == [one, two, three, one]  # `one` was the least recently used


async def test_closing_the_registry_closes_its_compiler(counted: FlowRegistry,
                                                        compiler: CountingCompiler) -> None:
    counted.close()
    assert compiler.closed


# -- the compile process -------------------------------------------------------------------------

class RecordingPool(ProcessPoolExecutor):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                         **kwargs)
        self.submitted = 0
        self.shut = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut = True
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


class RecordingThreads(ThreadPoolExecutor):
    """Stands in for the process pool where only the bookkeeping is tested."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted = 0
        self.shut = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shut = True
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "coreswitch.flows" and r.levelno == logging.WARNING]


async def test_a_worker_process_compiles_what_a_thread_compiles() -> None:
    source = EXAMPLE.read_text(encoding="utf-8")
    invalid = source.replace("  goto main_menu", "  goto no_such_state", 1)
    assert invalid != source
    pools: list[RecordingPool] = []

    def factory() -> Executor:
        pools.append(RecordingPool())
        return pools[-1]

    lease = ProcessCompiler(factory).lease()
    try:
        for text in (source, invalid):
            got = await lease.compile(text, Environment())
            assert got == await compile_in_thread(text, Environment())
        ir, diags = await lease.compile(invalid, Environment())
        assert ir is None
        assert any(d.is_error for d in diags)  # severities survive the trip between processes
    finally:
        lease.close()
    [pool] = pools
    assert (pool.submitted, pool.shut) == (3, True)


async def test_a_pool_that_cannot_start_falls_back_to_a_thread(
        caplog: pytest.LogCaptureFixture) -> None:
    starts = 0

    def factory() -> Executor:
        nonlocal starts
        starts += 1
        raise OSError("this platform lacks a functioning sem_open implementation")

    compiler = ProcessCompiler(factory)
    with caplog.at_level(logging.WARNING, logger="coreswitch.flows"):
        for tag in ("1", "2"):
            ir, diags = await compiler.compile(flow(tag=tag), Environment())
            assert ir is not None
            assert diags == ()
    assert starts == 1
    assert compiler.failed is not None
    assert "sem_open" in compiler.failed
    [warning] = _warnings(caplog)
    assert "thread" in warning


async def test_a_worker_that_dies_falls_back_to_a_thread(
        database: Database, caplog: pytest.LogCaptureFixture) -> None:
    pools: list[RecordingPool] = []

    def factory() -> Executor:  # a real worker process that exits as soon as it starts
        pools.append(RecordingPool(initializer=os._exit, initargs=(3,)))
        return pools[-1]

    compiler = ProcessCompiler(factory)
    registry = FlowRegistry(database, Environment, LocalNotifier(), compiler=compiler.lease())
    with caplog.at_level(logging.WARNING, logger="coreswitch.flows"):
        first = await registry.publish("demo", flow(tag="1"), "alice")
        second = await registry.publish("demo", flow(tag="2"), "alice")
    assert [first.status, second.status] == [PublishStatus.PUBLISHED] * 2
    fresh, _ = dsl.compile_source(flow(tag="1"))
    assert fresh is not None
    assert first.content_hash == fresh["content_hash"]
    [pool] = pools
    assert (pool.submitted, pool.shut) == (1, True)
    assert compiler.failed is not None
    assert "BrokenProcessPool" in compiler.failed
    assert len(_warnings(caplog)) == 1
    registry.close()


async def test_a_broken_pool_reported_on_the_future_falls_back(
        caplog: pytest.LogCaptureFixture) -> None:
    class DeadPool(RecordingThreads):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            self.submitted += 1
            future: Future[Any] = Future()
            future.set_exception(BrokenProcessPool("a child process terminated abruptly"))
            return future

    pool = DeadPool()
    compiler = ProcessCompiler(lambda: pool)
    with caplog.at_level(logging.WARNING, logger="coreswitch.flows"):
        bad = flow(broken=True)
        assert await compiler.compile(bad, Environment()) == dsl.compile_source(bad)
        assert await compiler.compile(flow(), Environment()) == dsl.compile_source(flow())
    assert (pool.submitted, pool.shut) == (1, True)
    assert len(_warnings(caplog)) == 1


async def test_an_environment_that_cannot_be_pickled_compiles_in_a_thread(
        caplog: pytest.LogCaptureFixture) -> None:
    pool = RecordingThreads()
    compiler = ProcessCompiler(lambda: pool)
    text = parse_type("text")
    assert text is not None
    env = Environment(expr_functions={"shout": Builtin("shout", (text,), text,
                                                       lambda s: s.upper(), "louder")})
    with caplog.at_level(logging.WARNING, logger="coreswitch.flows"):
        for _ in range(2):
            ir, _diags = await compiler.compile(flow(), env)
            assert ir is not None
    assert pool.submitted == 0
    assert compiler.failed is None  # the process is still used for environments it can take
    [warning] = _warnings(caplog)
    assert "cannot be sent" in warning
    assert (await compiler.compile(flow(), Environment()))[0] is not None
    assert pool.submitted == 1
    compiler.close()


async def test_the_pool_lives_while_a_lease_is_open() -> None:
    pools: list[RecordingThreads] = []

    def factory() -> Executor:
        pools.append(RecordingThreads())
        return pools[-1]

    compiler = ProcessCompiler(factory)
    one, two = compiler.lease(), compiler.lease()
    await one.compile(flow(), Environment())
    one.close()
    one.close()  # once only
    assert [p.shut for p in pools] == [False]
    await two.compile(flow(), Environment())
    two.close()
    assert [p.shut for p in pools] == [True]
    assert await one.compile(flow(), Environment()) == dsl.compile_source(flow())  # closed: thread
    three = compiler.lease()
    await three.compile(flow(), Environment())
    three.close()
    assert [(p.submitted, p.shut) for p in pools] == [(2, True), (1, True)]
