"""Hub baseline: the hub's tables before migrations (commit 43e2160), table by table.

Revision ID: 7e4b9d2a6c31
Revises:
Create Date: 2026-12-05 09:00:00

A hub made before its tables had migrations holds some or all of them: each was made by
``metadata.create_all`` when a hub process opened the database, and later versions added tables
(the checks, the workbench's leases and annotations, the clips' features) but never changed one.
The baseline therefore creates only the tables a database lacks, and Alembic then records it at
this revision in ``hub_alembic_version`` like a fresh one. Every later revision may count on all
of them. The home's tables in the same database (the hub's accounts and view log) are the home's
revisions' to make.

Runs on SQLite and PostgreSQL: Alembic operations only (no raw SQL, no dialect-only types).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "7e4b9d2a6c31"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    present = set() if context.is_offline_mode() else _present_tables()
    for name, create in _TABLES:
        if name not in present:
            create()


def downgrade() -> None:
    for name, _create in reversed(_TABLES):
        op.drop_table(name)  # its indexes go with it


def _present_tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


# Linking ------------------------------------------------------------------------------------------


def _hub_link_codes() -> None:
    op.create_table(
        "hub_link_codes",
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("code_sha256"),
    )


def _hub_homes() -> None:
    op.create_table(
        "hub_homes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("linked_at", sa.Float(), nullable=False),
        sa.Column("unlinked_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
    )


# Clips --------------------------------------------------------------------------------------------


def _hub_clips() -> None:
    op.create_table(
        "hub_clips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("receipt_digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("keep_until", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file", sa.String(length=64), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["home_id"], ["hub_homes.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file"),
        sa.UniqueConstraint("home_id", "clip_id"),
    )


def _hub_clip_features() -> None:
    op.create_table(
        "hub_clip_features",
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("vector", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("home_id", "clip_id"),
    )


def _hub_clip_checks() -> None:
    op.create_table(
        "hub_clip_checks",
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("home_id", "clip_id"),
    )


# Models -------------------------------------------------------------------------------------------


def _hub_models() -> None:
    op.create_table(
        "hub_models",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("retired_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


# Workbench ----------------------------------------------------------------------------------------


def _hub_leases() -> None:
    op.create_table(
        "hub_leases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("taken_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hub_leases_annotator_id", "hub_leases", ["annotator_id"])
    op.create_index("ix_hub_leases_clip", "hub_leases", ["home_id", "clip_id", "state"])


def _hub_annotations() -> None:
    op.create_table(
        "hub_annotations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("home_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("lease_id", sa.String(length=32), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("keyframes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lease_id"),
    )
    op.create_index("ix_hub_annotations_clip", "hub_annotations", ["home_id", "clip_id"])


# Creation order: a table after the tables its foreign keys name.
_TABLES: tuple[tuple[str, Callable[[], None]], ...] = (
    ("hub_link_codes", _hub_link_codes),
    ("hub_homes", _hub_homes),
    ("hub_clips", _hub_clips),
    ("hub_clip_features", _hub_clip_features),
    ("hub_clip_checks", _hub_clip_checks),
    ("hub_models", _hub_models),
    ("hub_leases", _hub_leases),
    ("hub_annotations", _hub_annotations),
)
