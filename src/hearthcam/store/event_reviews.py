"""Which events a household has looked at: one row per reviewed event.

A side table, not a column on ``events``: the pipeline rewrites an event's row while it is open
and must not know about, or race with, what a person did in the browser. The row goes with its
event (``ON DELETE CASCADE``; ``store.event_query`` reads and writes it, filtered in SQL).
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base


class EventReviewRow(Base):
    """An event someone in its household marked reviewed, and when."""

    __tablename__ = "event_reviews"

    event_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    reviewed_at: Mapped[float] = mapped_column(Float)
