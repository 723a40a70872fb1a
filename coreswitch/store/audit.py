"""The append-only audit log: who did what to which subject, and when.

The module offers :func:`append` and reads, nothing else. Rows cannot be changed or deleted
through the ORM either: a flush that would update or delete an :class:`AuditEntry`, and a bulk
``UPDATE``/``DELETE`` statement on ``audit_log``, raise :class:`AuditLogIsAppendOnly`. The
migration adds database triggers refusing the same for anyone who goes round the ORM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column

from coreswitch.store.base import Base, UTCDateTime, utcnow


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to update or delete an audit row."""


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    who: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def append(session: Session, *, who: str, action: str, subject: str,
           detail: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEntry:
    """Add one row to the audit log (committed with the caller's transaction)."""
    row = AuditEntry(at=at or utcnow(), who=who, action=action, subject=subject,
                     detail=dict(detail or {}))
    session.add(row)
    session.flush()
    return row


def entries(session: Session, *, subject: str | None = None, action: str | None = None,
            limit: int = 1000) -> Sequence[AuditEntry]:
    """Audit rows, oldest first, optionally for one subject and/or action."""
    query = select(AuditEntry).order_by(AuditEntry.id)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return session.scalars(query.limit(limit)).all()


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(mapper: Mapper[Any], connection: Connection, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit row {target.id} cannot be changed")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(mapper: Mapper[Any], connection: Connection, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit row {target.id} cannot be deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) == AuditEntry.__tablename__:
        raise AuditLogIsAppendOnly("audit_log rows cannot be updated or deleted")
