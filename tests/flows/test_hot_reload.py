"""Hot reload under load, restart, directory loading and several registries on one database."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from flow_sources import flow
from sqlalchemy import update

from coreswitch.flows import FlowRegistry, LiveFlow, LocalNotifier, PublishStatus, Refusal
from coreswitch.store import Database, FlowVersion
from dsl import Environment


async def test_resolve_sees_old_or_new_never_a_mix_while_50_versions_are_published(
        registry: FlowRegistry) -> None:
    await registry.publish("demo", flow(tag="v1"), "alice")
    stop = threading.Event()
    problems: list[str] = []
    seen: list[set[int]] = []

    def reader() -> None:
        versions: set[int] = set()
        last = 0
        reads = 0
        while not stop.is_set() or reads < 1000:
            reads += 1
            a = registry.resolve("95598")
            b = registry.resolve("4000")
            for live in (a, b):
                if not isinstance(live, LiveFlow):
                    problems.append(f"resolve gave {live!r}")
                    return
                if live.ir["version"] != f"v{live.version}" or (
                        live.ir["content_hash"] != live.content_hash):
                    problems.append(f"mixed flow {live!r}")
                    return
                if live.version < last:
                    problems.append(f"went back from {last} to {live.version}")
                    return
                last = live.version
                versions.add(live.version)
            time.sleep(0)  # let the publishing threads have the GIL (a yield, not a wait)
        seen.append(versions)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for n in range(2, 52):
            result = await registry.publish("demo", flow(tag=f"v{n}"), "alice")
            assert result.version == n
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert problems == []
    assert len(seen) == 3
    final = registry.resolve("95598")
    assert final is not None
    assert final.version == 51
    assert len(set().union(*seen)) > 1  # the readers really ran across publishes


async def test_restart_restores_the_live_versions_without_compiling(database: Database) -> None:
    first = FlowRegistry(database, Environment, LocalNotifier())
    for tag in ("v1", "v2", "v3"):
        await first.publish("a", flow("a", dnis=("1",), tag=tag), "alice")
    await first.publish("b", flow("b", dnis=("2",)), "alice")
    await first.rollback("a", 2, "carol")
    first.close()

    compiles = 0

    def counting_env() -> Environment:
        nonlocal compiles
        compiles += 1
        return Environment()

    second = FlowRegistry(database, counting_env, LocalNotifier())
    restored = await second.restore()
    assert [(f.name, f.version) for f in restored] == [("a", 2), ("b", 1)]
    assert compiles == 0
    a = second.resolve("1")
    assert a is not None
    assert (a.version, a.ir["version"]) == (2, "v2")
    assert a.content_hash == first.get("a").content_hash  # type: ignore[union-attr]
    b = second.resolve("2")
    assert b is not None
    assert b.name == "b"


async def test_restore_recompiles_when_the_stored_ir_is_from_another_compiler(
        database: Database) -> None:
    first = FlowRegistry(database, Environment, LocalNotifier())
    await first.publish("a", flow("a"), "alice")
    await database.run(lambda s: s.execute(
        update(FlowVersion).values(ir_json='{"ir_version": 0}')))
    second = FlowRegistry(database, Environment, LocalNotifier())
    [a] = await second.restore()
    assert a.version == 1
    assert a.ir["name"] == "a"


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


async def test_load_directory_publishes_good_files_and_reports_bad_ones(
        database: Database, tmp_path: Path) -> None:
    _write(tmp_path, "a.flow", flow("a", dnis=("1",)))
    _write(tmp_path, "sub/b.flow", flow("b", dnis=("2",)))
    _write(tmp_path, "bad.flow", flow("bad", dnis=("3",), broken=True))
    _write(tmp_path, "a.test.flow", "this is not a flow and is not loaded\n")
    _write(tmp_path, "dup.flow", flow("a", dnis=("1",), tag="other"))
    (tmp_path / "latin1.flow").write_bytes(b"flow x:\n  title \"\xe9\"\n")
    registry = FlowRegistry(database, Environment, LocalNotifier())
    outcomes = await registry.load_directory([tmp_path, tmp_path / "missing"])
    by_file = {o.path.relative_to(tmp_path).as_posix(): o.result for o in outcomes}
    assert set(by_file) == {"a.flow", "sub/b.flow", "bad.flow", "dup.flow", "latin1.flow"}
    assert by_file["a.flow"].status is PublishStatus.PUBLISHED
    assert by_file["sub/b.flow"].status is PublishStatus.PUBLISHED
    assert by_file["bad.flow"].refusal is Refusal.CHECKER
    assert by_file["bad.flow"].rendered()[0].startswith(f"{tmp_path / 'bad.flow'}:11:")
    assert by_file["dup.flow"].refusal is Refusal.DUPLICATE
    assert by_file["latin1.flow"].refusal is Refusal.UNREADABLE
    assert sorted(f.name for f in registry.flows()) == ["a", "b"]
    assert by_file["a.flow"].filename == str(tmp_path / "a.flow")


async def test_reloading_a_directory_keeps_what_operators_chose(
        database: Database, tmp_path: Path) -> None:
    path = _write(tmp_path, "a.flow", flow("a", tag="v1"))
    registry = FlowRegistry(database, Environment, LocalNotifier())
    await registry.load_directory([tmp_path])
    path.write_text(flow("a", tag="v2"), encoding="utf-8")
    [o] = await registry.load_directory([tmp_path])
    assert (o.result.status, o.result.version) == (PublishStatus.PUBLISHED, 2)
    await registry.rollback("a", 1, "carol")

    restarted = FlowRegistry(database, Environment, LocalNotifier())
    await restarted.restore()
    [o] = await restarted.load_directory([tmp_path])
    assert o.result.status is PublishStatus.UNCHANGED
    assert "version 1, made live since, stays live" in o.result.message
    live = restarted.get("a")
    assert live is not None
    assert live.version == 1
    path.write_text(flow("a", tag="v3"), encoding="utf-8")
    [o] = await restarted.load_directory([tmp_path])
    assert (o.result.status, o.result.version) == (PublishStatus.PUBLISHED, 3)


async def test_another_registry_follows_a_publish_through_the_notifier(
        database: Database) -> None:
    notifier = LocalNotifier()
    node_a = FlowRegistry(database, Environment, notifier)
    node_b = FlowRegistry(database, Environment, notifier)
    await node_a.publish("demo", flow(tag="v1"), "alice")
    live_b = node_b.resolve("95598")
    assert live_b is not None
    assert live_b.version == 1
    await node_b.publish("demo", flow(tag="v2"), "bob")
    await node_a.rollback("demo", 1, "carol")
    for node in (node_a, node_b):
        live = node.resolve("95598")
        assert live is not None
        assert live.version == 1
    node_b.close()
    await node_a.publish("demo", flow(tag="v3"), "alice")
    stale = node_b.resolve("95598")
    assert stale is not None
    assert stale.version == 1  # unsubscribed: no longer follows


async def test_two_nodes_publishing_at_once_get_distinct_version_numbers(
        database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite serves one node; several nodes share PostgreSQL")
    other = Database(database.url.render_as_string(hide_password=False))
    try:
        node_a = FlowRegistry(database, Environment, LocalNotifier())
        node_b = FlowRegistry(other, Environment, LocalNotifier())
        for n in range(8):
            await asyncio.gather(node_a.publish("demo", flow(tag=f"a{n}"), "a"),
                                 node_b.publish("demo", flow(tag=f"b{n}"), "b"))
        versions = await node_a.versions("demo")
        assert [v.version for v in versions] == list(range(1, 17))
    finally:
        await other.close()
