"""TtsCache's memo of known files: a prompt played again costs no hashing and no ``stat``, and
gives the same file an uncached lookup gives."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from coreswitch.media import cache as cache_module
from coreswitch.media.cache import Prompt, TtsCache
from coreswitch.media.engine import Voice


class SilenceEngine:
    """Writes a tenth of a second of silence (mono 16-bit PCM) per render, and counts them."""

    name = "silence"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def voices(self) -> list[Voice]:
        return []

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        self.calls.append(text)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 800)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Factory = Callable[..., TtsCache]


@pytest.fixture
def engine() -> SilenceEngine:
    return SilenceEngine()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_cache(tmp_path: Path, engine: SilenceEngine, clock: Clock
                     ) -> AsyncIterator[Factory]:
    made: list[TtsCache] = []

    def make(**kwargs: float) -> TtsCache:
        cache = TtsCache(tmp_path / "tts", engine, clock=clock, **kwargs)  # type: ignore[arg-type]
        made.append(cache)
        return cache

    yield make
    for cache in made:
        cache.close()


@pytest.fixture
def disk_and_hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every cache-key computation and every ``Path.is_file`` the cache makes."""
    calls: list[str] = []
    real_key, real_is_file = cache_module.cache_key, Path.is_file

    def key(*args: object) -> str:
        calls.append("hash")
        return real_key(*args)  # type: ignore[arg-type]

    def is_file(self: Path) -> bool:
        calls.append("stat")
        return real_is_file(self)

    monkeypatch.setattr(cache_module, "cache_key", key)
    monkeypatch.setattr(Path, "is_file", is_file)
    return calls


async def test_a_remembered_prompt_is_the_file_an_uncached_lookup_finds(
        make_cache: Factory, engine: SilenceEngine) -> None:
    cache = make_cache()
    rendered = await cache.render("您好，请按一。", "zh", 160)
    again = await cache.render("您好，请按一。", "zh", 160)
    fresh = make_cache()  # empty memo: hashes the text and finds the file on disk
    assert again == rendered == await fresh.render("您好，请按一。", "zh", 160)
    assert again == cache.path_for("您好，请按一。", "zh", 160)
    assert engine.calls == ["您好，请按一。"]
    assert (cache.stats.hits, cache.stats.memo_hits) == (1, 1)
    assert (fresh.stats.hits, fresh.stats.memo_hits) == (1, 0)


async def test_nfd_and_nfc_spellings_share_one_file(make_cache: Factory,
                                                    engine: SilenceEngine) -> None:
    cache = make_cache()
    nfc = await cache.render("caf\u00e9", "en", 160)
    assert await cache.render("cafe\u0301", "en", 160) == nfc
    assert await cache.render("cafe\u0301", "en", 160) == nfc
    assert engine.calls == ["caf\u00e9"]


async def test_a_played_prompt_costs_no_hashing_and_no_stat(
        make_cache: Factory, disk_and_hash_calls: list[str]) -> None:
    cache = make_cache()
    prompts = [Prompt("欢迎致电。", "zh", 160), Prompt("Welcome.", "en", 160)]
    paths = await cache.prerender(prompts)  # publishing renders them
    disk_and_hash_calls.clear()
    for _ in range(3):
        for p in prompts:
            assert await cache.render(p.text, p.voice, p.rate) == paths[p]
    steps: list[tuple[int, int]] = []
    assert await cache.prerender(prompts, lambda d, t: steps.append((d, t))) == paths
    assert disk_and_hash_calls == []
    assert steps == [(0, 2), (1, 2), (2, 2)]
    assert cache.stats.memo_hits == 8


async def test_a_file_found_on_disk_is_remembered(make_cache: Factory,
                                                  disk_and_hash_calls: list[str]) -> None:
    await make_cache().render("已有文件", "zh", 160)
    restarted = make_cache()
    disk_and_hash_calls.clear()
    first = await restarted.render("已有文件", "zh", 160)
    assert disk_and_hash_calls == ["hash", "stat"]
    assert await restarted.render("已有文件", "zh", 160) == first
    assert disk_and_hash_calls == ["hash", "stat"]


async def test_a_deleted_file_is_rendered_again_once_the_entry_is_old(
        make_cache: Factory, engine: SilenceEngine, clock: Clock) -> None:
    cache = make_cache(memo_ttl=30)
    path = await cache.render("会被删掉", "zh", 160)
    path.unlink()  # an operator empties the cache directory behind the server's back
    clock.now += 29
    assert await cache.render("会被删掉", "zh", 160) == path  # remembered: not looked at yet
    assert not path.exists()
    clock.now += 1
    assert await cache.render("会被删掉", "zh", 160) == path
    assert path.is_file()
    assert engine.calls == ["会被删掉", "会被删掉"]


async def test_forget_and_prune_drop_the_memo(make_cache: Factory, engine: SilenceEngine) -> None:
    cache = make_cache()
    one = await cache.render("一", "zh", 160)
    one.unlink()
    cache.forget()
    assert (await cache.render("一", "zh", 160)).is_file()
    assert await cache.prune(0) == 1
    assert not one.exists()
    assert (await cache.render("一", "zh", 160)).is_file()
    assert engine.calls == ["一", "一", "一"]


async def test_the_memo_is_bounded(make_cache: Factory) -> None:
    cache = make_cache(memo_size=2)
    for text in ("一", "二", "三"):
        await cache.render(text, "zh", 160)
    await cache.render("一", "zh", 160)  # the least recently used: forgotten, found on disk
    assert cache.stats.memo_hits == 0
    await cache.render("三", "zh", 160)
    assert cache.stats.memo_hits == 1
    assert cache.stats.hits == 2


async def test_no_memo_when_turned_off(make_cache: Factory,
                                       disk_and_hash_calls: list[str]) -> None:
    cache = make_cache(memo_size=0)
    await cache.render("不记", "zh", 160)
    disk_and_hash_calls.clear()
    await cache.render("不记", "zh", 160)
    assert disk_and_hash_calls == ["hash", "stat"]
    assert cache.stats.memo_hits == 0


async def test_empty_text_is_still_refused(make_cache: Factory) -> None:
    cache = make_cache()
    with pytest.raises(ValueError, match="empty"):
        await cache.render("  ", "zh", 160)
