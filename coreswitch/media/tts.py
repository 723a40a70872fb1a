"""Opening the TTS service from the ``[tts]`` configuration section.

``[tts] engine`` names an engine factory: ``pyttsx3`` is built in; plugins add more through the
``register_tts_engines`` hook, whose registry the caller passes in as ``engines``. ``voice`` and
``rate`` are the defaults a flow's ``say`` uses; ``cache_dir`` is where rendered WAVs live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from coreswitch.config import TtsConfig
from coreswitch.media.cache import TtsCache
from coreswitch.media.engine import Pyttsx3Engine, TtsEngine

EngineFactory = Callable[[], TtsEngine]

BUILTIN_ENGINES: Mapping[str, EngineFactory] = {"pyttsx3": Pyttsx3Engine}
"""Engines that ship with coreswitch, by the name ``[tts] engine`` uses."""


def open_tts_cache(config: TtsConfig, *, engines: Mapping[str, EngineFactory] | None = None,
                   base_dir: Path | None = None) -> TtsCache:
    """A :class:`TtsCache` for the configured engine. ``engines`` adds to (and may override) the
    built-in ones; a relative ``cache_dir`` is taken from ``base_dir`` (default: the current
    directory). Raises ``ValueError`` naming the known engines when ``engine`` is unknown. The
    engine itself starts lazily, on the worker thread, at the first render."""
    known = {**BUILTIN_ENGINES, **(engines or {})}
    if config.engine not in known:
        raise ValueError(f"[tts] engine {config.engine!r} is not installed; "
                         f"known: {', '.join(sorted(known))}")
    cache_dir = Path(config.cache_dir)
    if base_dir is not None and not cache_dir.is_absolute():
        cache_dir = base_dir / cache_dir
    return TtsCache(cache_dir, known[config.engine]())
