"""TtsRenderer on a published flow: after the publish prerender, playing a fixed prompt is a memo
hit (no hashing, no stat) and names the file an uncached render names."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import pytest

import dsl
from coreswitch.media import cache as cache_module
from coreswitch.media.cache import TtsCache
from coreswitch.media.engine import Voice
from coreswitch.runtime.prompts import TtsRenderer, static_texts

FLOW = Path(__file__).resolve().parents[2] / "examples" / "flows" / "95598.flow"


class SilenceEngine:
    name = "silence"

    def __init__(self) -> None:
        self.calls = 0

    def voices(self) -> list[Voice]:
        return []

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        self.calls += 1
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 80)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = cache_module.cache_key

    def key(*args: object) -> str:
        seen.append(str(args[3]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "cache_key", key)
    return seen


async def test_fixed_prompts_are_played_from_the_memo_after_publish(
        tmp_path: Path, hashes: list[str]) -> None:
    ir, diags = dsl.compile_source(FLOW.read_text(encoding="utf-8"))
    assert ir is not None, diags
    engine = SilenceEngine()
    cache = TtsCache(tmp_path / "tts", engine)
    try:
        renderer = TtsRenderer(cache, voice="zh", rate=160)
        prompts = renderer.prompts(ir)
        await cache.prerender(prompts)  # what serve's publish does
        rendered = engine.calls
        hashes.clear()
        texts = list(static_texts(ir))
        played = [await renderer.render(text, lang) for text, lang in texts]
        assert hashes == []  # no cache key computed for any of them
        assert engine.calls == rendered
        assert cache.stats.memo_hits == len(texts)

        # The same files as a renderer whose cache knows nothing yet (finds them on disk).
        cold = TtsRenderer(TtsCache(tmp_path / "tts", engine), voice="zh", rate=160)
        try:
            assert [await cold.render(text, lang) for text, lang in texts] == played
        finally:
            cold.cache.close()
        assert all(map(os.path.isfile, played))
    finally:
        cache.close()
