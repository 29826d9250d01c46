"""Shares' pre-labels: the shares.prelabels column (the workbench's boxes, found on the original
frames before redaction and stored with the published copy).

Revision ID: 5b8e2d97a1c4
Revises: 7e3b91c4d2a6
Create Date: 2026-12-03 18:20:00

A nullable JSON column; shares published before it read as having none (the workbench then
falls back to detecting on the redacted copy). Alembic operations only (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8e2d97a1c4"
down_revision: str | Sequence[str] | None = "7e3b91c4d2a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shares") as batch:
        batch.add_column(sa.Column("prelabels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shares") as batch:
        batch.drop_column("prelabels")
