"""Text-to-speech engines: the :class:`TtsEngine` protocol and the built-in pyttsx3/espeak-ng one.

An engine is synchronous and is only ever called from the TTS worker thread (see
:mod:`coreswitch.media.cache`), never from the event loop. Plugins add engines through the
``register_tts_engines`` hook by registering objects that satisfy :class:`TtsEngine`.

The built-in :class:`Pyttsx3Engine` drives espeak-ng through pyttsx3. Voice names accepted are the
language aliases in :data:`VOICE_ALIASES` (``zh`` → espeak-ng's Mandarin voice
``cmn-latn-pinyin``, ``en`` → ``en-us``) or any espeak-ng voice id or language (``cmn``,
``sit/cmn``, ``en-gb``, ``gmw/en-us`` …). It writes
RIFF/WAVE, mono, 16-bit PCM at espeak-ng's native 22050 Hz; FreeSWITCH resamples on playback.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from coreswitch.media.errors import (
    TtsTimeout,
    TtsUnavailable,
    UnknownVoice,
    UnsupportedFormat,
)

log = logging.getLogger(__name__)

WAV = "wav"
"""The one audio format every engine must write: RIFF/WAVE, mono, 16-bit PCM."""

VOICE_ALIASES: dict[str, str] = {
    "zh": "cmn-latn-pinyin",
    "zh-cn": "cmn-latn-pinyin",
    "zh-cmn": "cmn-latn-pinyin",
    "mandarin": "cmn-latn-pinyin",
    "en": "en-us",
}
"""Language codes a flow or ``[tts] voice`` may use → espeak-ng voice ids.

Mandarin is ``cmn-latn-pinyin``, not ``cmn``: espeak-ng's packaged ``cmn_dict`` gives many
common characters (零, 一, 年, 点, 两 …) as pinyin, which the ``cmn`` voice reads with English
rules ("ling two" for 零) while ``cmn-latn-pinyin`` reads it as Mandarin. The price: Latin words
in a Chinese prompt ("VIP") are read as pinyin too; ask for ``cmn`` for the other trade-off."""

MIN_RATE, MAX_RATE = 80, 450
"""espeak-ng's speaking-rate range, words per minute."""

_INSTALL_PYTTSX3 = "pyttsx3 is not installed: pip install pyttsx3 (a coreswitch dependency)"
_INSTALL_ESPEAK = ("espeak-ng is not installed or cannot be loaded: install the Debian package "
                   "espeak-ng (apt-get install espeak-ng, which brings libespeak-ng1 and "
                   "espeak-ng-data with the Mandarin dictionary)")

# espeak-ng keeps its state (current voice, synthesis callback) in the process: one render at a
# time, whichever thread or engine instance asks.
_ESPEAK_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Voice:
    """A voice an engine offers."""

    id: str
    name: str
    languages: tuple[str, ...] = ()


@runtime_checkable
class TtsEngine(Protocol):
    """What the TTS cache needs from an engine. Every method runs on the TTS worker thread."""

    @property
    def name(self) -> str:
        """Stable engine name; part of the cache key (change it when the output changes)."""
        ...

    def voices(self) -> Sequence[Voice]:
        """The voices this engine offers."""
        ...

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        """Synthesise ``text`` into a new file at ``path``, blocking until it is complete.

        ``rate`` is in words per minute; ``fmt`` is :data:`WAV`. Raises :class:`UnknownVoice`,
        :class:`UnsupportedFormat`, :class:`TtsUnavailable` or :class:`TtsTimeout`; must return
        within a bounded time.
        """
        ...


class Pyttsx3Engine:
    """pyttsx3 with its espeak-ng driver.

    pyttsx3 is not thread-safe; the engine is created on first use, on the thread that calls
    :meth:`render` (the TTS worker), and every call holds a process-wide espeak-ng lock.
    ``timeout`` bounds each render: pyttsx3 2.99 returns from ``runAndWait`` before espeak-ng has
    finished writing, so completion is awaited on its ``finished-utterance`` notification.
    """

    name = "pyttsx3-espeak-ng"

    def __init__(self, *, timeout: float = 20.0, volume: float = 1.0) -> None:
        self.timeout = timeout
        self.volume = volume
        self._engine: Any = None  # pyttsx3.Engine; pyttsx3 has no type information
        self._voices: list[Voice] | None = None

    # ---- voices -------------------------------------------------------------------------------

    def voices(self) -> list[Voice]:
        with _ESPEAK_LOCK:
            return list(self._load_voices())

    def resolve_voice(self, voice: str) -> str:
        """Language alias, espeak-ng voice id or language → the voice id espeak-ng is asked for
        (``zh`` → ``cmn-latn-pinyin``). Starts pyttsx3 if needed: call it on the worker thread.
        Raises :class:`UnknownVoice`."""
        wanted = VOICE_ALIASES.get(voice.lower(), voice.lower())
        voices = self._load_voices()
        for v in voices:
            if wanted in (v.id, v.id.rsplit("/", 1)[-1]):
                return v.id.rsplit("/", 1)[-1]
        for v in voices:
            if wanted in v.languages:
                return v.id.rsplit("/", 1)[-1]
        raise UnknownVoice(f"espeak-ng has no voice {voice!r}; try zh, en, or an id from "
                           "`espeak-ng --voices`")

    def _load_voices(self) -> list[Voice]:
        if self._voices is None:
            found = self._pyttsx3().getProperty("voices")
            self._voices = [Voice(str(v.id).lower(), str(v.name), tuple(v.languages or ()))
                            for v in found]
        return self._voices

    # ---- rendering ----------------------------------------------------------------------------

    def render(self, text: str, voice: str, rate: int, path: Path, fmt: str) -> None:
        if fmt != WAV:
            raise UnsupportedFormat(f"{self.name} writes only {WAV!r}, not {fmt!r}")
        if not text.strip():
            raise ValueError("nothing to say: empty text")
        if not MIN_RATE <= rate <= MAX_RATE:
            raise ValueError(f"rate {rate} is outside espeak-ng's {MIN_RATE}..{MAX_RATE} "
                             "words per minute")
        with _ESPEAK_LOCK:
            engine = self._pyttsx3()
            espeak_voice = self.resolve_voice(voice)
            finished = threading.Event()
            errors: list[BaseException] = []

            def on_finished(**_: object) -> None:
                finished.set()

            def on_error(exception: BaseException | None = None, **_: object) -> None:
                errors.append(exception or RuntimeError("pyttsx3 reported an error"))

            tokens = [engine.connect("finished-utterance", on_finished),
                      engine.connect("error", on_error)]
            try:
                espeak = _espeak_binding()
                engine.setProperty("voice", espeak_voice)
                engine.setProperty("rate", int(rate))
                engine.setProperty("volume", self.volume)
                # espeak-ng queues parameter changes on its own thread, and pyttsx3's runAndWait
                # cancels that queue (driver.stop) when it is busy: let them land first.
                espeak.Synchronize()
                if errors:
                    raise errors[0]
                engine.save_to_file(text, str(path))
                engine.runAndWait()
                if errors:
                    raise errors[0]
                if not finished.wait(self.timeout):
                    engine.stop()
                    raise TtsTimeout(f"espeak-ng did not finish within {self.timeout:g}s "
                                     f"({len(text)} characters)")
                # The driver's callback goes on (busy flag, end of loop) after notifying us: let it
                # return before the next render touches the engine, or that render's settings race.
                espeak.Synchronize()
                if errors:
                    raise errors[0]
            finally:
                for token in tokens:
                    engine.disconnect(token)

    # ---- start-up -----------------------------------------------------------------------------

    def _pyttsx3(self) -> Any:
        if self._engine is None:
            try:
                pyttsx3 = importlib.import_module("pyttsx3")
            except ImportError as exc:
                raise TtsUnavailable(_INSTALL_PYTTSX3) from exc
            try:
                # pyttsx3 keeps engines in a weak registry: self._engine is the strong reference.
                self._engine = pyttsx3.init("espeak")
            except (OSError, RuntimeError, ImportError, AttributeError) as exc:
                raise TtsUnavailable(f"{_INSTALL_ESPEAK} ({exc})") from exc
            _silence_driver_prints()
        return self._engine


def _espeak_binding() -> Any:
    """pyttsx3's ctypes binding of libespeak-ng (loaded by then: the driver imports it)."""
    return importlib.import_module("pyttsx3.drivers._espeak")


def _silence_driver_prints() -> None:
    """pyttsx3's espeak driver ``print``s "Audio saved to …" on stdout, which would corrupt
    ``coreswitch call``'s JSON-lines transcript. Shadow the builtin in that module only."""
    module = sys.modules.get("pyttsx3.drivers.espeak")
    if module is not None and "print" not in vars(module):
        module.print = _driver_print  # type: ignore[attr-defined]  # module global shadows builtin


def _driver_print(*args: object, **_: object) -> None:
    log.debug("pyttsx3: %s", " ".join(str(a) for a in args))
