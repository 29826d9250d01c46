"""Event queries scoped to a set of cameras: what one household may see, filtered in SQL.

``Store.events`` filters by one camera and has no upper time bound; the web app needs "these
cameras, between these times", with the limit applied after the camera filter so another
household's events never push one's own out of the page. These belong in ``Store`` and sit here
only until db.py takes them (they use its row model, as a sibling store module may).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from hearthcam.store.db import Store, _event_from_row, _EventRow
from hearthcam.types import Event, Verdict

# SQLite's bound-parameter limit is 32766 in current builds; a household has far fewer cameras
# and a bulk request is capped well below this.
MAX_IDS = 1000


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a listing wants; ``since``/``until`` bound the wall-clock start
    (``since <= start < until``)."""

    camera: str | None = None
    verdict: Verdict | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100


def camera_events(
    store: Store, cameras: Collection[str], wanted: EventFilter = EventFilter()
) -> list[Event]:
    """Events of ``cameras`` that match ``wanted``, newest first."""
    allowed = [c for c in cameras if wanted.camera is None or c == wanted.camera]
    if not allowed or wanted.limit <= 0:
        return []
    query = (
        select(_EventRow)
        .where(_EventRow.camera.in_(allowed))
        .order_by(_EventRow.wall_start.desc(), _EventRow.id)
        .limit(wanted.limit)
    )
    if wanted.verdict is not None:
        query = query.where(_EventRow.verdict == wanted.verdict.value)
    if wanted.since is not None:
        query = query.where(_EventRow.wall_start >= wanted.since)
    if wanted.until is not None:
        query = query.where(_EventRow.wall_start < wanted.until)
    with store.read_session() as session:
        return [_event_from_row(row, store.media_paths) for row in session.scalars(query)]


def events_by_id(store: Store, ids: Collection[str], cameras: Collection[str]) -> list[Event]:
    """The events among ``ids`` whose camera is one of ``cameras`` (others are left out)."""
    if not ids or not cameras:
        return []
    if len(ids) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} ids per query")
    query = select(_EventRow).where(
        _EventRow.id.in_(list(ids)), _EventRow.camera.in_(list(cameras))
    )
    with store.read_session() as session:
        return [_event_from_row(row, store.media_paths) for row in session.scalars(query)]
