"""events.clip_parts: the clips after the first of an event longer than one clip.

Revision ID: 7e3b91c4d2a6
Revises: 5e1f3a9c7d20
Create Date: 2026-12-03 17:30:00

An event longer than ``record.max_clip`` has its footage cut into consecutive clips (issue 12):
``events.clip`` names the first, as before, and the new ``events.clip_parts`` (a JSON list of
paths relative to the data directory, as ``clip``) the ones after it. Rows written before hold
NULL: one clip (or none). ``downgrade`` drops the column; the later clips' files stay on disk
and are still found (by the event id their names start with) when the event is deleted.

Runs on SQLite and PostgreSQL: Alembic operations only (batch mode for SQLite's ALTER TABLE).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "7e3b91c4d2a6"
down_revision: str | Sequence[str] | None = "5e1f3a9c7d20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not context.is_offline_mode() and "clip_parts" in _columns("events"):
        return  # made by a create_all of these models before migrations ran (the baseline's case)
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("clip_parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("clip_parts")


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}
