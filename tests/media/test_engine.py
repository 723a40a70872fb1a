"""The pyttsx3/espeak-ng engine against the real espeak-ng (a missing espeak-ng fails here)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from coreswitch.media.engine import WAV, Pyttsx3Engine, TtsEngine
from coreswitch.media.errors import TtsUnavailable, UnknownVoice, UnsupportedFormat
from coreswitch.media.wavfile import probe_wav

ZH = "您好，欢迎致电供电九五五九八服务热线，自动语音服务请按一。"
EN = "Hello, welcome to the power supply hotline. For self service, press one."


def test_is_a_tts_engine(espeak: Pyttsx3Engine) -> None:
    assert isinstance(espeak, TtsEngine)
    assert espeak.name == "pyttsx3-espeak-ng"


@pytest.mark.parametrize(("voice", "espeak_id"), [
    ("zh", "cmn-latn-pinyin"), ("zh-CN", "cmn-latn-pinyin"), ("mandarin", "cmn-latn-pinyin"),
    ("cmn", "cmn"), ("sit/cmn", "cmn"),
    ("en", "en-us"), ("en-gb", "en"), ("gmw/en-us", "en-us"),
])
def test_voice_aliases(espeak: Pyttsx3Engine, voice: str, espeak_id: str) -> None:
    assert espeak.resolve_voice(voice) == espeak_id


def test_mandarin_voice_is_installed(espeak: Pyttsx3Engine) -> None:
    ids = {v.id for v in espeak.voices()}
    assert "sit/cmn" in ids
    assert "gmw/en-us" in ids


@pytest.mark.parametrize("case", [("zh", ZH, 3.0), ("en", EN, 2.0)], ids=["zh", "en"])
def test_renders_valid_wav(espeak: Pyttsx3Engine, tmp_path: Path, case: tuple[str, str, float],
                           capsys: pytest.CaptureFixture[str]) -> None:
    voice, text, min_seconds = case
    out = tmp_path / "prompt.wav"
    espeak.render(text, voice, 160, out, WAV)
    info = probe_wav(out, require_speech_format=True)
    assert (info.channels, info.sample_width, info.sample_rate) == (1, 2, 22050)
    assert min_seconds < info.duration < 30
    assert out.read_bytes()[:4] == b"RIFF"
    # pyttsx3's driver prints "Audio saved to …"; that must not reach stdout (JSON transcripts).
    assert "Audio saved" not in capsys.readouterr().out


def test_rate_changes_duration(espeak: Pyttsx3Engine, tmp_path: Path) -> None:
    slow, fast = tmp_path / "slow.wav", tmp_path / "fast.wav"
    espeak.render(EN, "en", 120, slow, WAV)
    espeak.render(EN, "en", 240, fast, WAV)
    assert probe_wav(slow).duration > 1.5 * probe_wav(fast).duration


def test_mandarin_is_not_read_as_english(espeak: Pyttsx3Engine, tmp_path: Path) -> None:
    # An English voice spells out each Chinese character ("Chinese letter ..."): far longer.
    zh, en = tmp_path / "zh.wav", tmp_path / "en.wav"
    espeak.render("一二三", "zh", 160, zh, WAV)
    espeak.render("一二三", "en", 160, en, WAV)
    assert probe_wav(zh).duration < probe_wav(en).duration


def test_every_say_as_character_is_read_in_mandarin(espeak: Pyttsx3Engine) -> None:
    # espeak-ng's phoneme trace marks a switch to English rules with "(en)"; the zh voice must
    # read every character the Chinese say-as rules produce (and a typical prompt) as Mandarin.
    chars = ("零〇一二两三四五六七八九幺十百千万亿负点第年月日凌晨上午中午下午晚上分秒"
             "元角整美欧星号井号加")
    prompt = "您好，欢迎致电供电九五五九八服务热线。故障报修请按一，人工服务请按零。"
    for text in (" ".join(chars), prompt):
        trace = subprocess.run(
            ["espeak-ng", "-v", espeak.resolve_voice("zh"), "-x", "-q", text],
            capture_output=True, text=True, check=True, timeout=30).stdout
        assert trace.strip()
        assert "(en)" not in trace, trace


def test_unknown_voice(espeak: Pyttsx3Engine, tmp_path: Path) -> None:
    with pytest.raises(UnknownVoice, match="klingon"):
        espeak.render("hello", "klingon", 160, tmp_path / "x.wav", WAV)
    assert not (tmp_path / "x.wav").exists()


def test_unsupported_format(espeak: Pyttsx3Engine, tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat):
        espeak.render("hello", "en", 160, tmp_path / "x.mp3", "mp3")


def test_empty_text(espeak: Pyttsx3Engine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        espeak.render("  ", "en", 160, tmp_path / "x.wav", WAV)


def test_missing_pyttsx3_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pyttsx3", None)  # makes `import pyttsx3` fail
    with pytest.raises(TtsUnavailable, match="pip install pyttsx3"):
        Pyttsx3Engine().render("hello", "en", 160, tmp_path / "x.wav", WAV)


def test_missing_espeak_names_the_debian_package(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    pyttsx3 = importlib.import_module("pyttsx3")

    def no_espeak(driver_name: str | None = None, debug: bool = False) -> None:
        raise RuntimeError("This means you probably do not have eSpeak or eSpeak-ng installed!")

    monkeypatch.setattr(pyttsx3, "init", no_espeak)
    with pytest.raises(TtsUnavailable, match=r"apt-get install espeak-ng"):
        Pyttsx3Engine().render("hello", "en", 160, tmp_path / "x.wav", WAV)
