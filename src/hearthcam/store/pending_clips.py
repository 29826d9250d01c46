"""Clips that could not be cut yet because their household's recordings are locked.

In password mode (``store.keys``) a household's media can be written while it is locked (keys
are wrapped to its public key) but not read, and cutting a clip reads the recorded segments.
The camera pipeline then records the event's clip window here instead of losing it; when the
owner signs in and the household is unlocked, the runtime cuts every pending clip from the
segments (which retention keeps or deletes as usual: a window whose segments are gone is
dropped with a log line).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Float, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, Store


class _PendingClipRow(Base):
    __tablename__ = "pending_clips"

    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    camera: Mapped[str] = mapped_column(String(64), index=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)


@dataclass(frozen=True, slots=True)
class PendingClip:
    """An event's clip window waiting for its household to be unlocked."""

    event_id: str
    camera: str
    start: float
    end: float


class PendingClips:
    """The pending_clips table over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, clip: PendingClip) -> None:
        """Records (or replaces) an event's pending clip window."""
        with self._store.write_session() as session:
            session.merge(_PendingClipRow(event_id=clip.event_id, camera=clip.camera,
                                          start=clip.start, end=clip.end))  # fmt: skip

    def of_camera(self, camera: str) -> list[PendingClip]:
        """A camera's pending clips, oldest window first."""
        query = select(_PendingClipRow).where(_PendingClipRow.camera == camera)
        with self._store.read_session() as session:
            rows = session.scalars(query.order_by(_PendingClipRow.start))
            return [PendingClip(r.event_id, r.camera, r.start, r.end) for r in rows]

    def windows(self) -> list[PendingClip]:
        """Every camera's pending clips (retention keeps the segments they will be cut from)."""
        with self._store.read_session() as session:
            rows = session.scalars(select(_PendingClipRow).order_by(_PendingClipRow.start))
            return [PendingClip(r.event_id, r.camera, r.start, r.end) for r in rows]

    def remove(self, event_id: str) -> None:
        """Forgets an event's pending clip (cut, or the event is gone)."""
        with self._store.write_session() as session:
            session.execute(delete(_PendingClipRow).where(_PendingClipRow.event_id == event_id))
