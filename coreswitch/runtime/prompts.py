"""Prompts as a call hears them: a flow's prompt references resolved to text and files.

A prompt reference in the IR is ``{"prompt": NAME}`` (the catalogue, in the call's language),
``{"text": EXPR}`` (a spoken template) or ``{"file": PATH}`` (an audio file). :class:`PromptBook`
turns one into :class:`Utterance` objects: what is said (``text``, for the transcript and the
``heard`` expectations of flow tests), what the TTS engine reads (``spoken``: placeholders with
``as money`` etc. expanded by the say-as rules of the language) and the file FreeSWITCH plays.

Files are made by a :class:`Renderer`: :class:`TtsRenderer` renders text through the TTS cache
(on its worker thread, never on the event loop); :class:`VirtualRenderer` only names a file and
tells the simulated switch how long it lasts — flow tests and ``coreswitch call`` need no speech
engine. :func:`static_texts` lists every text of a flow that can be rendered before a call (the
pre-render on publish). A catalogue prompt with both a text and a ``file`` plays the recording
when the file exists and speaks the text otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from coreswitch.media.cache import Prompt, TtsCache
from coreswitch.media.sayas import say_as
from dsl.errors import EvalError
from dsl.expr import EvalEnv, evaluate, render

IR = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Utterance:
    """One thing the caller hears."""

    text: str | None  # what is said, as written (None for a bare audio file)
    spoken: str | None  # what the TTS engine reads (say-as applied)
    file: str | None  # an audio file from the flow, played as is
    lang: str


class Renderer(Protocol):
    """Makes the file FreeSWITCH plays for a text."""

    async def render(self, text: str, lang: str) -> str: ...


class PromptBook:
    """The prompt catalogue of one compiled flow."""

    def __init__(self, ir: IR, *, sounds_dir: str | Path | None = None) -> None:
        self.prompts: Mapping[str, Mapping[str, Mapping[str, Any]]] = ir.get("prompts", {})
        self.languages: list[str] = list(ir.get("languages") or ["zh"])
        self.sounds_dir = Path(sounds_dir) if sounds_dir is not None else None

    def variant(self, name: str, lang: str) -> Mapping[str, Any] | None:
        variants = self.prompts.get(name, {})
        return variants.get(lang) or variants.get("*") or next(iter(variants.values()), None)

    def resolve(self, ref: Mapping[str, Any] | None, lang: str, env: EvalEnv) -> list[Utterance]:
        """The utterances of a reference in ``lang``; [] for None."""
        if ref is None:
            return []
        if "prompt" in ref:
            v = self.variant(ref["prompt"], lang)
            if v is None:
                return []
            text_ir = v.get("text")
            if text_ir is None:
                return [Utterance(None, None, self.file(v.get("file")), lang)]
            text, spoken = speak(text_ir, env, lang)
            return [Utterance(text, spoken, self.recorded(v.get("file")), lang)]
        if "file" in ref:
            return [Utterance(None, None, self.file(ref["file"]), lang)]
        text, spoken = speak(ref["text"], env, lang)
        return [Utterance(text, spoken, None, lang)]

    def recorded(self, path: str | None) -> str | None:
        """A prompt's recording when it is there; None (speak its text instead) when a local
        file is missing — a prompt catalogue can name recordings before they are made."""
        full = self.file(path)
        if full is None or "://" in full or Path(full).exists():
            return full
        return None

    def file(self, path: str | None) -> str | None:
        if path is None:
            return None
        if self.sounds_dir is None or Path(path).is_absolute() or "://" in path:
            return path
        return str(self.sounds_dir / path)


def speak(text_ir: Any, env: EvalEnv, lang: str) -> tuple[str, str]:
    """(display text, TTS text) of a spoken template."""
    shown: list[str] = []
    spoken: list[str] = []
    for seg in render(text_ir, env):
        plain = _plain(seg.value)
        shown.append(plain)
        if seg.say_as in (None, "text"):
            spoken.append(plain)
            continue
        try:
            spoken.append(say_as(seg.say_as, seg.value, lang).text)
        except (TypeError, ValueError):
            spoken.append(plain)  # a value the rule cannot say: read it as written
    return "".join(shown), "".join(spoken)


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def static_texts(ir: IR, settings: Mapping[str, object] | None = None
                 ) -> Iterator[tuple[str, str]]:
    """Every (TTS text, language) a flow can say before any call: literal texts, and templates
    whose placeholders only read deployment settings (``{company}``)."""
    langs = list(ir.get("languages") or ["zh"])
    values = _settings(ir, settings or {})
    for variants in ir.get("prompts", {}).values():
        for lang, v in variants.items():
            if v.get("text") is not None and not v.get("file"):
                for one in (langs if lang == "*" else [lang]):
                    yield from _static(v["text"], values, one)
    bodies = [*ir.get("states", {}).values()]
    for sub in ir.get("subflows", {}).values():
        bodies.extend(sub.get("states", {}).values())
    for state in bodies:
        for op in state.get("code", []):
            for ref in _refs(op):
                if ref.get("text") is not None:
                    for lang in langs:
                        yield from _static(ref["text"], values, lang)


def _settings(ir: IR, overrides: Mapping[str, object]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, spec in ir.get("variables", {}).items():
        if spec.get("scope") != "setting":
            continue
        if name in overrides:
            values[name] = overrides[name]
        elif spec.get("default") is not None:
            with contextlib.suppress(EvalError):
                values[name] = evaluate(spec["default"], EvalEnv(values))
    return values


def _static(text_ir: Any, values: Mapping[str, object], lang: str) -> Iterator[tuple[str, str]]:
    try:
        _, spoken = speak(text_ir, EvalEnv(values), lang)
    except EvalError:
        return  # needs call data: rendered when the call says it
    if spoken:
        yield spoken, lang


def _refs(op: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("prompt", "short"):
        if isinstance(op.get(key), Mapping):
            yield op[key]
    args = op.get("args")
    if isinstance(args, Mapping):
        if op.get("op") == "say" and args.get("text") is not None:
            yield {"text": args["text"]}
        for value in args.values():
            if isinstance(value, Mapping) and "text" in value:
                yield value
    for q in op.get("questions", []):
        yield q["prompt"]


def voice_for(lang: str, configured: str) -> str:
    """The TTS voice for a language: the configured one for its language, else the language."""
    return configured if configured.partition("-")[0] == lang.partition("-")[0] else lang


class TtsRenderer:
    """Text → WAV through the TTS cache (pyttsx3/espeak-ng by default).

    A prompt played again (every fixed prompt, once its flow is published: the prerender went
    through the same cache) is answered from the cache's memo of known files — no hashing, no
    ``stat`` per play (see :mod:`coreswitch.media.cache`)."""

    def __init__(self, cache: TtsCache, *, voice: str = "zh", rate: int = 160) -> None:
        self.cache = cache
        self.voice = voice
        self.rate = rate

    async def render(self, text: str, lang: str) -> str:
        return str(await self.cache.render(text, voice_for(lang, self.voice), self.rate))

    def prompts(self, ir: IR, settings: Mapping[str, object] | None = None) -> list[Prompt]:
        """The flow's static texts as the cache's pre-render list (duplicates removed)."""
        seen: dict[tuple[str, str], Prompt] = {}
        for text, lang in static_texts(ir, settings):
            seen.setdefault((text, lang), Prompt(text, voice_for(lang, self.voice), self.rate))
        return list(seen.values())


class VirtualRenderer:
    """Names a file per text without synthesising it; ``on_file(path, seconds)`` learns its
    length (5 characters a second, at least half a second — the simulated switch's TTS rate)."""

    def __init__(self, on_file: Callable[[str, float], None] | None = None, *,
                 chars_per_second: float = 5.0) -> None:
        self.on_file = on_file
        self.chars_per_second = chars_per_second

    async def render(self, text: str, lang: str) -> str:
        digest = hashlib.sha256(f"{lang}\0{text}".encode()).hexdigest()[:16]
        path = f"tts/{lang}/{digest}.wav"
        if self.on_file is not None:
            self.on_file(path, max(0.5, len(text) / self.chars_per_second))
        return path
