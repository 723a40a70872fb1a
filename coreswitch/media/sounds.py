"""Recorded sound files: what ``play`` plays and what say-as plays in recorded-sound deployments.

A :class:`SoundLibrary` is a directory of sounds per language (``<root>/zh/digits/1.wav``, or
``<root>/welcome.wav`` for language-independent files). Names come from flows, so they are
resolved strictly inside the root: no absolute paths, no ``..``, no hidden files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from coreswitch.media.spoken import Spoken

AUDIO_SUFFIXES = (".wav",)


class SoundLibrary:
    """Sound files under ``root``; names are ``/``-separated and may omit the ``.wav`` suffix."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def resolve(self, name: str, lang: str | None = None) -> Path:
        """The file for ``name``: ``<root>/<lang>/<name>`` if that exists, else ``<root>/<name>``.

        ``ValueError`` for a name that could leave the library; ``FileNotFoundError`` when there
        is no such sound.
        """
        relative = self._relative(name)
        for base in ((self.root / lang, self.root) if lang else (self.root,)):
            path = base / relative
            if path.is_file():
                return path
        raise FileNotFoundError(f"no sound {name!r} in {self.root}"
                                + (f" (language {lang})" if lang else ""))

    def files_for(self, spoken: Spoken, lang: str) -> list[Path]:
        """The files to play for a say-as result, in order (``FileNotFoundError`` if one lacks)."""
        return [self.resolve(name, lang) for name in spoken.files]

    def missing(self, names: Iterable[str], lang: str) -> list[str]:
        """Which of ``names`` (e.g. ``sayas.vocabulary("zh")``) have no recording yet."""
        absent = []
        for name in sorted(set(names)):
            try:
                self.resolve(name, lang)
            except FileNotFoundError:
                absent.append(name)
        return absent

    @staticmethod
    def _relative(name: str) -> PurePosixPath:
        path = PurePosixPath(name.replace("\\", "/"))
        if (not name or path.is_absolute()
                or any(part in ("", "..") or part.startswith(".") for part in path.parts)):
            raise ValueError(f"not a sound name: {name!r}")
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            path = path.with_name(path.name + ".wav")
        return path
