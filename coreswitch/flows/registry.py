"""The flow registry: publish, roll back and resolve flows while calls are up.

Publishing parses, checks and compiles the source (in a worker process, see below), refuses it
with the checker's diagnostics if it has errors (the live version stays), stores it as the next
version with who/when/note, lets the media layer pre-render its prompts, and then swaps the
routing table in one assignment. :meth:`FlowRegistry.resolve` reads that table without a lock:
a new call gets whatever version is live at that instant and keeps it until it ends.

Every publish, rollback and refusal writes an audit row. The database is the truth: at start-up
:meth:`FlowRegistry.restore` brings back each flow's live version from its stored IR (no
recompiling), and a notification from another node makes this one re-read the flow that moved.

    registry = FlowRegistry(database, lambda: env, LocalNotifier(), prerender, routes=cfg.routes)
    await registry.restore()
    await registry.load_directory(["flows"])
    live = registry.resolve("95598")   # LiveFlow | None

Compiling. A compile is pure Python (~20-30 ms for the 95598 flow) and would hold the GIL that
long: in a thread it stalls the event loop's socket writes while calls are up. So sources are
compiled in one worker process (``spawn``ed at the first compile, shared by the registries of a
process, shut down when the last of them is closed), and the result (IR, diagnostics) comes
back pickled. If that process cannot be started or dies, or the plugin environment cannot be
pickled, the compile runs in a thread as before; a warning says so once, and after a failure of
the process every later compile of this process uses the thread. A program that creates a
registry must guard its entry point with ``if __name__ == "__main__":`` (the multiprocessing
rule for ``spawn``; ``coreswitch serve`` does).

Each registry also remembers its last compiles by (SHA-256 of the source, plugin environment):
republishing a source it has compiled before — alternating versions, a ``--watch`` save without
a change, a refused source sent again — takes the IR or the very same diagnostics from memory
without compiling. An environment that compares unequal (a plugin added a function) compiles
again.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import logging
import multiprocessing
import pickle
import re
import signal
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coreswitch.flows.errors import UnknownFlow, UnknownVersion
from coreswitch.flows.live import IR, DnisConflict, LiveFlow, RoutingTable, build_table
from coreswitch.flows.notifier import Notifier
from coreswitch.flows.result import (
    PublishResult,
    PublishStatus,
    Refusal,
    Validation,
    VersionInfo,
)
from coreswitch.store import Database, FlowVersion, audit
from coreswitch.store import flows as stored_flows
from dsl import IR_VERSION, Diagnostic, Environment, compile_source

log = logging.getLogger("coreswitch.flows")

EnvProvider = Callable[[], Environment]
#: ``await prerender(ir)`` renders a flow's prompts before it goes live; raising refuses it.
Prerender = Callable[[IR], Awaitable[None]]

_HEADER = re.compile(r"^flow\s+([^\s:]+)\s*:", re.MULTILINE)
_WHO_MAX = 200
_STORE_ATTEMPTS = 3
#: how many compiles a registry remembers (each an IR of some 100-300 KiB in memory)
COMPILE_MEMO_SIZE = 32

Compiled = tuple[IR | None, tuple[Diagnostic, ...]]


class FlowCompiler(Protocol):
    """Compiles a flow source off the event loop: ``dsl.compile_source``'s answer."""

    async def compile(self, source: str, env: Environment) -> Compiled: ...

    def close(self) -> None:
        """The registry using it is closed."""


async def compile_in_thread(source: str, env: Environment) -> Compiled:
    """``dsl.compile_source`` on a thread of the default executor."""
    ir, diags = await asyncio.to_thread(compile_source, source, env)
    return ir, tuple(diags)


class ThreadCompiler:
    """Compiles on a thread (holds the GIL while it compiles; see the module docstring)."""

    async def compile(self, source: str, env: Environment) -> Compiled:
        return await compile_in_thread(source, env)

    def close(self) -> None:
        """Nothing to release."""


def spawn_compile_pool() -> Executor:
    """One ``spawn``ed worker process that ignores SIGINT (the server handles Ctrl-C and closes
    the pool; the worker must not die of it first)."""
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=signal.signal,
                               initargs=(signal.SIGINT, signal.SIG_IGN))


class ProcessCompiler:
    """Compiles in a worker process made by ``pool_factory`` (lazily, at the first compile), in a
    thread when that is not possible (see the module docstring).

    Shared: each user takes a :meth:`lease` and closes it; the pool is shut down when the last
    lease is closed (and made again if a compile comes later).
    """

    def __init__(self, pool_factory: Callable[[], Executor] = spawn_compile_pool) -> None:
        self._factory = pool_factory
        self._pool: Executor | None = None
        self._leases = 0
        self.failed: str | None = None  # why compiles run in a thread from now on
        self._warned_env = False

    def lease(self) -> _Lease:
        self._leases += 1
        return _Lease(self)

    async def compile(self, source: str, env: Environment) -> Compiled:
        usable = self.failed is None and self._picklable(env)
        pool = self._get_pool() if usable else None
        if pool is not None:
            try:
                future = pool.submit(compile_source, source, env)
            except (BrokenExecutor, RuntimeError, OSError) as exc:  # RuntimeError: shut down
                self._give_up(pool, exc)
            else:
                try:
                    ir, diags = await asyncio.wrap_future(future)
                except BrokenExecutor as exc:  # the worker died (killed, out of memory)
                    self._give_up(pool, exc)
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is None or task.cancelling() or not future.cancelled():
                        raise
                    # not us: the pool was shut down (last lease closed) before it ran this
                else:
                    return ir, tuple(diags)
        return await compile_in_thread(source, env)

    def close(self) -> None:
        """Shut the pool down now, whoever holds a lease (a running compile finishes)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def _release(self) -> None:
        self._leases -= 1
        if self._leases <= 0:
            self._leases = 0
            self.close()

    def _get_pool(self) -> Executor | None:
        if self.failed is not None:
            return None
        if self._pool is None:
            try:
                self._pool = self._factory()
            except Exception as exc:  # no working semaphores, no fork/exec, ...
                self._give_up(None, exc)
                return None
        return self._pool

    def _picklable(self, env: Environment) -> bool:
        try:
            pickle.dumps(env)
        except Exception as exc:  # a plugin's function given as a lambda, say
            if not self._warned_env:
                self._warned_env = True
                log.warning("flow compiles run in a thread: the plugin environment cannot be "
                            "sent to the compile process (%s: %s)", type(exc).__name__, exc)
            return False
        return True

    def _give_up(self, pool: Executor | None, exc: BaseException) -> None:
        self.failed = f"{type(exc).__name__}: {exc}"
        log.warning("flow compiles run in a thread from now on: the compile process failed "
                    "(%s)", self.failed)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
            if self._pool is pool:
                self._pool = None


class _Lease:
    """One user's handle on a shared :class:`ProcessCompiler`; ``close`` once."""

    def __init__(self, owner: ProcessCompiler) -> None:
        self._owner: ProcessCompiler | None = owner

    async def compile(self, source: str, env: Environment) -> Compiled:
        if self._owner is None:
            return await compile_in_thread(source, env)  # closed: still answer
        return await self._owner.compile(source, env)

    def close(self) -> None:
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._release()


#: the compile process shared by every registry of this process that was given no compiler
SHARED_COMPILER = ProcessCompiler()


@dataclass
class _Memo:
    """A remembered compile: the environment it was compiled against and its answer."""

    env: Environment
    ir: IR | None
    diagnostics: tuple[Diagnostic, ...]
    ir_json: str | None = field(default=None, repr=False)  # the stored form, once made


def _snapshot(env: Environment) -> Environment:
    """``env`` with its mappings copied: a plugin adding to them later makes it compare unequal
    to what a remembered compile used."""
    return replace(env, functions=None if env.functions is None else dict(env.functions),
                   verbs=dict(env.verbs), expr_functions=dict(env.expr_functions))


def header_name(source: str) -> str | None:
    """The name in a source's ``flow NAME:`` header, found without parsing (or None)."""
    match = _HEADER.search(source)
    return match.group(1) if match else None


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Every ``*.flow`` file (not ``*.test.flow``) under ``paths``, sorted; missing ones skipped."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        candidates = sorted(path.rglob("*.flow")) if path.is_dir() else [path]
        found.extend(p for p in candidates
                     if p.is_file() and p.name.endswith(".flow")
                     and not p.name.endswith(".test.flow"))
    return found


@dataclass(frozen=True)
class LoadOutcome:
    """What :meth:`FlowRegistry.load_directory` did with one file."""

    path: Path
    result: PublishResult


@dataclass(frozen=True)
class _Stored:
    """A flow_versions row, copied out of the database thread."""

    id: int
    name: str
    version: int
    source: str
    ir_json: str
    content_hash: str

    @staticmethod
    def of(row: FlowVersion) -> _Stored:
        return _Stored(row.id, row.name, row.version, row.source, row.ir_json, row.content_hash)


class FlowRegistry:
    """Live flows by DNIS, their stored versions, and the operations that change them."""

    def __init__(self, database: Database, env_provider: EnvProvider, notifier: Notifier,
                 prerender: Prerender | None = None, *,
                 routes: Mapping[str, str] | None = None,
                 compiler: FlowCompiler | None = None) -> None:
        """``compiler`` (closed with the registry) defaults to a lease on the process-wide
        compile process :data:`SHARED_COMPILER`."""
        self._db = database
        self._compiler: FlowCompiler = compiler or SHARED_COMPILER.lease()
        self._compiled: OrderedDict[str, _Memo] = OrderedDict()
        self._env = env_provider
        self._notifier = notifier
        self._prerender = prerender
        self._configured = {str(k): str(v) for k, v in (routes or {}).items()}
        self._table = build_table((), self._configured)
        self._lock = asyncio.Lock()
        self._unsubscribe = notifier.subscribe(self._on_changed)

    # -- reading: synchronous and lock-free --------------------------------------------------

    def resolve(self, dnis: str) -> LiveFlow | None:
        """The flow a new call to ``dnis`` runs, or None. Keep it for the call's life."""
        return self._table.routes.get(dnis)

    def get(self, name: str) -> LiveFlow | None:
        return self._table.flows.get(name)

    def flows(self) -> tuple[LiveFlow, ...]:
        """The live version of every flow, by name."""
        return tuple(self._table.flows.values())

    @property
    def table(self) -> RoutingTable:
        """The current routing table (immutable; replaced on every change)."""
        return self._table

    # -- checking ----------------------------------------------------------------------------

    async def validate(self, source: str, *, filename: str = "<source>") -> Validation:
        """Check and compile ``source`` without publishing it."""
        memo = await self._compile(source)
        ir, diags = memo.ir, memo.diagnostics
        return Validation(name=ir["name"] if ir else header_name(source),
                          content_hash=ir["content_hash"] if ir else None,
                          diagnostics=diags, source=source, filename=filename)

    # -- changing ----------------------------------------------------------------------------

    async def publish(self, name: str, source: str, who: str, note: str = "", *,
                      filename: str | None = None) -> PublishResult:
        """Publish ``source`` as the next version of flow ``name`` and make it live."""
        async with self._lock:
            result = await self._publish(name, source, who, note, filename or f"{name}.flow")
        await self._announce(result)
        return result

    async def publish_file(self, path: str | Path, who: str, note: str = "") -> PublishResult:
        """Publish a ``.flow`` file under the name its header declares."""
        path = Path(path)
        async with self._lock:
            source_or_refusal = await _read(path)
            if isinstance(source_or_refusal, PublishResult):
                result = await self._refuse(source_or_refusal, who, "publish")
            else:
                result = await self._publish(None, source_or_refusal, who, note, str(path))
        await self._announce(result)
        return result

    async def rollback(self, name: str, to_version: int, who: str) -> PublishResult:
        """Make stored version ``to_version`` of ``name`` live again.

        Raises :class:`UnknownFlow` / :class:`UnknownVersion`; a DNIS conflict or a prerender
        failure refuses it (status ``refused``) and the live version stays.
        """
        async with self._lock:
            result = await self._rollback(name, to_version, who)
        await self._announce(result)
        return result

    async def load_directory(self, paths: Iterable[str | Path], *, who: str = "startup"
                             ) -> list[LoadOutcome]:
        """Publish every flow file under ``paths`` (start-up). Never raises for a bad file.

        A file whose exact source is already stored is not republished: if it is the live
        version nothing happens, and if an operator has since rolled back or published another
        version, that choice stays live. Files failing the checker are refused and reported.
        """
        outcomes: list[LoadOutcome] = []
        seen: dict[str, Path] = {}
        for path in await asyncio.to_thread(discover, list(paths)):
            async with self._lock:
                result = await self._load_file(path, who, seen)
            await self._announce(result)
            _log_result(path, result)
            outcomes.append(LoadOutcome(path, result))
        return outcomes

    async def restore(self) -> tuple[LiveFlow, ...]:
        """Bring back the live version of every flow from the database (after a restart)."""
        async with self._lock:
            rows = await self._db.run(
                lambda s: [_Stored.of(r) for r in stored_flows.live_versions(s)])
            live: list[LiveFlow] = []
            for stored in rows:
                flow = await self._live_from(stored)
                if flow is None:
                    continue
                try:
                    build_table([*live, flow], self._configured)
                except DnisConflict as exc:
                    log.error("flow %s version %d not restored: %s", flow.name, flow.version, exc)
                    continue
                live.append(flow)
            self._table = build_table(live, self._configured)
        for number, name in self._table.dangling.items():
            log.warning("[flows].routes sends DNIS %s to flow '%s', which is not published",
                        number, name)
        return tuple(live)

    async def refresh(self, name: str) -> LiveFlow | None:
        """Re-read flow ``name``'s live version from the database (another node moved it)."""
        async with self._lock:
            row = await self._db.run(
                lambda s: _opt(stored_flows.live_version(s, name)))
            current = self._table.flows.get(name)
            if row is None or (current is not None and current.version_id == row.id):
                return current
            flow = await self._live_from(row)
            if flow is None:
                return current
            try:
                self._swap(flow)
            except DnisConflict as exc:
                log.error("flow %s version %d not taken live here: %s", name, row.version, exc)
                return current
            log.info("flow %s version %d is live (changed elsewhere)", name, row.version)
            return flow

    def close(self) -> None:
        """Stop listening to the notifier; release the compile process."""
        self._unsubscribe()
        self._compiler.close()

    # -- history -----------------------------------------------------------------------------

    async def versions(self, name: str) -> list[VersionInfo]:
        """Every stored version of ``name``, oldest first. Raises :class:`UnknownFlow`."""
        def work(session: Session) -> list[VersionInfo]:
            rows = stored_flows.list_versions(session, name)
            if not rows:
                raise UnknownFlow(name)
            live = stored_flows.live_version(session, name)
            return [_info(r, live_id=live.id if live else None) for r in rows]
        return await self._db.run(work)

    async def version(self, name: str, version: int) -> VersionInfo:
        """One stored version with its source.

        Raises :class:`UnknownFlow` or :class:`UnknownVersion`.
        """
        def work(session: Session) -> VersionInfo:
            row = _get_version(session, name, version)
            live = stored_flows.live_version(session, name)
            return _info(row, live_id=live.id if live else None, with_source=True)
        return await self._db.run(work)

    async def diff(self, name: str, a: int, b: int) -> str:
        """A unified diff of the sources of versions ``a`` and ``b`` of ``name``."""
        def work(session: Session) -> tuple[str, str]:
            return (_get_version(session, name, a).source, _get_version(session, name, b).source)
        old, new = await self._db.run(work)
        return "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"{name}@{a}", tofile=f"{name}@{b}"))

    # -- internals ---------------------------------------------------------------------------

    async def _compile(self, source: str) -> _Memo:
        """The compile of ``source`` against the current environment, remembered or made."""
        env = self._env()
        key = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
        memo = self._compiled.get(key)
        if memo is not None and memo.env == env:
            self._compiled.move_to_end(key)
            return memo
        snapshot = _snapshot(env)
        ir, diags = await self._compiler.compile(source, env)
        memo = _Memo(snapshot, ir, diags)
        self._compiled[key] = memo
        self._compiled.move_to_end(key)
        while len(self._compiled) > COMPILE_MEMO_SIZE:
            self._compiled.popitem(last=False)
        return memo

    async def _publish(self, name: str | None, source: str, who: str, note: str,
                       filename: str) -> PublishResult:
        memo = await self._compile(source)
        ir, diags = memo.ir, memo.diagnostics
        shown = name or (ir["name"] if ir else None) or header_name(source) or filename
        result = PublishResult(PublishStatus.REFUSED, shown, diagnostics=diags, source=source,
                               filename=filename)
        live = self._table.flows.get(shown)
        stays = f"; live version {live.version} stays" if live else ""
        if live is not None:
            result = replace(result, version=live.version, content_hash=live.content_hash)
        if ir is None:
            n = sum(1 for d in diags if d.is_error)
            return await self._refuse(replace(
                result, refusal=Refusal.CHECKER,
                message=f"refused: {n} error{'s' * (n != 1)} in {filename}{stays}"), who, "publish")
        if ir["name"] != shown:
            return await self._refuse(replace(
                result, refusal=Refusal.NAME,
                message=f"refused: the source declares flow '{ir['name']}', not '{shown}'"
                        f"{stays}"), who, "publish")
        content_hash: str = ir["content_hash"]
        if live is not None and live.content_hash == content_hash:
            return replace(result, status=PublishStatus.UNCHANGED,
                           message=f"unchanged: version {live.version} of {shown} has this "
                                   "content and is live")
        candidate = LiveFlow(shown, 0, 0, content_hash, ir)
        refused = await self._vet(candidate, result, who, "publish", stays)
        if refused is not None:
            return refused
        if memo.ir_json is None:
            memo.ir_json = json.dumps(ir, ensure_ascii=False, sort_keys=True,
                                      separators=(",", ":"))
        ir_json = memo.ir_json
        previous = live.version if live else None

        def store(session: Session) -> tuple[int, int]:
            row = stored_flows.add_version(session, name=shown, source=source, ir_json=ir_json,
                                           content_hash=content_hash, who=who[:_WHO_MAX],
                                           note=note)
            stored_flows.set_live(session, row, who[:_WHO_MAX])
            audit.append(session, who=who[:_WHO_MAX], action="flow.publish",
                         subject=f"flow:{shown}",
                         detail={"version": row.version, "content_hash": content_hash,
                                 "previous_version": previous, "note": note})
            return row.id, row.version

        for attempt in range(_STORE_ATTEMPTS):
            try:
                version_id, version = await self._db.run(store)
                break
            except IntegrityError:  # another node took this version number meanwhile
                if attempt == _STORE_ATTEMPTS - 1:
                    raise
        self._swap(replace(candidate, version=version, version_id=version_id))
        return replace(result, status=PublishStatus.PUBLISHED, version=version,
                       content_hash=content_hash, previous_version=previous,
                       message=f"published {shown} version {version}")

    async def _rollback(self, name: str, to_version: int, who: str) -> PublishResult:
        stored = await self._db.run(lambda s: _Stored.of(_get_version(s, name, to_version)))
        live = self._table.flows.get(name)
        result = PublishResult(PublishStatus.REFUSED, name, source=stored.source,
                               filename=f"{name}@{to_version}",
                               version=live.version if live else None,
                               content_hash=live.content_hash if live else None,
                               previous_version=live.version if live else None)
        stays = f"; live version {live.version} stays" if live else ""
        if live is not None and live.version_id == stored.id:
            return replace(result, status=PublishStatus.UNCHANGED,
                           message=f"unchanged: version {to_version} of {name} is already live")
        ir, diags = await self._ir_of(stored)
        if ir is None:
            return await self._refuse(replace(
                result, refusal=Refusal.CHECKER, diagnostics=diags,
                message=f"refused: version {to_version} no longer compiles{stays}"),
                who, "rollback")
        candidate = LiveFlow(name, stored.version, stored.id, stored.content_hash, ir)
        refused = await self._vet(candidate, result, who, "rollback", stays)
        if refused is not None:
            return refused
        previous = live.version if live else None

        def store(session: Session) -> None:
            row = _get_version(session, name, to_version)
            stored_flows.set_live(session, row, who[:_WHO_MAX])
            audit.append(session, who=who[:_WHO_MAX], action="flow.rollback",
                         subject=f"flow:{name}",
                         detail={"version": to_version, "content_hash": stored.content_hash,
                                 "previous_version": previous})

        await self._db.run(store)
        self._swap(candidate)
        return replace(result, status=PublishStatus.ROLLED_BACK, version=to_version,
                       content_hash=stored.content_hash,
                       message=f"rolled back {name} to version {to_version}"
                               + (f" (was {previous})" if previous else ""))

    async def _vet(self, candidate: LiveFlow, result: PublishResult, who: str, operation: str,
                   stays: str) -> PublishResult | None:
        """Refuse ``candidate`` for a DNIS conflict or a failed prerender (None: go ahead)."""
        try:
            self._table_with(candidate)
        except DnisConflict as exc:
            return await self._refuse(replace(result, refusal=Refusal.DNIS,
                                              message=f"refused: {exc}{stays}"), who, operation)
        if self._prerender is not None:
            try:
                await self._prerender(candidate.ir)
            except Exception as exc:
                log.exception("prerendering flow %s failed", candidate.name)
                return await self._refuse(replace(
                    result, refusal=Refusal.PRERENDER,
                    message=f"refused: prompts could not be pre-rendered: {exc}{stays}"),
                    who, operation)
        return None

    async def _refuse(self, result: PublishResult, who: str, operation: str) -> PublishResult:
        detail: dict[str, Any] = {
            "operation": operation,
            "refusal": result.refusal.value if result.refusal else None,
            "message": result.message,
            "errors": [{"code": d.code, "line": d.span.line, "col": d.span.col,
                        "message": d.message} for d in result.errors],
        }
        await self._db.run(lambda s: audit.append(
            s, who=who[:_WHO_MAX], action="flow.refused", subject=f"flow:{result.name}",
            detail=detail))
        return result

    async def _load_file(self, path: Path, who: str, seen: dict[str, Path]) -> PublishResult:
        source = await _read(path)
        if isinstance(source, PublishResult):
            return await self._refuse(source, who, "load")
        guess = header_name(source)
        if guess is not None:
            first = seen.get(guess)
            if first is not None:
                return await self._refuse(PublishResult(
                    PublishStatus.REFUSED, guess, refusal=Refusal.DUPLICATE, filename=str(path),
                    message=f"refused: flow '{guess}' is already loaded from {first}"),
                    who, "load")
            seen[guess] = path
            known = await self._db.run(
                lambda s: _opt(stored_flows.find_by_source(s, guess, source)))
            live = self._table.flows.get(guess)
            if known is not None and live is not None:
                text = (f"unchanged: version {live.version} of {guess} is live"
                        if live.version_id == known.id else
                        f"unchanged: {path} is stored version {known.version}; version "
                        f"{live.version}, made live since, stays live")
                return PublishResult(PublishStatus.UNCHANGED, guess, version=live.version,
                                     content_hash=live.content_hash, message=text,
                                     filename=str(path), source=source)
        return await self._publish(None, source, who, "", str(path))

    async def _ir_of(self, stored: _Stored) -> tuple[IR | None, tuple[Diagnostic, ...]]:
        """A stored version's IR, recompiled from its source only if the IR format changed."""
        try:
            ir = json.loads(stored.ir_json)
        except ValueError:
            ir = None
        if (isinstance(ir, dict) and ir.get("ir_version") == IR_VERSION
                and ir.get("content_hash") == stored.content_hash):
            return ir, ()
        log.warning("flow %s version %d: stored IR is from another compiler; recompiling",
                    stored.name, stored.version)
        memo = await self._compile(stored.source)
        return memo.ir, memo.diagnostics

    async def _live_from(self, stored: _Stored) -> LiveFlow | None:
        ir, diags = await self._ir_of(stored)
        if ir is None:
            log.error("flow %s version %d no longer compiles: %s", stored.name, stored.version,
                      "; ".join(f"{d.code} {d.message}" for d in diags if d.is_error))
            return None
        return LiveFlow(stored.name, stored.version, stored.id, ir["content_hash"], ir)

    def _table_with(self, flow: LiveFlow) -> RoutingTable:
        others = [f for f in self._table.flows.values() if f.name != flow.name]
        return build_table([*others, flow], self._configured)

    def _swap(self, flow: LiveFlow) -> None:
        self._table = self._table_with(flow)  # the one assignment readers can observe

    async def _announce(self, result: PublishResult) -> None:
        if result.status in (PublishStatus.PUBLISHED, PublishStatus.ROLLED_BACK):
            assert result.version is not None
            await self._notifier.publish_changed(result.name, result.version)

    async def _on_changed(self, name: str, version: int) -> None:
        current = self._table.flows.get(name)
        if current is not None and current.version == version:
            return  # our own announcement, or already seen
        await self.refresh(name)


async def _read(path: Path) -> str | PublishResult:
    try:
        return await asyncio.to_thread(path.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return PublishResult(PublishStatus.REFUSED, path.stem, refusal=Refusal.UNREADABLE,
                             filename=str(path), message=f"refused: cannot read {path}: {reason}")


def _opt(row: FlowVersion | None) -> _Stored | None:
    return None if row is None else _Stored.of(row)


def _get_version(session: Session, name: str, version: int) -> FlowVersion:
    row = stored_flows.get_version(session, name, version)
    if row is not None:
        return row
    rows = stored_flows.list_versions(session, name)
    if not rows:
        raise UnknownFlow(name)
    raise UnknownVersion(name, version, rows[-1].version)


def _info(row: FlowVersion, *, live_id: int | None, with_source: bool = False) -> VersionInfo:
    return VersionInfo(name=row.name, version=row.version, version_id=row.id,
                       content_hash=row.content_hash, published_by=row.published_by,
                       published_at=row.published_at, note=row.note, live=row.id == live_id,
                       source=row.source if with_source else None)


def _log_result(path: Path, result: PublishResult) -> None:
    if result.ok:
        log.info("%s: %s", path, result.message)
        return
    log.error("%s: %s", path, result.message)
    for text in result.rendered():
        log.error("%s", text)
