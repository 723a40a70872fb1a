"""Exceptions raised by the media layer.

::

    MediaError                    base of everything below
    ├── TtsError                  text-to-speech failed
    │   ├── TtsUnavailable        the engine cannot start: pyttsx3 or espeak-ng is not installed
    │   │                         (the message names the pip or Debian package to install)
    │   ├── UnknownVoice          the engine has no voice by that name (``ValueError`` too)
    │   ├── UnsupportedFormat     the engine cannot write that audio format (``ValueError`` too)
    │   ├── TtsTimeout            a render did not finish within its bound (never a hang)
    │   ├── TtsRenderError        the engine ran but wrote no playable WAV (empty, not RIFF/WAVE,
    │   │                         not mono 16-bit PCM)
    │   └── PrerenderError        some prompts of a flow failed to render; ``failures`` lists them
    └── RecordingError            a recording or its metadata sidecar cannot be stored or read

``ValueError`` is also a base of ``UnknownVoice`` and ``UnsupportedFormat`` so generic callers that
validate configuration can catch them as such.
"""

from __future__ import annotations

from collections.abc import Sequence


class MediaError(Exception):
    """Base class of every media error."""


class TtsError(MediaError):
    """Text-to-speech failed."""


class TtsUnavailable(TtsError):
    """The TTS engine cannot start on this machine (a library or system package is missing)."""


class UnknownVoice(TtsError, ValueError):
    """The engine has no voice by that name."""


class UnsupportedFormat(TtsError, ValueError):
    """The engine cannot write that audio format."""


class TtsTimeout(TtsError):
    """A render did not finish within its time bound."""


class TtsRenderError(TtsError):
    """The engine finished but its output is not a playable WAV file."""


class PrerenderError(TtsError):
    """Some prompts failed to pre-render; ``failures`` holds (text, error) pairs."""

    def __init__(self, failures: Sequence[tuple[str, BaseException]], total: int) -> None:
        self.failures = list(failures)
        self.total = total
        first_text, first_error = self.failures[0]
        super().__init__(
            f"{len(self.failures)} of {total} prompts failed to render; "
            f"first: {first_text!r}: {first_error}"
        )


class RecordingError(MediaError):
    """A recording or its metadata cannot be stored or read back."""
