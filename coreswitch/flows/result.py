"""The outcome of a publish or rollback, and the JSON shapes the admin API returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from dsl import Diagnostic, render


class PublishStatus(StrEnum):
    PUBLISHED = "published"      # a new version is live
    ROLLED_BACK = "rolled_back"  # an earlier (or later) stored version is live again
    UNCHANGED = "unchanged"      # nothing to do: that content is already live
    REFUSED = "refused"          # nothing changed; see ``reason`` and ``diagnostics``


class Refusal(StrEnum):
    CHECKER = "checker"        # the flow has errors
    NAME = "name"              # the source declares another flow name
    DNIS = "dnis"              # a DNIS number is already served by another flow
    PRERENDER = "prerender"    # prompts could not be rendered
    DUPLICATE = "duplicate"    # two files of one directory load declare the same flow
    UNREADABLE = "unreadable"  # the file cannot be read as UTF-8 text


@dataclass(frozen=True)
class PublishResult:
    status: PublishStatus
    name: str
    #: the live version after the operation (None when the flow has none)
    version: int | None = None
    content_hash: str | None = None
    previous_version: int | None = None
    message: str = ""
    refusal: Refusal | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    #: the source the diagnostics refer to and the file name they are rendered with
    source: str = field(default="", repr=False)
    filename: str = "<source>"

    @property
    def ok(self) -> bool:
        return self.status is not PublishStatus.REFUSED

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def rendered(self) -> list[str]:
        """Each diagnostic as ``coreswitch check`` prints it (source line, caret, hint)."""
        return [render(d, self.filename, self.source) for d in self.diagnostics]

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "name": self.name,
            "version": self.version,
            "content_hash": self.content_hash,
            "previous_version": self.previous_version,
            "message": self.message,
            "refusal": self.refusal.value if self.refusal else None,
            "diagnostics": diagnostics_json(self.diagnostics, self.filename, self.source),
            "rendered": "\n\n".join(self.rendered()),
        }


def diagnostics_json(diags: Sequence[Diagnostic], filename: str, source: str
                     ) -> list[dict[str, Any]]:
    return [{
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "line": d.span.line,
        "col": d.span.col,
        "end_line": d.span.end_line,
        "end_col": d.span.end_col,
        "hint": d.hint,
        "rendered": render(d, filename, source),
    } for d in diags]


@dataclass(frozen=True)
class VersionInfo:
    """One stored version of a flow (``source`` only when asked for)."""

    name: str
    version: int
    version_id: int
    content_hash: str
    published_by: str
    published_at: datetime
    note: str
    live: bool
    source: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name, "version": self.version, "content_hash": self.content_hash,
            "published_by": self.published_by, "published_at": self.published_at.isoformat(),
            "note": self.note, "live": self.live,
        }
        if self.source is not None:
            out["source"] = self.source
        return out


@dataclass(frozen=True)
class Validation:
    """The checker's verdict on a source text, without publishing it."""

    name: str | None
    content_hash: str | None
    diagnostics: tuple[Diagnostic, ...]
    source: str = field(default="", repr=False)
    filename: str = "<source>"

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def to_json(self) -> dict[str, Any]:
        rendered = [render(d, self.filename, self.source) for d in self.diagnostics]
        return {
            "ok": self.ok, "name": self.name, "content_hash": self.content_hash,
            "diagnostics": diagnostics_json(self.diagnostics, self.filename, self.source),
            "rendered": "\n\n".join(rendered),
        }
