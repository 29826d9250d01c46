"""The view log's rows: its entries, its head (size and compact range) and signed checkpoints.

Rows only: the entry format, the Merkle math and the signing are ``hearthcam.viewlog``'s.
"""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, WideInteger


class ViewRow(Base):
    """One entry: its index, its exact canonical bytes and its leaf hash."""

    __tablename__ = "audit_views"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    viewer_id: Mapped[int] = mapped_column(Integer, index=True)
    clip_id: Mapped[str] = mapped_column(String(128), index=True)
    time_ms: Mapped[int] = mapped_column(WideInteger, index=True)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    leaf: Mapped[bytes] = mapped_column(LargeBinary(32))


class HeadRow(Base):
    """The tree's size and compact range (one row), so appending costs O(log n)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)  # the compact range, 32 bytes a node


class CheckpointRow(Base):
    """A signed tree head."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer, index=True)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    time_ms: Mapped[int] = mapped_column(WideInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
