"""Exports of a time range as MP4 (``exports``) and who exported what (``export_audit``).

Revision ID: 5e1f3a9c7d20
Revises: 5e1f3a9c7b22
Create Date: 2026-12-03 17:20:00

Two new tables, nothing else changes: an upgrade creates them empty, a downgrade drops them (the
sealed files under ``<data_dir>/exports/`` are then listed nowhere: delete that folder too).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f3a9c7d20"
down_revision: str | Sequence[str] | None = "5e1f3a9c7b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.String(length=512), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("finished", sa.Float(), nullable=True),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_exports_household_id", "exports", ["household_id"])
    op.create_index("ix_exports_state", "exports", ["state"])
    op.create_index("ix_exports_expires", "exports", ["expires"])
    op.create_table(
        "export_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("export_id", sa.String(length=32), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_export_audit_household_id", "export_audit", ["household_id"])
    op.create_index("ix_export_audit_export_id", "export_audit", ["export_id"])
    op.create_index("ix_export_audit_time", "export_audit", ["time"])


def downgrade() -> None:
    op.drop_table("export_audit")
    op.drop_table("exports")
