"""Wide integers on PostgreSQL: the view log's millisecond times and an export's size in bytes.

Revision ID: 3f8a6c1d9e57
Revises: 9d4c2e61b7f3
Create Date: 2026-12-04 06:00:00

PostgreSQL's INTEGER is 32 bits, too small for milliseconds since 1970 (``audit_views.time_ms``,
``audit_checkpoints.time_ms``: the first view logged failed there) and for an export over 2 GiB
(``exports.size``); they become BIGINT, every value kept. SQLite's INTEGER holds 64 bits
already, so nothing changes there (the models keep INTEGER on SQLite: ``store.db.WideInteger``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f8a6c1d9e57"
down_revision: str | Sequence[str] | None = "9d4c2e61b7f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    ("audit_views", "time_ms", False),
    ("audit_checkpoints", "time_ms", False),
    ("exports", "size", True),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(
            table, column, type_=sa.BigInteger(), existing_type=sa.Integer(),
            existing_nullable=nullable,
        )  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(
            table, column, type_=sa.Integer(), existing_type=sa.BigInteger(),
            existing_nullable=nullable,
        )  # fmt: skip
