"""The data store (SQLAlchemy 2, Alembic migrations; SQLite by default, PostgreSQL in production).

Modules, one table group each: :mod:`~coreswitch.store.flows` (published flow versions and the
live pointer), :mod:`~coreswitch.store.audit` (append-only audit log),
:mod:`~coreswitch.store.calls` (call detail records), :mod:`~coreswitch.store.queue_log` (ACD
events), :mod:`~coreswitch.store.work_orders` (work orders, numbered by the database).
:class:`Database` runs all session work in a worker thread so the event loop never blocks.
``Base.metadata`` holds every table; the migrations in ``coreswitch/store/migrations`` create
exactly that schema.
"""

from coreswitch.store import audit, calls, flows, queue_log, work_orders
from coreswitch.store.audit import AuditEntry, AuditLogIsAppendOnly
from coreswitch.store.base import Base, UTCDateTime, utcnow
from coreswitch.store.calls import CallRecord
from coreswitch.store.database import DEFAULT_URL, Database
from coreswitch.store.flows import FlowLive, FlowVersion
from coreswitch.store.work_orders import WorkOrder

metadata = Base.metadata

__all__ = [
    "DEFAULT_URL",
    "AuditEntry",
    "AuditLogIsAppendOnly",
    "Base",
    "CallRecord",
    "Database",
    "FlowLive",
    "FlowVersion",
    "UTCDateTime",
    "WorkOrder",
    "audit",
    "calls",
    "flows",
    "metadata",
    "queue_log",
    "utcnow",
    "work_orders",
]
