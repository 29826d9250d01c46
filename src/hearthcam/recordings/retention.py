"""Retention: which events and recordings are deleted, and when, by age and by free disk space.

One ``sweep`` call is one pass; the caller runs it every ``interval`` seconds. Time
and free space are injected so a pass is deterministic to test.

Order of deletion:
1. finished events older than their verdict's hours (row, clip and snapshot);
2. segments older than ``segments`` hours (raw recording: event clips are separate files);
3. while free space is below ``min_free_mb``: the oldest segments, then the oldest events' clips
   and snapshots (the row stays, with no media, until its hours are up), then, only if nothing
   else is left, the recent segments an event may still need.

"Recent" means ending within ``protect_recent`` seconds of now, or of the start of the earliest
event still open (``Store.open_event_start``), since that event's clip is cut from them later.
Files already gone are not errors. Each pass handles at most ``batch`` items per step so a
backlog is worked off over several passes rather than one long one.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from hearthcam.config import RetentionConfig
from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.types import Event, Segment, Verdict
from hearthcam.vault.media import MediaIO, PlainMedia

log = logging.getLogger(__name__)

DiskFree = Callable[[Path], int]
_HOUR = 3600.0


def disk_free_bytes(path: Path) -> int:
    """Returns the bytes free on the filesystem holding ``path``."""
    return shutil.disk_usage(path).free


@dataclass(slots=True)
class SweepReport:
    """What one retention pass deleted."""

    events_deleted: int = 0
    segments_deleted: int = 0
    segments_purged: int = 0
    event_media_purged: int = 0
    protected_purged: int = 0
    gaps_deleted: int = 0
    files_deleted: int = 0
    bytes_freed: int = 0
    errors: int = 0
    below_floor: bool = False


@dataclass(slots=True)
class _FileDeleter:
    """Deletes media files (sealed: their keys first), tolerating missing ones and counting what
    it did into a report."""

    report: SweepReport
    media: MediaIO = field(default_factory=PlainMedia)

    def delete(self, path: Path | None) -> bool:
        """Deletes ``path``; True unless it exists and could not be removed."""
        if path is None:
            return True
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = -1  # a sealed key may have outlived the file: it goes all the same
        try:
            self.media.delete([path])
        except (OSError, StoreError) as error:
            log.warning("retention could not delete %s: %s", path, error)
            self.report.errors += 1
            return False
        if size < 0:
            return True
        self.report.files_deleted += 1
        self.report.bytes_freed += size
        return True


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The retention config plus the tuning that is not a user setting."""

    config: RetentionConfig = field(default_factory=RetentionConfig)
    protect_recent: float = 300.0
    batch: int = 1000
    # camera -> hours per verdict, where the owning household changed them in the app
    cameras: Mapping[str, Mapping[Verdict, float]] = field(default_factory=dict)

    def event_cutoff(self, verdict: Verdict, now_wall: float, camera: str | None = None) -> float:
        """Returns the wall time before which finished events of ``verdict`` are deleted
        (on ``camera``, if its household set its own hours)."""
        hours = self.cameras.get(camera, self.config.events) if camera else self.config.events
        return now_wall - hours.get(verdict, 24.0) * _HOUR

    def segment_cutoff(self, now_wall: float) -> float:
        """Returns the wall time before which segments are deleted (if not protected)."""
        return now_wall - self.config.segments * _HOUR

    @property
    def min_free_bytes(self) -> int:
        """The free-space floor in bytes."""
        return int(self.config.min_free_mb * 1024 * 1024)


def sweep(
    store: Store,
    data_dir: Path,
    now_wall: float,
    disk_free: DiskFree = disk_free_bytes,
    *,
    policy: RetentionPolicy | None = None,
    media: MediaIO | None = None,
) -> SweepReport:
    """Runs one retention pass at ``now_wall`` (free space measured at ``data_dir``); files
    go through ``media`` (plain when None)."""
    policy = policy or RetentionPolicy()
    files = _FileDeleter(SweepReport(), media or PlainMedia())
    report = files.report
    _expire_events(store, policy, now_wall, files)
    protected_from = _protected_from(store, policy, now_wall)
    age_cutoff = min(policy.segment_cutoff(now_wall), protected_from)
    for seg in store.oldest_segments(policy.batch, ended_before=age_cutoff):
        report.segments_deleted += _delete_segment(store, seg, files)
    report.gaps_deleted = store.delete_gaps_before(policy.segment_cutoff(now_wall))

    def enough() -> bool:
        return disk_free(data_dir) >= policy.min_free_bytes

    if not enough():
        _free_space(store, policy, protected_from, enough, files)
        report.below_floor = not enough()
    if report.files_deleted or report.events_deleted or report.segments_deleted:
        log.info("retention: %s", report)
    return report


def _protected_from(store: Store, policy: RetentionPolicy, now_wall: float) -> float:
    """Returns the wall time from which segments are kept for events still to be clipped."""
    open_start = store.open_event_start()
    recent = now_wall - policy.protect_recent
    return recent if open_start is None else min(recent, open_start - policy.protect_recent)


def _expire_events(
    store: Store, policy: RetentionPolicy, now_wall: float, files: _FileDeleter
) -> None:
    """Deletes finished events older than their verdict's hours, with their media."""
    own = list(policy.cameras)
    for verdict in Verdict:
        # Cameras whose household set its own hours, one by one; every other camera at once.
        batches = [
            store.expired_events(
                verdict, policy.event_cutoff(verdict, now_wall, c), policy.batch, cameras=[c]
            )
            for c in own
        ]
        cutoff = policy.event_cutoff(verdict, now_wall)
        batches.append(store.expired_events(verdict, cutoff, policy.batch, exclude=own))
        for ev in itertools.chain.from_iterable(batches):
            # Keep the row while a file resists deletion, so the next pass tries again.
            if _delete_event_media(ev, files):
                store.delete_event(ev.id)
                files.report.events_deleted += 1


def _free_space(
    store: Store,
    policy: RetentionPolicy,
    protected_from: float,
    enough: Callable[[], bool],
    files: _FileDeleter,
) -> None:
    """Deletes the oldest media until ``enough()`` says free space is back above the floor."""
    report = files.report
    for seg in store.oldest_segments(policy.batch, ended_before=protected_from):
        if enough():
            return
        report.segments_purged += _delete_segment(store, seg, files)
    for ev in store.oldest_events_with_media(policy.batch):
        if enough():
            return
        report.event_media_purged += _purge_event_media(store, ev, files)
    for seg in store.oldest_segments(policy.batch):
        if enough():
            return
        log.warning("disk below floor with nothing else left: deleting recent %s", seg.path)
        report.protected_purged += _delete_segment(store, seg, files)


def _delete_segment(store: Store, seg: Segment, files: _FileDeleter) -> int:
    """Deletes a segment's file and row; returns 1 if it went, 0 if the file resisted."""
    if not files.delete(seg.path):
        return 0
    store.delete_segment(seg.path)
    return 1


def _delete_event_media(ev: Event, files: _FileDeleter) -> bool:
    """Deletes an event's clip and snapshot; True if neither is left behind."""
    clip_gone = files.delete(ev.clip)
    snapshot_gone = files.delete(ev.snapshot)
    return clip_gone and snapshot_gone


def _purge_event_media(store: Store, ev: Event, files: _FileDeleter) -> int:
    """Deletes an event's clip and snapshot, keeping its row; returns 1 if the media went."""
    if not _delete_event_media(ev, files):
        return 0
    store.save_event(replace(ev, clip=None, snapshot=None))
    return 1
