"""The model registry's rows: trained models, the clips each was trained on, queued retrains.

Rows only: promotion, tainting and the model files are ``hearthcam.learn.registry``'s.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base


class ModelRow(Base):
    """One trained model and its lineage."""

    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created: Mapped[float] = mapped_column(Float, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    parent: Mapped[str | None] = mapped_column(String(32), nullable=True)
    code_version: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[Any] = mapped_column(JSON)
    manifest: Mapped[Any] = mapped_column(JSON)  # {"clips": [{"share", "receipt"}], ...}
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    promoted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(String(512), default="")


class LineageRow(Base):
    """One clip in one model's dataset (indexed, so a withdrawal finds its models at once)."""

    __tablename__ = "model_clips"

    model_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    share_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


class RetrainRow(Base):
    """A queued retrain."""

    __tablename__ = "retrain_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(512))
    excluded: Mapped[Any] = mapped_column(JSON)  # share ids the retrain must leave out
