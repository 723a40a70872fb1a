"""Work orders (工单) that flows create, and how they are numbered.

A number is the day of the call (``YYYYMMDD`` on the call's clock, in the flow's time zone)
followed by that day's sequence, six digits at least: ``20261123000001``. The sequence comes from
one counter row per day in ``work_order_counters``, advanced by a single atomic statement::

    INSERT INTO work_order_counters (day, last) VALUES (:day, 1)
    ON CONFLICT (day) DO UPDATE SET last = work_order_counters.last + 1
    RETURNING last

run in the same transaction that inserts the order. So numbers are

* **unique across restarts and across nodes** sharing the database: the counter lives in the
  database, and concurrent allocations of a day are serialised by it (PostgreSQL locks the
  counter row until the transaction ends; SQLite has one writer at a time);
* **gap-free**: an order whose insert fails takes its number back with it (the counter update is
  rolled back), so a missing number means a missing order — which matters for orders that must
  be impossible to conceal, such as misconduct reports (举报).

An autoincrement id would also be unique, but it never restarts at 1 each day as the numbers the
centres use do, and PostgreSQL sequences skip values on every rollback. The counter row is a
hot spot only if a deployment creates hundreds of orders a second, far beyond any call centre.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, Integer, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from coreswitch.store.base import Base, UTCDateTime

#: Digits of the day's sequence in a number (more only past 999,999 orders in a day).
SEQUENCE_DIGITS = 6


class WorkOrderCounter(Base):
    """The last sequence number given out on a day."""

    __tablename__ = "work_order_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # YYYYMMDD
    last: Mapped[int] = mapped_column(Integer)


class WorkOrder(Base):
    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    department: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str | None] = mapped_column(String(40))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    ani: Mapped[str] = mapped_column(String(64))
    dnis: Mapped[str] = mapped_column(String(64))
    flow_name: Mapped[str] = mapped_column(String(200))
    flow_version: Mapped[int | None] = mapped_column(Integer)
    flow_state: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def next_number(session: Session, day: str) -> str:
    """Allocate the next number of ``day`` (``YYYYMMDD``); committed with the caller's
    transaction, rolled back with it."""
    if len(day) != 8 or not day.isdigit():
        raise ValueError(f"day must be YYYYMMDD, got {day!r}")
    dialect = session.get_bind().dialect.name
    table = cast(Table, WorkOrderCounter.__table__)
    if dialect == "postgresql":
        stmt: postgresql.Insert | sqlite.Insert = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"work order numbers on {dialect}: PostgreSQL or SQLite only")
    upsert = stmt.values(day=day, last=1).on_conflict_do_update(
        index_elements=[WorkOrderCounter.day],
        set_={"last": WorkOrderCounter.last + 1},
    ).returning(WorkOrderCounter.last)
    seq = session.execute(upsert).scalar_one()
    return f"{day}{seq:0{SEQUENCE_DIGITS}d}"


def create(session: Session, *, created_at: datetime, type: str, department: str | None,
           priority: str | None, fields: Mapping[str, Any], call_id: str, ani: str, dnis: str,
           flow_name: str, flow_version: int | None, flow_state: str) -> WorkOrder:
    """Number and insert a work order. The day of the number is ``created_at``'s date as
    given (pass the call's local time); the row stores ``created_at`` in UTC."""
    row = WorkOrder(number=next_number(session, f"{created_at:%Y%m%d}"), type=type,
                    department=department, priority=priority, fields=dict(fields),
                    call_id=call_id, ani=ani, dnis=dnis, flow_name=flow_name,
                    flow_version=flow_version, flow_state=flow_state, created_at=created_at)
    session.add(row)
    session.flush()
    return row


def get(session: Session, number: str) -> WorkOrder | None:
    return session.scalar(select(WorkOrder).where(WorkOrder.number == number))


def of_call(session: Session, call_id: str) -> Sequence[WorkOrder]:
    """The orders a call created, in order."""
    return session.scalars(
        select(WorkOrder).where(WorkOrder.call_id == call_id).order_by(WorkOrder.id)).all()
