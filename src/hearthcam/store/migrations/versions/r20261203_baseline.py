"""Baseline: the schema of hearthcam before migrations (commit 17fe8fb), table by table.

Revision ID: 0c1a7f5e2b10
Revises:
Create Date: 2026-12-03 14:05:09

A database made before migrations existed already has some or all of these tables: older
versions created most of them at start and the rest when their module was first used. The
baseline therefore creates only the tables a database lacks, and Alembic then records it at
this revision like a fresh one. Every later revision may count on all of them.

Runs on SQLite and PostgreSQL: Alembic operations only (no raw SQL, no dialect-only types).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0c1a7f5e2b10"
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


# Recordings ---------------------------------------------------------------------------------------


def _segments() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    op.create_index("ix_segments_camera_start", "segments", ["camera", "start"])
    op.create_index("ix_segments_end", "segments", ["end"])


def _gaps() -> None:
    op.create_table(
        "gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gaps_camera_start", "gaps", ["camera", "start"])
    op.create_index("ix_gaps_end", "gaps", ["end"])


def _events() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("wall_start", sa.Float(), nullable=False),
        sa.Column("wall_end", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("tracks", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.String(length=1024), nullable=True),
        sa.Column("clip", sa.String(length=1024), nullable=True),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_camera_wall_start", "events", ["camera", "wall_start"])
    op.create_index("ix_events_finished", "events", ["finished"])
    op.create_index("ix_events_verdict", "events", ["verdict"])
    op.create_index("ix_events_wall_end", "events", ["wall_end"])
    op.create_index("ix_events_wall_start", "events", ["wall_start"])


# Accounts -----------------------------------------------------------------------------------------


def _households() -> None:
    op.create_table(
        "households",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _users() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=True),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("totp_enabled", sa.Boolean(), nullable=False),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("last_login", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username_key"),
    )
    op.create_index("ix_users_household_id", "users", ["household_id"])


def _sessions() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("mfa_passed", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sessions_expires", "sessions", ["expires"])
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])


def _recovery_codes() -> None:
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recovery_codes_user_id", "recovery_codes", ["user_id"])


def _camera_households() -> None:
    op.create_table(
        "camera_households",
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera"),
    )
    op.create_index("ix_camera_households_household_id", "camera_households", ["household_id"])


def _login_attempts() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username_key", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])
    op.create_index("ix_login_attempts_ip_at", "login_attempts", ["ip", "at"])
    op.create_index("ix_login_attempts_user_at", "login_attempts", ["username_key", "at"])


# Settings, shares, pending clips, push, review ----------------------------------------------------


def _settings() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def _shares() -> None:
    op.create_table(
        "shares",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=False),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shares_event_id", "shares", ["event_id"])
    op.create_index("ix_shares_expires", "shares", ["expires"])
    op.create_index("ix_shares_household_id", "shares", ["household_id"])
    op.create_index("ix_shares_status", "shares", ["status"])


def _share_counters() -> None:
    op.create_table(
        "share_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def _pending_clips() -> None:
    op.create_table(
        "pending_clips",
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("camera", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_pending_clips_camera", "pending_clips", ["camera"])


def _push_subscriptions() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("p256dh", sa.String(length=128), nullable=False),
        sa.Column("auth", sa.String(length=64), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint"),
    )
    op.create_index("ix_push_subscriptions_household_id", "push_subscriptions", ["household_id"])
    op.create_index("ix_push_subscriptions_user_id", "push_subscriptions", ["user_id"])


def _review_leases() -> None:
    op.create_table(
        "review_leases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("share_id", sa.String(length=32), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.Column("ended", sa.Float(), nullable=True),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_leases_annotator_id", "review_leases", ["annotator_id"])
    op.create_index("ix_review_leases_created", "review_leases", ["created"])
    op.create_index("ix_review_leases_expires", "review_leases", ["expires"])
    op.create_index("ix_review_leases_share_id", "review_leases", ["share_id"])
    op.create_index("ix_review_leases_state", "review_leases", ["state"])
    op.create_index(
        "ux_review_leases_active_annotator",
        "review_leases",
        ["annotator_id"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_index(
        "ux_review_leases_active_share",
        "review_leases",
        ["share_id"],
        unique=True,
        sqlite_where=sa.text("state = 'active'"),
        postgresql_where=sa.text("state = 'active'"),
    )


def _review_annotations() -> None:
    op.create_table(
        "review_annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("share_id", sa.String(length=32), nullable=False),
        sa.Column("lease_id", sa.String(length=32), nullable=False),
        sa.Column("annotator_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.Column("keyframes", sa.JSON(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lease_id"),
    )
    op.create_index("ix_review_annotations_annotator_id", "review_annotations", ["annotator_id"])
    op.create_index("ix_review_annotations_share_id", "review_annotations", ["share_id"])


# Key ring -----------------------------------------------------------------------------------------


def _household_keys() -> None:
    op.create_table(
        "household_keys",
        sa.Column("household_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("public", sa.LargeBinary(), nullable=False),
        sa.Column("public_tag", sa.LargeBinary(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=True),
        sa.Column("kdf_time", sa.Integer(), nullable=True),
        sa.Column("kdf_memory", sa.Integer(), nullable=True),
        sa.Column("kdf_parallelism", sa.Integer(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("household_id"),
    )


def _media_keys() -> None:
    op.create_table(
        "media_keys",
        sa.Column("blob_id", sa.String(length=1024), nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("blob_id"),
    )
    op.create_index("ix_media_keys_household_id", "media_keys", ["household_id"])


# View log -----------------------------------------------------------------------------------------


def _audit_views() -> None:
    op.create_table(
        "audit_views",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("household_id", sa.Integer(), nullable=False),
        sa.Column("viewer_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.String(length=128), nullable=False),
        sa.Column("time_ms", sa.Integer(), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("leaf", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
    )
    op.create_index("ix_audit_views_clip_id", "audit_views", ["clip_id"])
    op.create_index("ix_audit_views_household_id", "audit_views", ["household_id"])
    op.create_index("ix_audit_views_time_ms", "audit_views", ["time_ms"])
    op.create_index("ix_audit_views_viewer_id", "audit_views", ["viewer_id"])


def _audit_head() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _audit_checkpoints() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("time_ms", sa.Integer(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_checkpoints_size", "audit_checkpoints", ["size"])


# Model registry -----------------------------------------------------------------------------------


def _models() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("parent", sa.String(length=32), nullable=True),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("promoted_at", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_models_created", "models", ["created"])
    op.create_index("ix_models_status", "models", ["status"])


def _model_clips() -> None:
    op.create_table(
        "model_clips",
        sa.Column("model_id", sa.String(length=32), nullable=False),
        sa.Column("share_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "share_id"),
    )
    op.create_index("ix_model_clips_share_id", "model_clips", ["share_id"])


def _retrain_queue() -> None:
    op.create_table(
        "retrain_queue",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=512), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


# Creation order: a table after the tables its foreign keys name.
_TABLES: tuple[tuple[str, Callable[[], None]], ...] = (
    ("segments", _segments),
    ("gaps", _gaps),
    ("events", _events),
    ("households", _households),
    ("users", _users),
    ("sessions", _sessions),
    ("recovery_codes", _recovery_codes),
    ("camera_households", _camera_households),
    ("login_attempts", _login_attempts),
    ("settings", _settings),
    ("shares", _shares),
    ("share_counters", _share_counters),
    ("pending_clips", _pending_clips),
    ("push_subscriptions", _push_subscriptions),
    ("review_leases", _review_leases),
    ("review_annotations", _review_annotations),
    ("household_keys", _household_keys),
    ("media_keys", _media_keys),
    ("audit_views", _audit_views),
    ("audit_head", _audit_head),
    ("audit_checkpoints", _audit_checkpoints),
    ("models", _models),
    ("model_clips", _model_clips),
    ("retrain_queue", _retrain_queue),
)
