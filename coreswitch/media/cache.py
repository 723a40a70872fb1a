"""The TTS cache: text → WAV file, rendered once, on one worker thread, never on the event loop.

A prompt's file is ``<cache_dir>/<ab>/<hash>.wav`` where ``hash`` is the SHA-256 of the canonical
JSON of (engine name, voice, rate, text, format) and ``ab`` its first two hex digits. Files are
written to a temporary name beside their final one, checked (RIFF/WAVE, mono, 16-bit PCM, not
empty), flushed to disk and moved into place with ``os.replace``: a crash or a failing engine never
leaves a half file under a final name. Concurrent requests for the same prompt share one render.

Every engine call runs on the cache's single worker thread (``loop.run_in_executor``), since
pyttsx3 is not thread-safe; each is bounded by ``timeout``. A flow's prompts are all rendered by
:meth:`TtsCache.prerender` when it is published, so calls normally only hit the cache.

A hit costs no hashing and no file system call: the cache remembers, in a bounded LRU memo,
the file of every (text, voice, rate) it has rendered or found on disk (``memo_size`` entries,
20,000 by default, about 0.7 KiB each: at most ~13 MiB). A remembered file is looked at again
once its entry is ``memo_ttl`` seconds old (30 by default), so a file deleted behind the cache's
back (an operator emptying the directory) is rendered again within that time; until then
FreeSWITCH is told to play a file that is gone. :meth:`TtsCache.prune` empties the memo, and so
does :meth:`TtsCache.forget` (call it after removing files by hand).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from coreswitch.media.engine import WAV, TtsEngine, Voice
from coreswitch.media.errors import PrerenderError, TtsRenderError, TtsTimeout
from coreswitch.media.wavfile import probe_wav

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: called with (0, total) first, then once per finished prompt."""

_T = TypeVar("_T")
_TEMP_MARK = ".tmp-"
_STALE_TEMP_SECONDS = 3600.0
MEMO_SIZE = 20_000
MEMO_TTL = 30.0


@dataclass(frozen=True, slots=True)
class Prompt:
    """One thing to say: the unit the cache renders and a flow's pre-render list is made of."""

    text: str
    voice: str
    rate: int


@dataclass(slots=True)
class CacheStats:
    """Counters since the cache was created."""

    hits: int = 0  # the file was already there (memo hits included)
    memo_hits: int = 0  # hits answered from memory: no hashing, no stat
    misses: int = 0  # a render was started
    joined: int = 0  # waited for a render another request had started (in-flight dedupe)
    rendered: int = 0  # renders that produced a file
    failures: int = 0  # renders that raised or timed out


def cache_key(engine: str, voice: str, rate: int, text: str, fmt: str) -> str:
    """SHA-256 hex of the canonical (engine, voice, rate, text, format); text is NFC-normalised."""
    canonical = json.dumps([engine, voice, int(rate), unicodedata.normalize("NFC", text), fmt],
                           ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class TtsCache:
    """Renders prompts through ``engine`` into ``cache_dir``; one instance per process and engine.

    Use from one event loop. ``timeout`` bounds each render as seen by the caller (the engine bounds
    its own work too). ``max_pending`` bounds how many prerender jobs wait on the worker at once.
    ``memo_size`` and ``memo_ttl`` bound the memo of known files (see the module docstring; 0
    turns it off); ``clock`` is the monotonic clock the memo's ages are measured with.
    """

    def __init__(self, cache_dir: str | Path, engine: TtsEngine, *, fmt: str = WAV,
                 timeout: float = 30.0, max_pending: int = 8, memo_size: int = MEMO_SIZE,
                 memo_ttl: float = MEMO_TTL, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.cache_dir = Path(cache_dir)
        self.engine = engine
        self.fmt = fmt
        self.timeout = timeout
        self.max_pending = max_pending
        self.stats = CacheStats()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coreswitch-tts")
        self._inflight: dict[str, asyncio.Task[Path]] = {}
        self.memo_size = memo_size
        self.memo_ttl = memo_ttl
        self._clock = clock
        #: (text, voice, rate) → (file, when it was last known to exist), least recent first
        self._memo: OrderedDict[tuple[str, str, int], tuple[Path, float]] = OrderedDict()

    # ---- lookup -------------------------------------------------------------------------------

    def key(self, text: str, voice: str, rate: int) -> str:
        return cache_key(self.engine.name, voice, rate, text, self.fmt)

    def path_for(self, text: str, voice: str, rate: int) -> Path:
        """Where the prompt's file is (or will be); no I/O."""
        return self._path(self.key(text, voice, rate))

    def _path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.{self.fmt}"

    # ---- rendering ----------------------------------------------------------------------------

    async def render(self, text: str, voice: str, rate: int) -> Path:
        """The prompt's file, rendering it on the worker thread if it is not cached yet.

        Raises :class:`~coreswitch.media.errors.TtsError` subclasses (or ``ValueError`` for empty
        text); a failed render is not cached, so the next request tries again.
        """
        known = self._recall(text, voice, rate)
        if known is not None:
            return known
        if not text.strip():
            raise ValueError("nothing to say: empty text")
        key = self.key(text, voice, rate)
        task = self._inflight.get(key)
        if task is not None:
            self.stats.joined += 1
            return await asyncio.shield(task)
        path = self._path(key)
        if path.is_file():  # one stat; synthesis itself never runs on the loop
            self.stats.hits += 1
            self._remember((text, voice, rate), path)
            return path
        self.stats.misses += 1
        task = asyncio.get_running_loop().create_task(self._render_new(text, voice, rate, path))
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._settled(key, (text, voice, rate), t))
        return await asyncio.shield(task)

    def forget(self) -> None:
        """Drop the memo of known files: the next request for each prompt checks the disk."""
        self._memo.clear()

    def _recall(self, text: str, voice: str, rate: int) -> Path | None:
        """The remembered file of a prompt, if it was known to exist less than ``memo_ttl``
        seconds ago (counted as a hit); None otherwise."""
        entry = self._memo.get((text, voice, rate))
        if entry is None:
            return None
        path, seen = entry
        if self._clock() - seen >= self.memo_ttl:
            return None  # old: the caller looks at the disk again (and remembers anew)
        self._memo.move_to_end((text, voice, rate))
        self.stats.hits += 1
        self.stats.memo_hits += 1
        return path

    def _remember(self, memo_key: tuple[str, str, int], path: Path) -> None:
        if self.memo_size <= 0:
            return
        self._memo[memo_key] = (path, self._clock())
        self._memo.move_to_end(memo_key)
        while len(self._memo) > self.memo_size:
            self._memo.popitem(last=False)

    async def prerender(self, items: Iterable[Prompt],
                        progress: ProgressCallback | None = None) -> dict[Prompt, Path]:
        """Render every prompt (duplicates once), reporting ``progress(done, total)``.

        All prompts are attempted; if any fail, :class:`PrerenderError` lists them all.
        """
        unique = list(dict.fromkeys(items))
        total, done = len(unique), 0
        results: dict[Prompt, Path] = {}
        failures: list[tuple[str, BaseException]] = []
        gate = asyncio.Semaphore(self.max_pending)
        if progress is not None:
            progress(0, total)
        pending: list[Prompt] = []
        for prompt in unique:  # known prompts (a republish): no task, no hashing, no stat
            known = self._recall(prompt.text, prompt.voice, prompt.rate)
            if known is None:
                pending.append(prompt)
                continue
            results[prompt] = known
            done += 1
            if progress is not None:
                progress(done, total)

        async def one(prompt: Prompt) -> None:
            nonlocal done
            async with gate:
                try:
                    results[prompt] = await self.render(prompt.text, prompt.voice, prompt.rate)
                except Exception as exc:  # a plugin engine may raise anything: report, go on
                    failures.append((prompt.text, exc))
            done += 1
            if progress is not None:
                progress(done, total)

        await asyncio.gather(*(one(p) for p in pending))
        if failures:
            raise PrerenderError(failures, total)
        return results

    async def voices(self) -> Sequence[Voice]:
        """The engine's voices (asked on the worker thread)."""
        return await self._on_worker(self.engine.voices)

    async def _render_new(self, text: str, voice: str, rate: int, path: Path) -> Path:
        temp = path.with_name(f"{path.name}{_TEMP_MARK}{secrets.token_hex(4)}")

        def work() -> Path:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.engine.render(text, voice, rate, temp, self.fmt)
                try:
                    probe_wav(temp, require_speech_format=True)
                except (OSError, ValueError) as exc:
                    raise TtsRenderError(f"{self.engine.name} wrote no playable WAV for "
                                         f"{text[:40]!r}: {exc}") from exc
                with temp.open("rb+") as f:
                    os.fsync(f.fileno())
                os.replace(temp, path)
            finally:
                temp.unlink(missing_ok=True)
            return path

        try:
            result = await self._on_worker(work)
        except BaseException:
            self.stats.failures += 1
            raise
        self.stats.rendered += 1
        return result

    def _settled(self, key: str, memo_key: tuple[str, str, int], task: asyncio.Task[Path]
                 ) -> None:
        self._inflight.pop(key, None)
        if not task.cancelled() and task.exception() is None:  # retrieved: awaiters may be gone
            self._remember(memo_key, task.result())

    async def _on_worker(self, fn: Callable[[], _T]) -> _T:
        future = asyncio.get_running_loop().run_in_executor(self._worker, fn)
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise TtsTimeout(f"TTS worker gave no answer within {self.timeout:g}s") from None

    # ---- housekeeping -------------------------------------------------------------------------

    async def prune(self, max_bytes: int) -> int:
        """Delete the oldest cached files until the cache holds at most ``max_bytes``, and
        temporary files left by a crash; returns how many files were removed. Runs on the worker,
        so it never races a render; the memo of known files is dropped afterwards."""
        try:
            return await self._on_worker(lambda: _prune(self.cache_dir, max_bytes))
        finally:
            self.forget()

    def close(self) -> None:
        """Stop the worker thread (pending renders are cancelled; a running one finishes)."""
        self._worker.shutdown(wait=False, cancel_futures=True)


def _prune(cache_dir: Path, max_bytes: int) -> int:
    removed = 0
    now = time.time()
    files: list[tuple[float, int, Path]] = []
    for path in cache_dir.glob("??/*"):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        if _TEMP_MARK in path.name:
            if now - st.st_mtime > _STALE_TEMP_SECONDS:
                path.unlink(missing_ok=True)
                removed += 1
            continue
        files.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed
