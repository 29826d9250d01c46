"""What the history page draws for one camera and a stretch of time: the recorded spans (its
segments merged where one follows the next), and its events as markers.

Reads only the columns it needs (no media paths, no tracks): a week of 1-minute segments is
ten thousand rows. A sibling store module, so it uses db.py's row models (as event_query does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import select

from hearthcam.store.db import Store, _EventRow, _SegmentRow
from hearthcam.types import Verdict

# Segments closer than this are one span: the recorder cuts the next segment at the keyframe
# after the last packet of the one before, so adjacent segments differ only by arrival jitter.
JOIN_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of continuous recording (wall seconds)."""

    start: float
    end: float
    segments: int


@dataclass(frozen=True, slots=True)
class Marker:
    """An event on the history timeline."""

    id: str
    start: float
    end: float
    verdict: Verdict
    labels: tuple[str, ...]


def merge_spans(times: list[tuple[float, float]], join: float = JOIN_SECONDS) -> list[Span]:
    """Merges (start, end) pairs sorted by start into spans (overlapping or ``join`` apart)."""
    spans: list[Span] = []
    for start, end in times:
        if spans and start - spans[-1].end <= join:
            last = spans[-1]
            spans[-1] = Span(last.start, max(last.end, end), last.segments + 1)
        else:
            spans.append(Span(start, end, 1))
    return spans


def recorded_spans(store: Store, camera: str, since: float, until: float) -> list[Span]:
    """The camera's recording that overlaps [since, until), as spans (oldest first)."""
    query = (
        select(_SegmentRow.start, _SegmentRow.end)
        .where(
            _SegmentRow.camera == camera,
            _SegmentRow.end > since,
            _SegmentRow.start < until,
        )
        .order_by(_SegmentRow.start)
    )
    with store.read_session() as session:
        times = [(float(start), float(end)) for start, end in session.execute(query)]
    return merge_spans(times)


def event_markers(
    store: Store, camera: str, since: float, until: float, limit: int
) -> list[Marker]:
    """The camera's events that overlap [since, until), oldest first (at most ``limit``, the
    newest kept when there are more)."""
    query = (
        select(
            _EventRow.id,
            _EventRow.wall_start,
            _EventRow.wall_end,
            _EventRow.verdict,
            _EventRow.labels,
        )
        .where(
            _EventRow.camera == camera,
            _EventRow.wall_end >= since,
            _EventRow.wall_start < until,
        )
        .order_by(_EventRow.wall_start.desc(), _EventRow.id)
        .limit(limit)
    )
    with store.read_session() as session:
        rows = list(session.execute(query))
    return [
        Marker(str(i), float(s), float(e), Verdict(v), tuple(labels))
        for i, s, e, v, labels in reversed(rows)
    ]
