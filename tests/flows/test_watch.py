"""--watch: saved flow files are republished; refusals reported; other files ignored."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flow_sources import flow
from watchfiles import Change

from coreswitch.flows import FlowRegistry, PublishResult, PublishStatus, Refusal
from coreswitch.flows.watch import changed_flows, describe, watch_directories


def _save(path: Path, text: str) -> None:
    """Write ``text`` beside the watched tree and rename it into place: one atomic change."""
    staging = path.parent.parent / f".{path.name}.tmp"
    staging.write_text(text, encoding="utf-8")
    staging.replace(path)


def test_changed_flows_picks_added_and_modified_flow_files() -> None:
    changes = {(Change.modified, "/f/a.flow"), (Change.added, "/f/sub/b.flow"),
               (Change.modified, "/f/a.test.flow"), (Change.deleted, "/f/c.flow"),
               (Change.modified, "/f/providers.toml"), (Change.added, "/f/a.flow")}
    assert changed_flows(changes) == [Path("/f/a.flow"), Path("/f/sub/b.flow")]


async def test_saving_a_file_publishes_it(registry: FlowRegistry, tmp_path: Path) -> None:
    results: asyncio.Queue[tuple[Path, PublishResult]] = asyncio.Queue()
    ready = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(watch_directories(
        registry, [tmp_path, tmp_path / "missing"], debounce_ms=50,
        report=lambda p, r: results.put_nowait((p, r)), stop_event=stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        path = tmp_path / "demo.flow"
        _save(path, flow(tag="v1"))
        (tmp_path / "demo.test.flow").write_text("ignored\n", encoding="utf-8")
        got_path, result = await asyncio.wait_for(results.get(), 10)
        assert got_path == path
        assert (result.status, result.version) == (PublishStatus.PUBLISHED, 1)
        versions = await registry.versions("demo")
        assert versions[0].published_by == "watch"

        _save(path, flow(tag="v2", broken=True))
        _, refused = await asyncio.wait_for(results.get(), 10)
        assert refused.refusal is Refusal.CHECKER
        text = describe(path, refused)
        assert text.startswith(f"{path}:11:")
        assert text.endswith(f"{path}: {refused.message}")
        live = registry.resolve("95598")
        assert live is not None
        assert live.version == 1
        assert results.empty()
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_nothing_to_watch_returns(registry: FlowRegistry, tmp_path: Path) -> None:
    await asyncio.wait_for(watch_directories(registry, [tmp_path / "missing"]), 5)
