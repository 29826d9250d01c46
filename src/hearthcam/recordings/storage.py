"""The disk-space condition the owner sees: free space, the floor, what retention did last, and
whether the disk is full.

The disk is full when retention cannot bring free space back above its floor (everything left
is the newest footage or footage events still need). A write that found no room (a segment,
clip or snapshot: ``hearthcam.errors.DiskFull``) is told here by the camera pipelines through
``write_failed``, which wakes the retention sweeper at once rather than at its next interval;
its next pass aims for more headroom (``RetentionPolicy.floor_bytes``). The sweeper tells each
pass through ``swept``; the web app reads ``status``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace

from hearthcam.config import RetentionConfig
from hearthcam.recordings.retention import RetentionPolicy, SweepReport

log = logging.getLogger(__name__)

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """The latest write that found the disk full."""

    message: str
    at: float


@dataclass(frozen=True, slots=True)
class StorageStatus:
    """The storage condition at the last retention pass (``GET /api/settings/storage``)."""

    floor_bytes: int  # the configured floor (min_free_mb)
    keep_recent_minutes: float
    free_bytes: int | None = None  # at the end of the last pass (None: no pass yet)
    disk_full: bool = False
    problem: str | None = None  # "disk full: ..." while the disk is full
    swept_at: float | None = None
    last_sweep: SweepReport | None = None
    last_write_failure: WriteFailure | None = None


class StorageWatch:
    """The storage condition, shared by the pipelines, the sweeper and the web app."""

    def __init__(self, floor_bytes: int, keep_recent_minutes: float) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._status = StorageStatus(floor_bytes, keep_recent_minutes)
        self._unswept: WriteFailure | None = None  # a write failed since the last pass

    @classmethod
    def of(cls, config: RetentionConfig) -> StorageWatch:
        """A watch of the configured floor."""
        floor = RetentionPolicy(config).min_free_bytes
        return cls(floor, config.keep_recent_minutes)

    def write_failed(self, message: str, at: float) -> None:
        """A write found no room on the disk: remembered, and the sweeper is woken."""
        failure = WriteFailure(message, at)
        with self._lock:
            self._unswept = failure
            # Full until a pass says otherwise (it is woken now, and may free space).
            self._status = replace(
                self._status, disk_full=True, problem=message, last_write_failure=failure
            )
        self._wake.set()

    def wake(self) -> None:
        """Ends the sweeper's wait (``close``)."""
        self._wake.set()

    def wait(self, timeout: float) -> None:
        """Waits up to ``timeout`` seconds, or until a write fails (or ``wake``)."""
        self._wake.wait(timeout)
        self._wake.clear()

    def take_failure(self) -> WriteFailure | None:
        """The write failure since the last pass, if any (the pass about to run handles it)."""
        with self._lock:
            failure, self._unswept = self._unswept, None
            return failure

    def swept(self, report: SweepReport, free_bytes: int, floor_bytes: int, at: float) -> None:
        """A retention pass ended with ``free_bytes`` free, aiming for ``floor_bytes``."""
        problem = None
        if report.below_floor:
            problem = (
                f"disk full: {free_bytes / _MB:.1f} MB free, below the "
                f"{floor_bytes / _MB:.0f} MB retention aims for, and only the newest footage "
                "and what events still need is left"
            )
        with self._lock:
            was_full = self._status.disk_full and self._status.swept_at is not None
            self._status = replace(
                self._status,
                free_bytes=free_bytes,
                disk_full=report.below_floor,
                problem=problem,
                swept_at=at,
                last_sweep=report,
            )
        # Logged when the condition changes, not at every pass while it lasts.
        if problem is not None and not was_full:
            log.warning("%s", problem)
        elif problem is None and was_full:
            log.info("disk space is back above the floor (%.1f MB free)", free_bytes / _MB)

    def status(self) -> StorageStatus:
        """The condition now."""
        with self._lock:
            return self._status
