"""The ACD queue log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("queue", sa.String(length=200), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue_log")),
    )
    op.create_index(op.f("ix_queue_log_at"), "queue_log", ["at"])
    op.create_index(op.f("ix_queue_log_event"), "queue_log", ["event"])
    op.create_index(op.f("ix_queue_log_call_id"), "queue_log", ["call_id"])
    op.create_index(op.f("ix_queue_log_agent"), "queue_log", ["agent"])
    op.create_index("ix_queue_log_queue_at", "queue_log", ["queue", "at"])


def downgrade() -> None:
    op.drop_table("queue_log")
