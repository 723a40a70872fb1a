"""Reading the header of a WAV file: is it something FreeSWITCH can play, and how long is it.

FreeSWITCH's ``playback`` (mod_sndfile) plays RIFF/WAVE PCM at any sample rate and resamples to the
call's codec rate, so the rate is recorded, not forced. The TTS cache only keeps files that pass
:func:`probe_wav` with ``require_speech_format=True``: RIFF/WAVE, PCM, mono, 16-bit, not empty.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

PCM_16_BIT = 2  # bytes per sample


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What the header of a WAV file says."""

    channels: int
    sample_width: int  # bytes per sample: 2 is 16-bit PCM
    sample_rate: int  # frames per second (espeak-ng writes 22050)
    frames: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe_wav(path: Path, *, require_speech_format: bool = False) -> WavInfo:
    """Read the header of ``path``.

    Raises ``ValueError`` when the file is not a RIFF/WAVE PCM file, or, with
    ``require_speech_format``, when it is not mono 16-bit PCM with at least one frame.
    ``OSError`` when it cannot be opened.
    """
    with path.open("rb") as raw:
        head = raw.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path}: not a RIFF/WAVE file")
        raw.seek(0)
        try:
            with wave.open(raw, "rb") as w:
                info = WavInfo(w.getnchannels(), w.getsampwidth(), w.getframerate(),
                               w.getnframes())
        except (wave.Error, EOFError) as exc:
            raise ValueError(f"{path}: unreadable WAV header: {exc}") from exc
    if require_speech_format:
        if info.channels != 1 or info.sample_width != PCM_16_BIT:
            raise ValueError(f"{path}: expected mono 16-bit PCM, got {info.channels} channel(s) "
                             f"of {8 * info.sample_width}-bit")
        if info.frames == 0 or info.sample_rate <= 0:
            raise ValueError(f"{path}: no audio (0 frames)")
    return info
