"""Exports' rows: a time range of one camera being (or made) into an MP4, and who did what.

``exports`` holds one row per export from its request until it is deleted (by its household or
on expiry): its range, its state and progress, and the sealed file once it is done. The file is
named relative to the data directory, like every media column (``store.media_paths``).

``export_audit`` is append-only: one row per creation, download, deletion and expiry, kept after
the export itself is gone, so the owner can read who exported what (``hearthcam.exports``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import CursorResult, Float, Integer, Result, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hearthcam.store.db import Base, Store, WideInteger


class ExportState(StrEnum):
    """Where an export stands: queued -> running -> done | failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


UNFINISHED = (ExportState.QUEUED, ExportState.RUNNING)


class _ExportRow(Base):
    __tablename__ = "exports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    camera: Mapped[str] = mapped_column(String(64))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    event_id: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[int] = mapped_column(Integer)
    created: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(String(512))
    path: Mapped[str | None] = mapped_column(String(1024))
    size: Mapped[int | None] = mapped_column(WideInteger)
    finished: Mapped[float | None] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float, index=True)


class _ExportAuditRow(Base):
    __tablename__ = "export_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(Integer, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)  # None: the server (expiry)
    username: Mapped[str] = mapped_column(String(64))  # as it was then
    action: Mapped[str] = mapped_column(String(16))
    export_id: Mapped[str] = mapped_column(String(32), index=True)
    camera: Mapped[str] = mapped_column(String(64))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    time: Mapped[float] = mapped_column(Float, index=True)


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One export as stored (``path``: the sealed MP4, absolute, once done)."""

    id: str
    household_id: int
    camera: str
    start: float
    end: float
    event_id: str | None
    created_by: int
    created: float
    state: ExportState
    progress: float
    error: str | None
    path: Path | None
    size: int | None
    finished: float | None
    expires: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the export audit."""

    household_id: int
    user_id: int | None
    username: str
    action: str
    export_id: str
    camera: str
    start: float
    end: float
    time: float


def _audit_record(r: _ExportAuditRow) -> AuditRecord:
    return AuditRecord(
        r.household_id, r.user_id, r.username, r.action, r.export_id, r.camera, r.start, r.end,
        r.time,
    )  # fmt: skip


def _count(result: Result[object]) -> int:
    """The rows an UPDATE changed."""
    return result.rowcount if isinstance(result, CursorResult) else 0


class ExportStore:
    """The exports and export_audit tables over one Store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _record(self, row: _ExportRow) -> ExportRecord:
        return ExportRecord(
            row.id, row.household_id, row.camera, row.start, row.end, row.event_id,
            row.created_by, row.created, ExportState(row.state), row.progress, row.error,
            self._store.media_paths.from_row(row.path), row.size, row.finished, row.expires,
        )  # fmt: skip

    def add(self, record: ExportRecord) -> None:
        """Stores a new export (queued)."""
        row = _ExportRow(
            id=record.id, household_id=record.household_id, camera=record.camera,
            start=record.start, end=record.end, event_id=record.event_id,
            created_by=record.created_by, created=record.created,
            state=record.state.value, progress=record.progress, error=record.error,
            path=self._store.media_paths.to_optional_row(record.path),
            size=record.size, finished=record.finished, expires=record.expires,
        )  # fmt: skip
        with self._store.write_session() as session:
            session.add(row)

    def get(self, export_id: str) -> ExportRecord | None:
        """The export with this id, or None."""
        with self._store.read_session() as session:
            row = session.get(_ExportRow, export_id)
            return None if row is None else self._record(row)

    def of_household(self, household_id: int) -> list[ExportRecord]:
        """A household's exports, newest first."""
        query = (
            select(_ExportRow)
            .where(_ExportRow.household_id == household_id)
            .order_by(_ExportRow.created.desc(), _ExportRow.id)
        )
        with self._store.read_session() as session:
            return [self._record(r) for r in session.scalars(query)]

    def unfinished(self) -> list[ExportRecord]:
        """Queued and running exports, oldest first."""
        query = select(_ExportRow).where(_ExportRow.state.in_([s.value for s in UNFINISHED]))
        with self._store.read_session() as session:
            return [self._record(r) for r in session.scalars(query.order_by(_ExportRow.created))]

    def expired(self, now: float) -> list[ExportRecord]:
        """Exports whose time is up (any state), oldest first."""
        query = select(_ExportRow).where(_ExportRow.expires <= now).order_by(_ExportRow.expires)
        with self._store.read_session() as session:
            return [self._record(r) for r in session.scalars(query)]

    def set_running(self, export_id: str, progress: float) -> bool:
        """Marks a queued or running export running at ``progress``; False if it is not (it
        was deleted or failed meanwhile)."""
        query = (
            update(_ExportRow)
            .where(
                _ExportRow.id == export_id,
                _ExportRow.state.in_([s.value for s in UNFINISHED]),
            )
            .values(state=ExportState.RUNNING.value, progress=progress)
        )
        with self._store.write_session() as session:
            return _count(session.execute(query)) > 0

    def finish(self, export_id: str, path: Path, size: int, now: float) -> bool:
        """Marks a running export done with its file; False if it is no longer running."""
        values = {
            "state": ExportState.DONE.value,
            "progress": 1.0,
            "path": self._store.media_paths.to_row(path),
            "size": size,
            "finished": now,
        }
        return self._set(export_id, values, only_unfinished=True)

    def fail(self, export_id: str, error: str, now: float) -> bool:
        """Marks an unfinished export failed with a reason; False if it was not unfinished."""
        values = {"state": ExportState.FAILED.value, "error": error[:512], "finished": now}
        return self._set(export_id, values, only_unfinished=True)

    def fail_unfinished(self, error: str, now: float) -> int:
        """Marks every queued or running export failed (a restart: their worker is gone)."""
        query = (
            update(_ExportRow)
            .where(_ExportRow.state.in_([s.value for s in UNFINISHED]))
            .values(state=ExportState.FAILED.value, error=error[:512], finished=now)
        )
        with self._store.write_session() as session:
            return _count(session.execute(query))

    def _set(self, export_id: str, values: dict[str, object], *, only_unfinished: bool) -> bool:
        query = update(_ExportRow).where(_ExportRow.id == export_id)
        if only_unfinished:
            query = query.where(_ExportRow.state.in_([s.value for s in UNFINISHED]))
        with self._store.write_session() as session:
            return _count(session.execute(query.values(values))) > 0

    def delete(self, export_id: str) -> bool:
        """Forgets an export's row (its file is the caller's); True if it existed."""
        with self._store.write_session() as session:
            row = session.get(_ExportRow, export_id)
            if row is None:
                return False
            session.delete(row)
            return True

    # Audit -------------------------------------------------------------------------------------

    def audit(self, record: AuditRecord) -> None:
        """Appends one line to the export audit."""
        row = _ExportAuditRow(
            household_id=record.household_id, user_id=record.user_id,
            username=record.username[:64], action=record.action, export_id=record.export_id,
            camera=record.camera, start=record.start, end=record.end, time=record.time,
        )  # fmt: skip
        with self._store.write_session() as session:
            session.add(row)

    def audit_of_household(self, household_id: int, limit: int = 500) -> list[AuditRecord]:
        """A household's audit lines, newest first."""
        query = (
            select(_ExportAuditRow)
            .where(_ExportAuditRow.household_id == household_id)
            .order_by(_ExportAuditRow.time.desc(), _ExportAuditRow.id.desc())
            .limit(limit)
        )
        with self._store.read_session() as session:
            return [_audit_record(r) for r in session.scalars(query)]
