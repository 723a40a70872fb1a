"""Call detail records (CDR): one row per call, written by the runtime.

The row is added when a call starts (:func:`start_call`) and completed when it ends
(:func:`end_call`). It names the exact flow version that ran the call (id and content hash), so a
call can be replayed against the source it met even after later publishes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coreswitch.store.base import Base, UTCDateTime, utcnow


class CallRecord(Base):
    __tablename__ = "call_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_uuid: Mapped[str] = mapped_column(String(64), unique=True)
    ani: Mapped[str] = mapped_column(String(64))
    dnis: Mapped[str] = mapped_column(String(64), index=True)
    flow_name: Mapped[str | None] = mapped_column(String(200))
    flow_version_id: Mapped[int | None] = mapped_column(ForeignKey("flow_versions.id"))
    flow_hash: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    end_state: Mapped[str | None] = mapped_column(String(200))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


def start_call(session: Session, *, call_uuid: str, ani: str, dnis: str,
               flow_name: str | None = None, flow_version_id: int | None = None,
               flow_hash: str | None = None, started_at: datetime | None = None) -> CallRecord:
    row = CallRecord(call_uuid=call_uuid, ani=ani, dnis=dnis, flow_name=flow_name,
                     flow_version_id=flow_version_id, flow_hash=flow_hash,
                     started_at=started_at or utcnow(), transcript=[])
    session.add(row)
    session.flush()
    return row


def end_call(session: Session, call_uuid: str, *, hangup_cause: str,
             end_state: str | None = None, answered_at: datetime | None = None,
             ended_at: datetime | None = None,
             transcript: list[dict[str, Any]] | None = None) -> CallRecord:
    """Complete the record of a call. Raises ``LookupError`` if it was never started."""
    row = get_call(session, call_uuid)
    if row is None:
        raise LookupError(f"no call record for {call_uuid}")
    row.hangup_cause = hangup_cause
    row.end_state = end_state
    if answered_at is not None:
        row.answered_at = answered_at
    row.ended_at = ended_at or utcnow()
    if transcript is not None:
        row.transcript = list(transcript)
    session.flush()
    return row


def get_call(session: Session, call_uuid: str) -> CallRecord | None:
    return session.scalar(select(CallRecord).where(CallRecord.call_uuid == call_uuid))
