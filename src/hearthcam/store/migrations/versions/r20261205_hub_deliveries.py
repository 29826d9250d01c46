"""Hub deliveries: which shared clips this home sent to its review hub, and their fate there.

Revision ID: 5b2e7c9a1f03
Revises: 3f6a1d8e9c24
Create Date: 2026-12-05 03:00:00

One new table, nothing else changes. A row outlives its share (a deletion at the hub is retried
until the hub answers, and its signed receipt is kept). Alembic operations only (SQLite and
PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b2e7c9a1f03"
down_revision: str | Sequence[str] | None = "3f6a1d8e9c24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hub_deliveries",
        sa.Column("share_id", sa.String(length=32), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("hub_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("sent", sa.Float(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("deletion", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("share_id"),
        sa.UniqueConstraint("clip_id"),
    )
    op.create_index("ix_hub_deliveries_household_id", "hub_deliveries", ["household_id"])
    op.create_index("ix_hub_deliveries_state", "hub_deliveries", ["state"])


def downgrade() -> None:
    op.drop_index("ix_hub_deliveries_state", table_name="hub_deliveries")
    op.drop_index("ix_hub_deliveries_household_id", table_name="hub_deliveries")
    op.drop_table("hub_deliveries")
