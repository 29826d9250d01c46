"""Familiar faces: the per-household switch, enrolled people (with consent receipts), their
sealed faces, and which events recognised whom.

Revision ID: 3f6a1d8e9c24
Revises: 3f8a6c1d9e57
Create Date: 2026-12-04 06:10:00

Four new tables, nothing else changes; a sighting goes with its event (ON DELETE CASCADE).
A face's descriptor and photo are sealed bytes whose key is in media_keys (blob id
``row:familiar-face:<id>``). Alembic operations only (SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6a1d8e9c24"
down_revision: str | Sequence[str] | None = "3f8a6c1d9e57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "familiar_switch",
        sa.Column("household_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed", sa.Float(), nullable=False),
        sa.Column("changed_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("household_id"),
    )
    op.create_table(
        "familiar_people",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("consent_by", sa.String(length=128), nullable=False),
        sa.Column("consent_at", sa.Float(), nullable=False),
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("consent_digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_familiar_people_household_id", "familiar_people", ["household_id"])
    op.create_table(
        "familiar_faces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["familiar_people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_familiar_faces_person_id", "familiar_faces", ["person_id"])
    op.create_index("ix_familiar_faces_household_id", "familiar_faces", ["household_id"])
    op.create_table(
        "familiar_sightings",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("wall", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["familiar_people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "person_id"),
    )
    op.create_index("ix_familiar_sightings_person_id", "familiar_sightings", ["person_id"])


def downgrade() -> None:
    op.drop_table("familiar_sightings")
    op.drop_table("familiar_faces")
    op.drop_table("familiar_people")
    op.drop_table("familiar_switch")
