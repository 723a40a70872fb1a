"""Opening the TTS cache from [tts] configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from coreswitch.config import TtsConfig
from coreswitch.media.engine import Pyttsx3Engine
from coreswitch.media.tts import open_tts_cache

from .conftest import CountingEngine


async def test_defaults_open_the_pyttsx3_engine(tmp_path: Path) -> None:
    config = TtsConfig()
    cache = open_tts_cache(config, base_dir=tmp_path)
    try:
        assert isinstance(cache.engine, Pyttsx3Engine)
        assert cache.cache_dir == tmp_path / config.cache_dir
        path = await cache.render("您好", config.voice, config.rate)
        assert path.is_relative_to(tmp_path / config.cache_dir)
    finally:
        cache.close()


def test_plugin_engines(tmp_path: Path, espeak: Pyttsx3Engine) -> None:
    counting = CountingEngine(espeak)
    cache = open_tts_cache(TtsConfig(engine="vendor", cache_dir=str(tmp_path)),
                           engines={"vendor": lambda: counting})
    try:
        assert cache.engine is counting
        assert cache.cache_dir == tmp_path
    finally:
        cache.close()


def test_unknown_engine() -> None:
    with pytest.raises(ValueError, match=r"'azure' is not installed; known: pyttsx3"):
        open_tts_cache(TtsConfig(engine="azure"))
