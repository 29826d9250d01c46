"""The database: recorded segments, recording gaps and events, behind a small typed ``Store`` API.

The segment, gap and event rows live here (``Base`` is every store table's); callers see only
``hearthcam.types`` values and the ``Gap`` record. ``Store.open`` brings the schema to the newest
migration (``store.migrate``). Media paths (segments, event clips and snapshots) are stored
relative to the data directory the store is opened with and handed out absolute
(``store.media_paths``). SQLite (WAL) is the default; one Engine is shared by every thread
and each call runs in its own short session, so the store is safe to use from the recorder, the
event loop and the web server at once.

Open events: ``save_event(event, finished=False)`` marks an event still in progress. Retention
asks ``open_event_start()`` and keeps every segment from that time on, because the event's clip
has not been cut yet. Recovery finishes the ``open_events()`` at start (``finish_open_events()``
closes any it could not), since an event left open by a crash will never be finished by its
camera and would otherwise protect recordings forever.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CursorResult,
    Float,
    Index,
    Integer,
    Select,
    String,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from hearthcam.errors import StoreError
from hearthcam.store.engine import WRITE_LOCK, build_engine, claim, claim_camera
from hearthcam.store.media_paths import MediaPaths
from hearthcam.store.migrate import migrate
from hearthcam.types import Event, Segment, TrackSummary, Verdict


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of time a camera was not recorded (it dropped, or the recorder restarted)."""

    camera: str
    start: float
    end: float
    reason: str


class _Base(DeclarativeBase):
    pass


# The public name sibling modules (store.accounts, ...) subclass, so every table shares this
# metadata (``store.schema`` gathers them; migrations make them).
Base = _Base

# Whole numbers past 2**31 (milliseconds since 1970, a file's bytes): BIGINT on PostgreSQL,
# whose INTEGER is 32 bits; SQLite's INTEGER holds 64 bits already (and stays as it was made).
WideInteger = BigInteger().with_variant(Integer(), "sqlite")


class _SegmentRow(_Base):
    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_camera_start", "camera", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(1024), unique=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float, index=True)


class _GapRow(_Base):
    __tablename__ = "gaps"
    __table_args__ = (Index("ix_gaps_camera_start", "camera", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float, index=True)
    reason: Mapped[str] = mapped_column(String(256))


class _EventRow(_Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_camera_wall_start", "camera", "wall_start"),
        # The timeline walks this one newest first and tests its filters on the index entry
        # before reading the row (SQLite's deferred seek): a rare label at 50,000 events reads
        # 100 rows, not every row with its tracks. SQLite only: PostgreSQL has no B-tree over
        # json (it would take jsonb and GIN, another design).
        Index(
            "ix_events_listing", "wall_start", "camera", "verdict", "alert", "labels", "zones"
        ).ddl_if(dialect="sqlite"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    labels: Mapped[list[str]] = mapped_column(JSON)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    wall_start: Mapped[float] = mapped_column(Float, index=True)
    wall_end: Mapped[float] = mapped_column(Float, index=True)
    score: Mapped[float] = mapped_column(Float)
    zones: Mapped[list[str]] = mapped_column(JSON)
    tracks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    snapshot: Mapped[str | None] = mapped_column(String(1024))
    clip: Mapped[str | None] = mapped_column(String(1024))
    # The clips after ``clip`` of an event longer than one clip (NULL: none).
    clip_parts: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    alert: Mapped[bool]
    finished: Mapped[bool] = mapped_column(index=True)


def _track_to_json(track: TrackSummary) -> dict[str, Any]:
    """Stores a track summary as plain JSON (zones sorted so the row is deterministic)."""
    return {
        "tracker_id": track.tracker_id,
        "label": track.label,
        "best_score": track.best_score,
        "mean_score": track.mean_score,
        "hits": track.hits,
        "first_pts": track.first_pts,
        "last_pts": track.last_pts,
        "max_area_ratio": track.max_area_ratio,
        "travel": track.travel,
        "zones": sorted(track.zones),
        "votes": [[label, vote] for label, vote in track.votes],
    }


def _track_from_json(data: dict[str, Any]) -> TrackSummary:
    """Reads a track summary written by ``_track_to_json``."""
    return TrackSummary(
        tracker_id=int(data["tracker_id"]),
        label=str(data["label"]),
        best_score=float(data["best_score"]),
        mean_score=float(data["mean_score"]),
        hits=int(data["hits"]),
        first_pts=float(data["first_pts"]),
        last_pts=float(data["last_pts"]),
        max_area_ratio=float(data["max_area_ratio"]),
        travel=float(data["travel"]),
        zones=frozenset(data["zones"]),
        # Rows written before votes were stored have none (the features count the label then).
        votes=tuple((str(label), float(vote)) for label, vote in data.get("votes", ())),
    )


def _fill_event_row(row: _EventRow, ev: Event, finished: bool, paths: MediaPaths) -> None:
    """Copies every field of an Event onto its row."""
    row.camera = ev.camera
    row.verdict = ev.verdict.value
    row.labels = list(ev.labels)
    row.start = ev.start
    row.end = ev.end
    row.wall_start = ev.wall_start
    row.wall_end = ev.wall_end
    row.score = ev.score
    row.zones = list(ev.zones)
    row.tracks = [_track_to_json(t) for t in ev.tracks]
    row.snapshot = paths.to_optional_row(ev.snapshot)
    row.clip = paths.to_optional_row(ev.clip)
    row.clip_parts = [paths.to_row(p) for p in ev.clip_parts] or None
    # Set once, never cleared: the alert decision sets it on its own thread (``set_alert``)
    # while the camera keeps saving the event's later changes, which do not carry it yet.
    row.alert = ev.alert or bool(row.alert)
    row.finished = finished


def _event_from_row(row: _EventRow, paths: MediaPaths) -> Event:
    """Builds the Event a row stores."""
    return Event(
        id=row.id,
        camera=row.camera,
        verdict=Verdict(row.verdict),
        labels=tuple(row.labels),
        start=row.start,
        end=row.end,
        wall_start=row.wall_start,
        wall_end=row.wall_end,
        score=row.score,
        zones=tuple(row.zones),
        tracks=tuple(_track_from_json(t) for t in row.tracks),
        snapshot=paths.from_row(row.snapshot),
        clip=paths.from_row(row.clip),
        alert=row.alert,
        clip_parts=tuple(p for p in map(paths.from_row, row.clip_parts or ()) if p is not None),
    )


def _segments_from_rows(rows: Iterable[_SegmentRow], paths: MediaPaths) -> list[Segment]:
    """Builds the Segments the rows store (a row whose path escapes the data directory is left
    out: ``store.media_paths``)."""
    segments = []
    for row in rows:
        path = paths.from_row(row.path)
        if path is not None:
            segments.append(Segment(row.camera, path, row.start, row.end))
    return segments


class Store:
    """Typed access to segments, gaps and events; thread-safe, one short session per call.

    ``data_dir``: the data directory the media paths of rows are relative to (a store opened
    without one serves every row but those, which raise StoreError)."""

    def __init__(
        self,
        url: str,
        *,
        data_dir: Path | None = None,
        busy_timeout: float = 30.0,
        wal: bool = True,
    ) -> None:
        self.url = url
        self.media_paths = MediaPaths(data_dir)
        self._engine = build_engine(url, busy_timeout, wal)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._claim: Connection | None = None
        self._camera_claims: list[Connection] = []

    @classmethod
    def open(
        cls,
        url: str,
        *,
        data_dir: Path | None = None,
        busy_timeout: float = 30.0,
        wal: bool = True,
    ) -> Store:
        """Opens the database at ``url`` and brings its schema to the newest revision (a SQLite
        file is copied first when it changes; see ``store.migrate``)."""
        store = cls(url, data_dir=data_dir, busy_timeout=busy_timeout, wal=wal)
        try:
            migrate(store._engine)
        except (SQLAlchemyError, StoreError) as error:
            store.close()
            shown = make_url(url).render_as_string(hide_password=True)
            raise StoreError(f"cannot open database {shown}: {error}") from error
        return store

    def claim_for_server(self) -> None:
        """Holds the database for this server until ``close`` (``store.engine.claim``)."""
        if self._claim is None:
            self._claim = claim(self._engine)

    def claim_camera(self, camera: str, wait: float, every: float = 0.5) -> bool:
        """Holds ``camera`` for this process's recorder until ``close``
        (``store.engine.claim_camera``): on a cluster, a camera moved to a new node must not
        be recorded (nor its files recovered) while the process it left still writes. Tries
        every ``every`` seconds for ``wait`` seconds; False if it never got it. SQLite: True
        (its file is one machine's, and the data directory's lock keeps one process on it)."""
        if self._engine.dialect.name != "postgresql":
            return True
        deadline = time.monotonic() + wait
        while True:
            connection = claim_camera(self._engine, camera)
            if connection is not None:
                self._camera_claims.append(connection)
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(every)

    def close(self) -> None:
        """Closes every pooled connection (and gives up the server's and cameras' claims)."""
        if self._claim is not None:
            self._claim.close()
            self._claim = None
        while self._camera_claims:
            self._camera_claims.pop().close()
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only session; database failures become StoreError."""
        try:
            with self._sessions() as session:
                yield session
        except SQLAlchemyError as error:
            raise StoreError(f"database read failed: {error}") from error

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session that commits on success and holds the write lock from its first statement."""
        try:
            with self._sessions() as session:
                session.connection(execution_options={WRITE_LOCK: True})
                yield session
                session.commit()
        except SQLAlchemyError as error:
            raise StoreError(f"database write failed: {error}") from error

    def read_session(self) -> AbstractContextManager[Session]:
        """A read-only session for sibling store modules; errors become StoreError."""
        return self._read()

    def write_session(self) -> AbstractContextManager[Session]:
        """A session that commits on success and takes the write lock at once (BEGIN IMMEDIATE)."""
        return self._write()

    def journal_mode(self) -> str:
        """Returns SQLite's journal mode ('wal' when WAL is on); other databases return ''."""
        if self._engine.dialect.name != "sqlite":
            return ""
        with self._engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()).lower()

    # Segments ---------------------------------------------------------------------------------

    def add_segment(self, segment: Segment) -> None:
        """Indexes a finished segment; adding the same path again updates its times."""
        path = self.media_paths.to_row(segment.path)
        with self._write() as session:
            row = session.scalars(select(_SegmentRow).where(_SegmentRow.path == path)).first()
            if row is None:
                row = _SegmentRow(path=path)
                session.add(row)
            row.camera, row.start, row.end = segment.camera, segment.start, segment.end

    def segments_between(self, camera: str, start_wall: float, end_wall: float) -> list[Segment]:
        """Returns the camera's segments that overlap [start_wall, end_wall], oldest first."""
        query = (
            select(_SegmentRow)
            .where(
                _SegmentRow.camera == camera,
                _SegmentRow.end > start_wall,
                _SegmentRow.start < end_wall,
            )
            .order_by(_SegmentRow.start)
        )
        with self._read() as session:
            return _segments_from_rows(session.scalars(query), self.media_paths)

    def oldest_segments(
        self, limit: int, *, ended_before: float | None = None, camera: str | None = None
    ) -> list[Segment]:
        """Returns up to ``limit`` segments by oldest end (only those ended before, if given)."""
        query = select(_SegmentRow).order_by(_SegmentRow.end, _SegmentRow.id).limit(limit)
        if ended_before is not None:
            query = query.where(_SegmentRow.end < ended_before)
        if camera is not None:
            query = query.where(_SegmentRow.camera == camera)
        with self._read() as session:
            return _segments_from_rows(session.scalars(query), self.media_paths)

    def delete_segment(self, path: Path) -> bool:
        """Forgets the segment stored at ``path`` (the file is the caller's); True if it existed."""
        return self.delete_segments([path]) > 0

    def delete_segments(self, paths: Iterable[Path]) -> int:
        """Forgets the segments stored at ``paths``; returns how many rows went."""
        names = self.media_paths.to_rows(list(paths))
        if not names:
            return 0
        deleted = 0
        with self._write() as session:
            # Chunked to stay under SQLite's bound-parameter limit.
            for i in range(0, len(names), 500):
                chunk = names[i : i + 500]
                rows = session.scalars(select(_SegmentRow).where(_SegmentRow.path.in_(chunk)))
                for row in rows.all():
                    session.delete(row)
                    deleted += 1
        return deleted

    def known_segment_paths(self, camera: str | None = None) -> set[Path]:
        """Returns the file paths of every indexed segment (of one camera, if given)."""
        query = select(_SegmentRow.path)
        if camera is not None:
            query = query.where(_SegmentRow.camera == camera)
        with self._read() as session:
            found = (self.media_paths.from_row(p) for p in session.scalars(query))
            return {p for p in found if p is not None}

    # Gaps -------------------------------------------------------------------------------------

    def add_gap(self, camera: str, start_wall: float, end_wall: float, reason: str) -> None:
        """Records that ``camera`` was not recorded between the two wall times."""
        with self._write() as session:
            session.add(_GapRow(camera=camera, start=start_wall, end=end_wall, reason=reason))

    def gaps(self, camera: str, since_wall: float | None = None) -> list[Gap]:
        """Returns the camera's recording gaps (ending after ``since_wall``), oldest first."""
        query = select(_GapRow).where(_GapRow.camera == camera).order_by(_GapRow.start)
        if since_wall is not None:
            query = query.where(_GapRow.end > since_wall)
        with self._read() as session:
            return [Gap(r.camera, r.start, r.end, r.reason) for r in session.scalars(query)]

    def delete_gaps_before(self, wall: float) -> int:
        """Forgets gaps that ended before ``wall``; returns how many."""
        with self._write() as session:
            result = session.execute(delete(_GapRow).where(_GapRow.end < wall))
            return result.rowcount if isinstance(result, CursorResult) else 0

    # Events -----------------------------------------------------------------------------------

    def save_event(self, ev: Event, *, finished: bool = True) -> None:
        """Inserts the event or updates the row with its id; ``finished=False`` keeps it open.
        A row's alert flag, once set, stays set."""
        with self._write() as session:
            row = session.get(_EventRow, ev.id)
            if row is None:
                row = _EventRow(id=ev.id)
                session.add(row)
            _fill_event_row(row, ev, finished, self.media_paths)

    def set_alert(self, event_id: str) -> bool:
        """Marks the event alerted, writing only that column (``save_event`` keeps it set);
        False if there is no such event."""
        with self._write() as session:
            row = session.get(_EventRow, event_id)
            if row is None:
                return False
            row.alert = True
            return True

    def get_event(self, event_id: str) -> Event | None:
        """Returns the event with this id, or None."""
        with self._read() as session:
            row = session.get(_EventRow, event_id)
            return None if row is None else _event_from_row(row, self.media_paths)

    def is_finished(self, event_id: str) -> bool | None:
        """Returns whether the event is finished, or None if there is no such event."""
        with self._read() as session:
            row = session.get(_EventRow, event_id)
            return None if row is None else row.finished

    def events(
        self,
        camera: str | None = None,
        since_wall: float | None = None,
        verdict: Verdict | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Returns events newest first, filtered by camera, start time and verdict."""
        query = select(_EventRow).order_by(_EventRow.wall_start.desc(), _EventRow.id).limit(limit)
        if camera is not None:
            query = query.where(_EventRow.camera == camera)
        if since_wall is not None:
            query = query.where(_EventRow.wall_start >= since_wall)
        if verdict is not None:
            query = query.where(_EventRow.verdict == verdict.value)
        return self._events(query)

    def expired_events(
        self,
        verdict: Verdict,
        ended_before: float,
        limit: int,
        *,
        cameras: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> list[Event]:
        """Returns finished events of ``verdict`` that ended before the given time, oldest first
        (only of ``cameras`` when given, never of ``exclude``)."""
        query = select(_EventRow).where(
            _EventRow.finished.is_(True),
            _EventRow.verdict == verdict.value,
            _EventRow.wall_end < ended_before,
        )
        if cameras is not None:
            query = query.where(_EventRow.camera.in_(list(cameras)))
        if exclude:
            query = query.where(_EventRow.camera.not_in(list(exclude)))
        return self._events(query.order_by(_EventRow.wall_end, _EventRow.id).limit(limit))

    def oldest_events_with_media(
        self,
        limit: int,
        *,
        verdicts: Collection[Verdict] | None = None,
        ended_before: float | None = None,
    ) -> list[Event]:
        """Returns finished events that still have a clip or snapshot, oldest first (only of
        ``verdicts`` and only those ended before ``ended_before``, when given)."""
        query = (
            select(_EventRow)
            .where(
                _EventRow.finished.is_(True),
                or_(_EventRow.clip.is_not(None), _EventRow.snapshot.is_not(None)),
            )
            .order_by(_EventRow.wall_end, _EventRow.id)
            .limit(limit)
        )
        if verdicts is not None:
            query = query.where(_EventRow.verdict.in_([v.value for v in verdicts]))
        if ended_before is not None:
            query = query.where(_EventRow.wall_end < ended_before)
        return self._events(query)

    def oldest_media_start(self, camera: str) -> float | None:
        """When the camera's oldest event that still has a clip or snapshot started (None: none)."""
        query = select(func.min(_EventRow.wall_start)).where(
            _EventRow.camera == camera,
            or_(_EventRow.clip.is_not(None), _EventRow.snapshot.is_not(None)),
        )
        with self._read() as session:
            oldest = session.scalar(query)
        return None if oldest is None else float(oldest)

    def _events(self, query: Select[_EventRow]) -> list[Event]:
        """Runs an event query and converts its rows."""
        with self._read() as session:
            return [_event_from_row(r, self.media_paths) for r in session.scalars(query)]

    def open_event_start(self) -> float | None:
        """Returns the earliest wall start of an unfinished event, or None if none is open."""
        query = select(func.min(_EventRow.wall_start)).where(_EventRow.finished.is_(False))
        with self._read() as session:
            value = session.scalar(query)
            return None if value is None else float(value)

    def open_events(self) -> list[Event]:
        """Returns the unfinished events, oldest first (recovery finishes them after a crash)."""
        query = select(_EventRow).where(_EventRow.finished.is_(False))
        return self._events(query.order_by(_EventRow.wall_start, _EventRow.id))

    def finish_open_events(self) -> int:
        """Marks every open event finished (used at start, after a crash); returns how many."""
        with self._write() as session:
            rows = session.scalars(select(_EventRow).where(_EventRow.finished.is_(False))).all()
            for row in rows:
                row.finished = True
            return len(rows)

    def delete_event(self, event_id: str) -> bool:
        """Deletes the event's row (its files are the caller's); True if it existed."""
        with self._write() as session:
            row = session.get(_EventRow, event_id)
            if row is None:
                return False
            session.delete(row)
            return True
