"""Enrolment links: one-time links for a new user (or a TOTP reset) to set a password and TOTP.

Revision ID: 5e1f3a9c7b22
Revises: 7e3b9a41c5d2
Create Date: 2026-12-03 17:20:00

A new table only; Alembic operations, so it runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f3a9c7b22"
down_revision: str | Sequence[str] | None = "7e3b9a41c5d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "enrolment_links",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("used", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrolment_links_user_id", "enrolment_links", ["user_id"], unique=True)


def downgrade() -> None:
    op.drop_table("enrolment_links")
