"""TtsCache: keys, hits, in-flight dedupe, atomic writes, the worker thread, prerender."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from coreswitch.media.cache import Prompt, TtsCache, cache_key
from coreswitch.media.engine import TtsEngine
from coreswitch.media.errors import PrerenderError, TtsRenderError, TtsTimeout, UnknownVoice
from coreswitch.media.wavfile import probe_wav

from .conftest import BrokenEngine, CountingEngine, GatedEngine

CacheFactory = Callable[..., TtsCache]


@pytest.fixture
async def make_cache(tmp_path: Path) -> AsyncIterator[CacheFactory]:
    caches: list[TtsCache] = []

    def make(engine: TtsEngine, **kwargs: float) -> TtsCache:
        cache = TtsCache(tmp_path / "tts", engine, **kwargs)  # type: ignore[arg-type]
        caches.append(cache)
        return cache

    yield make
    for cache in caches:
        cache.close()


def files_in(cache: TtsCache) -> list[Path]:
    return sorted(p for p in cache.cache_dir.rglob("*") if p.is_file())


def test_key_covers_every_field() -> None:
    base = cache_key("e", "zh", 160, "您好", "wav")
    assert len(base) == 64
    assert base == cache_key("e", "zh", 160, "您好", "wav")
    others = {cache_key("f", "zh", 160, "您好", "wav"), cache_key("e", "en", 160, "您好", "wav"),
              cache_key("e", "zh", 170, "您好", "wav"), cache_key("e", "zh", 160, "您好。", "wav"),
              cache_key("e", "zh", 160, "您好", "raw")}
    assert base not in others
    assert len(others) == 5
    # Canonical text: NFC and NFD spellings of the same text share a file.
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    assert cache_key("e", "en", 1, nfc, "wav") == cache_key("e", "en", 1, nfd, "wav")


async def test_layout_and_hit(make_cache: CacheFactory, counting: CountingEngine) -> None:
    cache = make_cache(counting)
    first = await cache.render("您好，请按一。", "zh", 160)
    key = cache.key("您好，请按一。", "zh", 160)
    assert first == cache.cache_dir / key[:2] / f"{key}.wav"
    assert probe_wav(first, require_speech_format=True).duration > 0.5
    second = await cache.render("您好，请按一。", "zh", 160)
    assert second == first
    assert counting.calls == ["您好，请按一。"]
    assert (cache.stats.hits, cache.stats.misses, cache.stats.rendered) == (1, 1, 1)
    assert files_in(cache) == [first]


async def test_renders_on_one_worker_thread(make_cache: CacheFactory,
                                            counting: CountingEngine) -> None:
    cache = make_cache(counting)
    for text in ("one", "two", "three"):
        await cache.render(text, "en", 160)
    assert len(counting.threads) == 1
    assert threading.get_ident() not in counting.threads


async def test_event_loop_keeps_running_during_a_render(make_cache: CacheFactory,
                                                        gated: GatedEngine) -> None:
    # The engine blocks until the heartbeat has ticked on the loop: a render on the event loop
    # would deadlock here (and fail after the gate's bound) instead of finishing.
    cache = make_cache(gated)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        await asyncio.to_thread(gated.started.wait, 5)
        for _ in range(5):
            ticks += 1
            await asyncio.sleep(0)
        gated.gate.set()

    path, _ = await asyncio.gather(cache.render("心跳测试", "zh", 160), heartbeat())
    assert ticks == 5
    assert path.is_file()


async def test_concurrent_requests_render_once(make_cache: CacheFactory,
                                               gated: GatedEngine) -> None:
    cache = make_cache(gated)
    requests = [asyncio.ensure_future(cache.render("同一句话", "zh", 160)) for _ in range(10)]
    await asyncio.to_thread(gated.started.wait, 5)
    gated.gate.set()
    paths = await asyncio.gather(*requests)
    assert len(set(paths)) == 1
    assert gated.calls == ["同一句话"]
    assert (cache.stats.misses, cache.stats.joined, cache.stats.rendered) == (1, 9, 1)


async def test_cancelled_waiter_does_not_cancel_the_render(make_cache: CacheFactory,
                                                           gated: GatedEngine) -> None:
    cache = make_cache(gated)
    first = asyncio.ensure_future(cache.render("取消", "zh", 160))
    second = asyncio.ensure_future(cache.render("取消", "zh", 160))
    await asyncio.to_thread(gated.started.wait, 5)
    first.cancel()
    gated.gate.set()
    assert (await second).is_file()
    assert first.cancelled()


async def test_failing_engine_leaves_no_file(make_cache: CacheFactory,
                                             counting: CountingEngine) -> None:
    broken = BrokenEngine(counting.inner)
    cache = make_cache(broken)
    with pytest.raises(OSError, match="half-way"):
        await cache.render("坏了", "zh", 160)
    assert files_in(cache) == []
    assert cache.stats.failures == 1
    # Not cached as a failure: a working engine renders it next time.
    good = make_cache(counting)
    assert (await good.render("坏了", "zh", 160)).is_file()


async def test_garbage_output_is_refused(make_cache: CacheFactory,
                                         counting: CountingEngine) -> None:
    cache = make_cache(BrokenEngine(counting.inner, garbage=True))
    with pytest.raises(TtsRenderError, match="not a RIFF/WAVE"):
        await cache.render("garbage", "en", 160)
    assert files_in(cache) == []


async def test_unknown_voice_through_cache(make_cache: CacheFactory,
                                           counting: CountingEngine) -> None:
    cache = make_cache(counting)
    with pytest.raises(UnknownVoice):
        await cache.render("hello", "klingon", 160)
    assert files_in(cache) == []


async def test_empty_text_is_refused(make_cache: CacheFactory, counting: CountingEngine) -> None:
    with pytest.raises(ValueError, match="empty"):
        await make_cache(counting).render(" \n", "zh", 160)
    assert counting.calls == []


async def test_hung_engine_times_out(make_cache: CacheFactory, gated: GatedEngine) -> None:
    cache = make_cache(gated, timeout=0.2)
    with pytest.raises(TtsTimeout):
        await cache.render("永远", "zh", 160)
    assert files_in(cache) == []


async def test_prerender_reports_every_step(make_cache: CacheFactory,
                                            counting: CountingEngine) -> None:
    cache = make_cache(counting)
    prompts = [Prompt("欢迎致电。", "zh", 160), Prompt("请按一。", "zh", 160),
               Prompt("Welcome.", "en", 160), Prompt("欢迎致电。", "zh", 160),
               Prompt("再见。", "zh", 160)]
    steps: list[tuple[int, int]] = []
    paths = await cache.prerender(prompts, progress=lambda done, total: steps.append((done, total)))
    assert steps == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert set(paths) == set(prompts)
    assert all(p.is_file() for p in paths.values())
    assert len(counting.calls) == 4
    # Publishing again: everything is a hit.
    steps.clear()
    again = await cache.prerender(prompts, progress=lambda d, t: steps.append((d, t)))
    assert again == paths
    assert steps[-1] == (4, 4)
    assert len(counting.calls) == 4
    assert cache.stats.hits == 4


async def test_prerender_lists_all_failures(make_cache: CacheFactory,
                                            counting: CountingEngine) -> None:
    cache = make_cache(BrokenEngine(counting.inner, bad={"坏一", "坏二"}))
    prompts = [Prompt(t, "zh", 160) for t in ("好一", "坏一", "好二", "坏二")]
    steps: list[tuple[int, int]] = []
    with pytest.raises(PrerenderError, match="2 of 4 prompts failed") as info:
        await cache.prerender(prompts, progress=lambda d, t: steps.append((d, t)))
    assert sorted(text for text, _ in info.value.failures) == ["坏一", "坏二"]
    assert steps[-1] == (4, 4)
    assert len(files_in(cache)) == 2


async def test_voices_asked_on_worker(make_cache: CacheFactory, counting: CountingEngine) -> None:
    voices = await make_cache(counting).voices()
    assert any(v.id == "sit/cmn" for v in voices)


async def test_prune(make_cache: CacheFactory, counting: CountingEngine) -> None:
    cache = make_cache(counting)
    paths = [await cache.render(text, "en", 160) for text in ("one", "two", "three")]
    stale = paths[0].with_name(paths[0].name + ".tmp-dead")
    stale.write_bytes(b"RIFF")
    import os
    os.utime(stale, (0, 0))
    os.utime(paths[0], (1, 1))  # the oldest
    keep = sum(p.stat().st_size for p in paths[1:])
    assert await cache.prune(keep) == 2
    assert files_in(cache) == sorted(paths[1:])
    assert await cache.prune(0) == 2
    assert files_in(cache) == []
