"""Engines for the media tests: the real espeak-ng one (no skip: a missing espeak-ng fails) and
wrappers that count, gate or break renders."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from coreswitch.media.engine import Pyttsx3Engine, TtsEngine, Voice


class CountingEngine:
    """Wraps an engine; counts renders and remembers the threads they ran on."""

    def __init__(self, inner: TtsEngine) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.threads: set[int] = set()

    @property
    def name(self) -> str:
        return self.inner.name

    def voices(self) -> Sequence[Voice]:
        return self.inner.voices()

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        self.calls.append(text)
        self.threads.add(threading.get_ident())
        self.inner.render(text, voice, rate, path, fmt)


class GatedEngine(CountingEngine):
    """Blocks each render until ``gate`` is set (bounded, so a broken test cannot hang)."""

    def __init__(self, inner: TtsEngine) -> None:
        super().__init__(inner)
        self.gate = threading.Event()
        self.started = threading.Event()

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        self.started.set()
        if not self.gate.wait(10):
            raise RuntimeError("gate never opened: was the event loop blocked?")
        super().render(text, voice, rate, path, fmt)


class BrokenEngine(CountingEngine):
    """Writes half a file, then fails, for the texts in ``bad`` (all texts when empty)."""

    def __init__(self, inner: TtsEngine, bad: set[str] | None = None,
                 garbage: bool = False) -> None:
        super().__init__(inner)
        self.bad = bad
        self.garbage = garbage

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        if self.bad is None or text in self.bad:
            self.calls.append(text)
            path.write_bytes(b"RIFF\x00\x00" if not self.garbage else b"not audio at all")
            if self.garbage:
                return
            raise OSError("synthesiser crashed half-way")
        super().render(text, voice, rate, path, fmt)


@pytest.fixture(scope="session")
def espeak() -> Pyttsx3Engine:
    """The real engine, shared: espeak-ng initialises once per process anyway."""
    return Pyttsx3Engine()


@pytest.fixture
def counting(espeak: Pyttsx3Engine) -> CountingEngine:
    return CountingEngine(espeak)


@pytest.fixture
def gated(espeak: Pyttsx3Engine) -> Iterator[GatedEngine]:
    engine = GatedEngine(espeak)
    yield engine
    engine.gate.set()
