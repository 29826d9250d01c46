"""Shares' history: the shares.history column (every status move: when, what, who).

Revision ID: 9d4c2e61b7f3
Revises: 5b8e2d97a1c4
Create Date: 2026-12-03 21:40:00

A nullable JSON column; shares made before it read as having no history (their moves so far
were not recorded). Alembic operations only (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d4c2e61b7f3"
down_revision: str | Sequence[str] | None = "5b8e2d97a1c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shares") as batch:
        batch.add_column(sa.Column("history", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shares") as batch:
        batch.drop_column("history")
