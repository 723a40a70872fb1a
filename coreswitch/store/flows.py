"""Published flow versions and which one of each flow is live.

``flow_versions`` keeps every version ever published (source, compiled IR, hash, who, when):
versions are numbered 1, 2, 3 … per flow and never change once written. ``flow_live`` says which
version of each flow serves calls; publish and rollback move it. After a restart (or on another
node) the live set is read back from here.

All functions take a :class:`~sqlalchemy.orm.Session` and run inside the caller's transaction
(see :meth:`coreswitch.store.database.Database.run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from coreswitch.store.base import Base, UTCDateTime, utcnow


class FlowVersion(Base):
    """One published version of a flow. Written once, never updated."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    ir_json: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(80))
    published_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")


class FlowLive(Base):
    """Which version of a flow is live (serves new calls)."""

    __tablename__ = "flow_live"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str] = mapped_column(String(200))


def add_version(session: Session, *, name: str, source: str, ir_json: str, content_hash: str,
                who: str, note: str = "", at: datetime | None = None) -> FlowVersion:
    """Store the next version of ``name`` (numbered after the highest so far)."""
    latest = session.scalar(select(func.max(FlowVersion.version)).where(FlowVersion.name == name))
    row = FlowVersion(name=name, version=(latest or 0) + 1, source=source, ir_json=ir_json,
                      content_hash=content_hash, published_by=who,
                      published_at=at or utcnow(), note=note)
    session.add(row)
    session.flush()
    return row


def get_version(session: Session, name: str, version: int) -> FlowVersion | None:
    return session.scalar(
        select(FlowVersion).where(FlowVersion.name == name, FlowVersion.version == version))


def list_versions(session: Session, name: str) -> Sequence[FlowVersion]:
    """Every version of ``name``, oldest first."""
    return session.scalars(
        select(FlowVersion).where(FlowVersion.name == name).order_by(FlowVersion.version)).all()


def find_by_source(session: Session, name: str, source: str) -> FlowVersion | None:
    """The newest version of ``name`` whose source text is exactly ``source``."""
    return session.scalar(
        select(FlowVersion).where(FlowVersion.name == name, FlowVersion.source == source)
        .order_by(FlowVersion.version.desc()).limit(1))


def set_live(session: Session, version: FlowVersion, who: str,
             at: datetime | None = None) -> None:
    """Make ``version`` the live version of its flow."""
    live = session.get(FlowLive, version.name)
    if live is None:
        session.add(FlowLive(name=version.name, version_id=version.id, since=at or utcnow(),
                             changed_by=who))
    else:
        live.version_id = version.id
        live.since = at or utcnow()
        live.changed_by = who
    session.flush()


def live_versions(session: Session) -> Sequence[FlowVersion]:
    """The live version of every flow, by flow name."""
    return session.scalars(
        select(FlowVersion).join(FlowLive, FlowLive.version_id == FlowVersion.id)
        .order_by(FlowVersion.name)).all()


def live_version(session: Session, name: str) -> FlowVersion | None:
    return session.scalar(
        select(FlowVersion).join(FlowLive, FlowLive.version_id == FlowVersion.id)
        .where(FlowLive.name == name))
