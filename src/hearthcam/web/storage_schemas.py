"""The API form of the storage condition (``recordings.storage.StorageStatus``): free space, the
floor, what retention did last and whether the disk is full."""

from __future__ import annotations

from pydantic import BaseModel

from hearthcam.recordings.retention import SweepReport
from hearthcam.recordings.storage import StorageStatus


class SweepOut(BaseModel):
    """What the last retention pass deleted."""

    at: float
    events_deleted: int  # past their verdict's hours
    segments_deleted: int  # past the segment hours
    segments_purged: int  # below the floor: recording no event needs
    event_media_purged: int  # below the floor: clips and snapshots (motion first, threat last)
    bytes_freed: int
    errors: int
    below_floor: bool

    @classmethod
    def of(cls, report: SweepReport, at: float) -> SweepOut:
        return cls(
            at=at,
            events_deleted=report.events_deleted,
            segments_deleted=report.segments_deleted,
            segments_purged=report.segments_purged,
            event_media_purged=report.event_media_purged,
            bytes_freed=report.bytes_freed,
            errors=report.errors,
            below_floor=report.below_floor,
        )


class StorageOut(BaseModel):
    """The storage condition, with the server's clock (``GET /api/settings/storage``).

    ``free_bytes`` and ``total_bytes`` are measured now; ``disk_full`` and ``problem`` are as of
    the last retention pass or the last write the disk refused, whichever came later.
    """

    free_bytes: int
    total_bytes: int
    floor_bytes: int
    keep_recent_minutes: float
    disk_full: bool
    problem: str | None
    last_sweep: SweepOut | None
    last_write_failure: str | None
    last_write_failure_at: float | None
    server_time: float

    @classmethod
    def of(cls, status: StorageStatus, free: int, total: int, now: float) -> StorageOut:
        failure = status.last_write_failure
        sweep = status.last_sweep
        return cls(
            free_bytes=free,
            total_bytes=total,
            floor_bytes=status.floor_bytes,
            keep_recent_minutes=status.keep_recent_minutes,
            disk_full=status.disk_full,
            problem=status.problem,
            last_sweep=None
            if sweep is None or status.swept_at is None
            else SweepOut.of(sweep, status.swept_at),
            last_write_failure=None if failure is None else failure.message,
            last_write_failure_at=None if failure is None else failure.at,
            server_time=now,
        )
