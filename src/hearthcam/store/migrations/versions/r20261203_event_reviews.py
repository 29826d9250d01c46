"""Reviewed events: the event_reviews table (one row per event a household marked reviewed),
and on SQLite the timeline's index (``ix_events_listing``, see ``store.db``).

Revision ID: 7e3b9a41c5d2
Revises: 2c7d0b610f4d
Create Date: 2026-12-03 17:10:00

A new table; every existing event reads as unreviewed. Its rows go with their event
(``ON DELETE CASCADE``). Alembic operations only, so it runs on SQLite and PostgreSQL alike; the
index is made on SQLite only (PostgreSQL has no B-tree over json).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7e3b9a41c5d2"
down_revision: str | Sequence[str] | None = "2c7d0b610f4d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LISTING = ["wall_start", "camera", "verdict", "alert", "labels", "zones"]


def upgrade() -> None:
    op.create_table(
        "event_reviews",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("reviewed_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_events_listing", "events", LISTING)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_events_listing", "events")
    op.drop_table("event_reviews")
