"""``--watch`` development mode: republish flow files as they are saved.

:func:`watch_directories` watches the flow directories (watchfiles: inotify where available,
changes debounced) and publishes every added or modified ``*.flow`` file that is not a
``*.test.flow`` through the registry (``who="watch"``). Refusals are reported with their
diagnostics and the live version stays; a deleted file leaves its flow live.

    task = asyncio.create_task(watch_directories(registry, config.flows.directories))
    ...
    task.cancel()                # or set the stop_event
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import Change, awatch

from coreswitch.flows.registry import FlowRegistry
from coreswitch.flows.result import PublishResult

log = logging.getLogger("coreswitch.flows.watch")

Report = Callable[[Path, PublishResult], None]


def changed_flows(changes: Iterable[tuple[Change, str]]) -> list[Path]:
    """The flow files to republish for one batch of changes, sorted, each once."""
    paths = {Path(p) for change, p in changes
             if change in (Change.added, Change.modified)
             and p.endswith(".flow") and not p.endswith(".test.flow")}
    return sorted(paths)


def describe(path: Path, result: PublishResult) -> str:
    """What a developer watching the terminal sees: diagnostics as ``coreswitch check`` prints
    them, then one line saying what happened."""
    parts = [text + "\n" for text in result.rendered()]
    parts.append(f"{path}: {result.message}")
    return "\n".join(parts)


def _existing_dirs(paths: Iterable[str | Path]) -> list[Path]:
    return [Path(p) for p in paths if Path(p).is_dir()]


def _print_report(path: Path, result: PublishResult) -> None:
    print(describe(path, result), file=sys.stderr, flush=True)


async def watch_directories(registry: FlowRegistry, paths: Iterable[str | Path], *,
                            debounce_ms: int = 300, report: Report = _print_report,
                            stop_event: asyncio.Event | None = None,
                            ready: asyncio.Event | None = None) -> None:
    """Publish flow files under ``paths`` as they change, until cancelled or ``stop_event``.

    ``ready`` is set once the watches are in place (tests use it to know that a file written
    now will be seen).
    """
    dirs = await asyncio.to_thread(_existing_dirs, paths)
    if not dirs:
        log.warning("--watch: none of the flow directories exist; nothing to watch")
        return
    log.info("watching %s for flow changes", ", ".join(map(str, dirs)))
    async for changes in awatch(*dirs, debounce=debounce_ms, stop_event=stop_event,
                                yield_on_timeout=ready is not None,
                                rust_timeout=100 if ready is not None else None):
        if ready is not None:
            ready.set()
        for change, raw in changes:
            if change is Change.deleted and raw.endswith(".flow"):
                log.info("%s deleted; its flow stays live until another version is published",
                         raw)
        for path in changed_flows(changes):
            try:
                result = await registry.publish_file(path, who="watch")
            except Exception:  # a watch loop that dies silently is worse than a logged error
                log.exception("publishing %s failed", path)
                continue
            report(path, result)
