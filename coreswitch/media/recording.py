"""Where ``record`` and ``voicemail`` put their audio, and the metadata beside it.

Layout under ``base_dir`` (every path component made safe, never taken raw from caller text)::

    record/2026/11/22/<call-id>-140501.wav              a `record` in a flow
    record/2026/11/22/<call-id>-140501.json             its metadata sidecar
    voicemail/<mailbox>/2026/11/22/<call-id>-140501.wav a voicemail (语音留言) in a box

The flow runtime asks :meth:`RecordingStore.begin` for a target (the file FreeSWITCH should record
into; the sidecar is created at once, so the name is reserved), and calls
:meth:`RecordingStore.finish` when the recording stops, with the reason. Metadata is written
atomically (temp file + ``os.replace``). All methods do small blocking file I/O: call them through
``asyncio.to_thread`` from the event loop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from coreswitch.media.errors import RecordingError
from coreswitch.media.wavfile import probe_wav

Kind = Literal["record", "voicemail"]
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_NAME = 64


def safe_name(text: str) -> str:
    """A file-name component from any text: ASCII letters, digits, ``_ . -`` only, no leading dot,
    at most 64 characters; when anything was changed, a short hash of the original keeps distinct
    inputs distinct (``投诉`` and ``举报`` do not collide)."""
    cleaned = _UNSAFE.sub("_", text)[:_MAX_NAME].strip("._-") or "x"
    if cleaned == text:
        return cleaned
    return f"{cleaned[:_MAX_NAME - 9]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


@dataclass(frozen=True, slots=True)
class RecordingMeta:
    """The sidecar: who recorded what, where in the flow, and how it ended."""

    id: str  # relative path without suffix, e.g. "voicemail/1001/2026/11/22/abc-140501"
    kind: Kind
    call_id: str
    ani: str
    dnis: str
    flow: str
    state: str
    started: str  # ISO 8601 with offset
    mailbox: str | None = None
    duration: float | None = None  # seconds; None until finished
    reason: str | None = None  # why it stopped: silence, max, terminator, hangup …; None: running
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.reason is not None


@dataclass(frozen=True, slots=True)
class RecordingTarget:
    """A reserved recording: record into ``audio``; ``meta`` is what the sidecar holds so far."""

    audio: Path
    sidecar: Path
    meta: RecordingMeta


class RecordingStore:
    """Recordings and voicemail under ``base_dir``."""

    def __init__(self, base_dir: str | Path, *, suffix: str = ".wav") -> None:
        self.base_dir = Path(base_dir)
        self.suffix = suffix

    def begin(self, kind: Kind, *, call_id: str, ani: str, dnis: str, flow: str, state: str,
              started: dt.datetime, mailbox: str | None = None,
              extra: dict[str, Any] | None = None) -> RecordingTarget:
        """Reserve a file for a new recording and write its first metadata."""
        if kind not in ("record", "voicemail"):
            raise ValueError(f"kind must be 'record' or 'voicemail', not {kind!r}")
        if kind == "voicemail" and not mailbox:
            raise ValueError("a voicemail needs a mailbox")
        if started.tzinfo is None:
            raise ValueError("started must carry a time zone")
        folder = Path(kind)
        if kind == "voicemail":
            folder /= safe_name(str(mailbox))
        folder /= started.strftime("%Y/%m/%d")
        stem = f"{safe_name(call_id)}-{started.strftime('%H%M%S')}"
        directory = self.base_dir / folder
        try:
            directory.mkdir(parents=True, exist_ok=True)
            sidecar, n = directory / f"{stem}.json", 1
            while True:  # exclusive create: two recordings in one second get -2, -3 …
                try:
                    sidecar.open("x").close()
                    break
                except FileExistsError:
                    n += 1
                    sidecar = directory / f"{stem}-{n}.json"
        except OSError as exc:
            raise RecordingError(f"cannot reserve a recording in {directory}: {exc}") from exc
        meta = RecordingMeta(
            id=(folder / sidecar.stem).as_posix(), kind=kind, call_id=call_id, ani=ani,
            dnis=dnis, flow=flow, state=state, started=started.isoformat(), mailbox=mailbox,
            extra=dict(extra or {}))
        target = RecordingTarget(sidecar.with_suffix(self.suffix), sidecar, meta)
        _write_json(sidecar, meta)
        return target

    def finish(self, target: RecordingTarget, *, reason: str,
               duration: float | None = None) -> RecordingMeta:
        """Record how it ended. ``duration`` defaults to the WAV's own length when the file is
        here (0.0 when nothing was recorded)."""
        if duration is None:
            try:
                duration = round(probe_wav(target.audio).duration, 3)
            except (OSError, ValueError):
                duration = 0.0
        meta = replace(target.meta, reason=reason, duration=duration)
        _write_json(target.sidecar, meta)
        return meta

    def read(self, recording_id: str) -> RecordingMeta:
        """The metadata of one recording, by id."""
        path = (self.base_dir / f"{recording_id}.json").resolve()
        if not path.is_relative_to(self.base_dir.resolve()):
            raise RecordingError(f"not a recording id: {recording_id!r}")
        return _read_json(path)

    def audio_path(self, meta: RecordingMeta) -> Path:
        return self.base_dir / f"{meta.id}{self.suffix}"

    def list(self, *, kind: Kind | None = None, mailbox: str | None = None,
             call_id: str | None = None) -> list[RecordingMeta]:
        """Recordings, oldest first, filtered by kind, mailbox or call."""
        if mailbox is not None:
            roots = [self.base_dir / "voicemail" / safe_name(mailbox)]
        else:
            roots = [self.base_dir / k for k in ((kind,) if kind else ("record", "voicemail"))]
        found = [_read_json(p) for root in roots for p in root.rglob("*.json")
                 if p.stat().st_size]  # an empty sidecar is being reserved right now
        found = [m for m in found if (kind is None or m.kind == kind)
                 and (call_id is None or m.call_id == call_id)]
        return sorted(found, key=lambda m: (m.started, m.id))


def _write_json(path: Path, meta: RecordingMeta) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    try:
        temp.write_text(json.dumps(asdict(meta), ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise RecordingError(f"cannot write {path}: {exc}") from exc


def _read_json(path: Path) -> RecordingMeta:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return RecordingMeta(**data)
    except FileNotFoundError as exc:
        raise RecordingError(f"no recording metadata at {path}") from exc
    except (OSError, ValueError, TypeError) as exc:
        raise RecordingError(f"unreadable recording metadata {path}: {exc}") from exc
