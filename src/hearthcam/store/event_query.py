"""Event queries scoped to a set of cameras: what one household may see, filtered in SQL.

``Store.events`` filters by one camera and has no upper time bound; the web app needs "these
cameras, between these times", with the limit applied after the camera filter so another
household's events never push one's own out of the page. These belong in ``Store`` and sit here
only until db.py takes them (they use its row model, as a sibling store module may).

The timeline pages by keyset, not OFFSET: a page continues after the (wall_start, id) of the last
event it showed (``Cursor``), in the one order ``wall_start DESC, id ASC``; so a page costs the
same however deep it is, and events arriving meanwhile neither repeat nor skip rows. Labels and
zones are JSON arrays on the event row, matched with the database's own JSON table function
(SQLite ``json_each``, PostgreSQL ``json_array_elements_text``) in an EXISTS: no side table to
keep in step with the pipeline's rewrites (docs/benchmarks.md has what it costs at 50,000 events).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from hearthcam.store.db import Store, _event_from_row, _EventRow
from hearthcam.store.event_reviews import EventReviewRow
from hearthcam.types import Event, Verdict

# SQLite's bound-parameter limit is 32766 in current builds; a household has far fewer cameras
# and a bulk request is capped well below this.
MAX_IDS = 1000


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the (wall_start, id) of its last event (the next page starts after)."""

    wall_start: float
    event_id: str


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a listing wants; ``since``/``until`` bound the wall-clock start
    (``since <= start < until``); ``after`` continues a listing past a page's last event."""

    camera: str | None = None
    verdict: Verdict | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 100
    label: str | None = None
    zone: str | None = None
    alert: bool | None = None
    reviewed: bool | None = None
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class ListedEvent:
    """An event as the timeline lists it: with whether its household marked it reviewed."""

    event: Event
    reviewed: bool


def _json_has(
    session: Session, column: InstrumentedAttribute[list[str]], value: str
) -> ColumnElement[bool]:
    """True where the JSON array in ``column`` holds the string ``value``."""
    name = (
        "json_each" if session.get_bind().dialect.name == "sqlite" else "json_array_elements_text"
    )
    items = getattr(func, name)(column).table_valued("value")
    return exists(select(literal(1)).select_from(items).where(items.c.value == value))


def _reviewed() -> ColumnElement[bool]:
    return exists().where(EventReviewRow.event_id == _EventRow.id)


def _matching(
    session: Session, allowed: list[str], wanted: EventFilter
) -> list[ColumnElement[bool]]:
    """The WHERE terms for ``wanted`` over the ``allowed`` cameras (limit and cursor aside)."""
    if len(allowed) == 1:
        terms: list[ColumnElement[bool]] = [_EventRow.camera == allowed[0]]
    else:
        # ``camera || ''``, not ``camera``: for a list of cameras SQLite otherwise picks the
        # (camera, wall_start) index and sorts every row of them (140 ms at 50,000 events)
        # instead of walking the wall_start index newest first and stopping at the page's end
        # (0.1 ms). One camera keeps that index: a quiet camera's events are few and far apart.
        terms = [(_EventRow.camera + "").in_(allowed)]
    if wanted.verdict is not None:
        # Not through the verdict index either (the same sort of every threat: 100 ms).
        terms.append(_EventRow.verdict + "" == wanted.verdict.value)
    if wanted.since is not None:
        terms.append(_EventRow.wall_start >= wanted.since)
    if wanted.until is not None:
        terms.append(_EventRow.wall_start < wanted.until)
    if wanted.alert is not None:
        terms.append(_EventRow.alert.is_(wanted.alert))
    if wanted.reviewed is not None:
        terms.append(_reviewed() if wanted.reviewed else ~_reviewed())
    if wanted.label is not None:
        terms.append(_json_has(session, _EventRow.labels, wanted.label))
    if wanted.zone is not None:
        terms.append(_json_has(session, _EventRow.zones, wanted.zone))
    return terms


def _allowed(cameras: Collection[str], wanted: EventFilter) -> list[str]:
    return [c for c in cameras if wanted.camera is None or c == wanted.camera]


def _page(session: Session, allowed: list[str], wanted: EventFilter) -> Select[_EventRow, bool]:
    query = (
        select(_EventRow, _reviewed().label("reviewed"))
        .where(*_matching(session, allowed, wanted))
        .order_by(_EventRow.wall_start.desc(), _EventRow.id)
        .limit(wanted.limit)
    )
    if wanted.after is not None:
        ws, last = wanted.after.wall_start, wanted.after.event_id
        # The plain ``<=`` first: with the OR alone SQLite runs a MULTI-INDEX OR and sorts
        # every older row (70 ms 40,000 events down) instead of one range walk (0.2 ms).
        query = query.where(
            _EventRow.wall_start <= ws,
            or_(_EventRow.wall_start < ws, and_(_EventRow.wall_start == ws, _EventRow.id > last)),
        )
    return query


def timeline(
    store: Store, cameras: Collection[str], wanted: EventFilter = EventFilter()
) -> list[ListedEvent]:
    """Events of ``cameras`` that match ``wanted``, newest first, with their reviewed state."""
    allowed = _allowed(cameras, wanted)
    if not allowed or wanted.limit <= 0:
        return []
    with store.read_session() as session:
        rows = session.execute(_page(session, allowed, wanted)).all()
        return [
            ListedEvent(_event_from_row(row, store.media_paths), bool(seen)) for row, seen in rows
        ]


def camera_events(
    store: Store, cameras: Collection[str], wanted: EventFilter = EventFilter()
) -> list[Event]:
    """Events of ``cameras`` that match ``wanted``, newest first."""
    return [listed.event for listed in timeline(store, cameras, wanted)]


def mark_reviewed(store: Store, cameras: Collection[str], wanted: EventFilter, now: float) -> int:
    """Marks every event of ``cameras`` that matches ``wanted`` (all pages: limit and cursor are
    ignored) reviewed at ``now``; returns how many were not reviewed before."""
    allowed = _allowed(cameras, wanted)
    if not allowed:
        return 0
    with store.write_session() as session:
        terms = _matching(session, allowed, wanted)
        fresh = select(_EventRow.id, literal(now)).where(*terms, ~_reviewed())
        # SQLAlchemy keeps an INSERT's row count only when asked (PostgreSQL's is -1 otherwise).
        marking = insert(EventReviewRow).from_select(["event_id", "reviewed_at"], fresh)
        result = session.execute(marking.execution_options(preserve_rowcount=True))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_reviewed(store: Store, event_id: str, reviewed: bool, now: float) -> None:
    """Marks one event reviewed (at ``now``, unless it already was) or not reviewed."""
    with store.write_session() as session:
        if not reviewed:
            session.execute(delete(EventReviewRow).where(EventReviewRow.event_id == event_id))
        elif session.get(EventReviewRow, event_id) is None:
            session.add(EventReviewRow(event_id=event_id, reviewed_at=now))


def is_reviewed(store: Store, event_id: str) -> bool:
    """Whether the event was marked reviewed."""
    with store.read_session() as session:
        return session.get(EventReviewRow, event_id) is not None


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
