"""The queue log table: every ACD event, the input of every KPI (see coreswitch.acd.queue_log)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from coreswitch.store.base import Base, UTCDateTime


class QueueLogRow(Base):
    __tablename__ = "queue_log"
    __table_args__ = (Index("ix_queue_log_queue_at", "queue", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    queue: Mapped[str] = mapped_column(String(200))
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    node: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
