"""SoundLibrary: play names resolved inside the library; say-as files; what is left to record."""

from __future__ import annotations

from pathlib import Path

import pytest

from coreswitch.media.sayas import say_as, vocabulary
from coreswitch.media.sounds import SoundLibrary


@pytest.fixture
def library(tmp_path: Path) -> SoundLibrary:
    for name in ("welcome.wav", "zh/welcome.wav", "zh/digits/1.wav", "zh/digits/bai.wav",
                 "zh/digits/2.wav", "zh/digits/shi.wav", "zh/digits/3.wav", "en/digits/1.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"RIFF")
    (tmp_path / "secret.txt").write_text("x")
    return SoundLibrary(tmp_path)


def test_resolve_prefers_the_language(library: SoundLibrary) -> None:
    assert library.resolve("welcome", "zh") == library.root / "zh/welcome.wav"
    assert library.resolve("welcome.wav", "en") == library.root / "welcome.wav"
    assert library.resolve("welcome") == library.root / "welcome.wav"


@pytest.mark.parametrize("name", ["../secret", "/etc/passwd", "zh/../../x", ".hidden", "",
                                  "..\\secret", "zh/.git/x"])
def test_names_cannot_leave_the_library(library: SoundLibrary, name: str) -> None:
    with pytest.raises(ValueError, match="not a sound name"):
        library.resolve(name)


def test_missing_sound(library: SoundLibrary) -> None:
    with pytest.raises(FileNotFoundError, match="goodbye"):
        library.resolve("goodbye", "zh")
    with pytest.raises(FileNotFoundError):
        library.resolve("secret.txt")  # .wav is appended: only sounds are found


def test_say_as_files(library: SoundLibrary) -> None:
    assert library.files_for(say_as("number", 123, "zh"), "zh") == [
        library.root / f"zh/digits/{n}.wav" for n in ("1", "bai", "2", "shi", "3")]
    with pytest.raises(FileNotFoundError):
        library.files_for(say_as("number", 4, "zh"), "zh")


def test_what_is_left_to_record(library: SoundLibrary) -> None:
    missing = library.missing(vocabulary("zh"), "zh")
    assert "digits/4" in missing
    assert "digits/1" not in missing
    assert len(missing) == len(vocabulary("zh")) - 5
