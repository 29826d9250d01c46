"""Retention: which events and recordings are deleted, and when, by age and by free disk space.

One ``sweep`` call is one pass; the caller runs it every ``interval`` seconds (and at once when
a write found the disk full). Time and free space are injected so a pass is deterministic.

By age: finished events older than their verdict's hours (row, clip and snapshot), then
segments older than ``segments`` hours.

Below the free-space floor (``min_free_mb``; when a write found the disk full, at least
``full_headroom``), in this order, until the floor is met:

1. the oldest segments no event needs (raw recording: finished events have their own clips);
2. the clips and snapshots of finished events, by verdict: motion, then vehicle and pet, then
   threat, oldest first within each (the row stays, with no media, until its hours are up);
3. the footage of clips a full disk refused and that wait for space (``LiveFootage``), in the
   same order: each such clip is given up (its event keeps its row and snapshot). Otherwise a
   disk full of nothing but those clips' footage would stop recording for good, as cutting
   them needs the room their footage holds.

Never, whatever the floor: footage of the last ``keep_recent_minutes``, the segments an open
event or a clip on its way will be cut from, and those of a pending clip (``store.pending_clips``:
cut after an unlock). While cameras run, they say what they need (``LiveFootage``); without
them (a pass from the command line) the store's open events do (``Store.open_event_start``).
When the floor still cannot be met the pass stops and says so (``below_floor``): recording goes
on into what space there is, and the owner is told the disk is full (``recordings.storage``).

Files already gone are not errors. Each pass handles at most ``batch`` items per step so a
backlog is worked off over several passes rather than one long one.
"""

from __future__ import annotations

import itertools
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from hearthcam.config import RetentionConfig
from hearthcam.errors import StoreError, is_disk_full
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClip, PendingClips
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
    gaps_deleted: int = 0
    files_deleted: int = 0
    bytes_freed: int = 0
    errors: int = 0
    clips_given_up: int = 0
    below_floor: bool = False


@dataclass(frozen=True, slots=True)
class WaitingClip:
    """An ended event's clip window that a full disk refused, waiting for space."""

    event_id: str
    camera: str
    start: float
    end: float
    verdict: Verdict


class LiveFootage(Protocol):
    """What the running cameras still need (``runtime.Runtime``). It beats the rows'
    ``finished`` flags, which a full disk may have left unwritten (an event that stays open
    in the store would keep everything after it for the rest of the run)."""

    def needed_from(self) -> float | None:
        """The earliest wall time of footage an open event or a clip on its way will be cut
        from (None: none), not counting clips that wait for space."""
        ...

    def waiting_for_space(self) -> Sequence[WaitingClip]:
        """The clips a full disk refused, oldest first."""
        ...

    def give_up(self, clip: WaitingClip) -> bool:
        """Drops a clip that waited for space (retention deletes its footage); True if it did."""
        ...


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
            self._delete(path)
        except (OSError, StoreError) as error:
            log.warning("retention could not delete %s: %s", path, error)
            self.report.errors += 1
            return False
        if size < 0:
            return True
        self.report.files_deleted += 1
        self.report.bytes_freed += size
        return True

    def _delete(self, path: Path) -> None:
        try:
            self.media.delete([path])
        except (OSError, StoreError) as error:
            if not is_disk_full(error):
                raise
            # Sealed media shred the key first, a database write a full disk refuses: the
            # ciphertext goes first instead (its key alone opens nothing), then the key, in the
            # room that made; a key that still cannot go is shredded as an orphan later.
            PlainMedia().delete([path])
            self.media.delete([path])


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The retention config plus the tuning that is not a user setting."""

    config: RetentionConfig = field(default_factory=RetentionConfig)
    # Seconds before an open event's start that its clip may reach back (pre-roll, and the
    # stretch a short event's window gets to reach min_clip).
    clip_margin: float = 300.0
    # The floor a pass aims for after a write found the disk full, when min_free_mb is lower
    # (0: no floor): room for a few minutes of recording before the next pass.
    full_headroom: int = 64 * 1024 * 1024
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

    def recent_cutoff(self, now_wall: float) -> float:
        """Returns the wall time after which footage is never deleted."""
        return now_wall - self.config.keep_recent_minutes * 60.0

    @property
    def min_free_bytes(self) -> int:
        """The free-space floor in bytes."""
        return int(self.config.min_free_mb * 1024 * 1024)

    def floor_bytes(self, disk_full: bool) -> int:
        """The floor a pass aims for: the configured one, raised to ``full_headroom`` after a
        write found the disk full."""
        return max(self.min_free_bytes, self.full_headroom) if disk_full else self.min_free_bytes


# Event media go in this order when space is short: what matters least first.
PURGE_ORDER: tuple[frozenset[Verdict], ...] = (
    frozenset({Verdict.MOTION}),
    frozenset({Verdict.VEHICLE, Verdict.PET, Verdict.FAMILIAR}),
    frozenset({Verdict.THREAT}),
)


@dataclass(frozen=True, slots=True)
class _Kept:
    """Footage no pass deletes: the newest minutes, what open events and pending clips need."""

    before: float  # segments ending at or after this are kept (recent, or an open event's)
    recent_from: float  # events ending at or after this keep their media
    pending: tuple[PendingClip, ...]
    waiting: tuple[WaitingClip, ...] = ()  # kept unless nothing else is left (step 3)

    def segment(self, seg: Segment) -> bool:
        """Whether ``seg`` must stay."""
        if seg.end >= self.before:
            return True
        windows: tuple[PendingClip | WaitingClip, ...] = (*self.pending, *self.waiting)
        return any(
            w.camera == seg.camera and seg.end > w.start and seg.start < w.end for w in windows
        )

    def without(self, clip: WaitingClip) -> _Kept:
        """What is kept once ``clip`` is given up."""
        return replace(self, waiting=tuple(w for w in self.waiting if w != clip))


def sweep(
    store: Store,
    data_dir: Path,
    now_wall: float,
    disk_free: DiskFree = disk_free_bytes,
    *,
    policy: RetentionPolicy | None = None,
    media: MediaIO | None = None,
    disk_full: bool = False,
    live: LiveFootage | None = None,
) -> SweepReport:
    """Runs one retention pass at ``now_wall`` (free space measured at ``data_dir``); files
    go through ``media`` (plain when None). ``disk_full``: a write found no room since the last
    pass, so the pass aims for at least ``policy.full_headroom`` free. ``live``: the running
    cameras, which say what footage they still need (without them, the store's open events)."""
    policy = policy or RetentionPolicy()
    files = _FileDeleter(SweepReport(), media or PlainMedia())
    report = files.report
    _expire_events(store, policy, now_wall, files)
    kept = _kept(store, policy, now_wall, live)
    age_cutoff = min(policy.segment_cutoff(now_wall), kept.before)
    for seg in store.oldest_segments(policy.batch, ended_before=age_cutoff):
        if not kept.segment(seg):
            report.segments_deleted += _delete_segment(store, seg, files)
    report.gaps_deleted = store.delete_gaps_before(policy.segment_cutoff(now_wall))
    floor = policy.floor_bytes(disk_full)

    def enough() -> bool:
        return disk_free(data_dir) >= floor

    if not enough():
        kept = _free_space(store, policy, kept, enough, files)
        if not enough() and live is not None:
            _give_up_waiting_clips(store, kept, enough, files, live)
        # Stop here when still short: what is left is the newest footage and what events
        # still need (the caller tells the owner: ``recordings.storage``).
        report.below_floor = not enough()
    if report.files_deleted or report.events_deleted or report.segments_deleted:
        log.info("retention: %s", report)
    return report


def _kept(
    store: Store, policy: RetentionPolicy, now_wall: float, live: LiveFootage | None
) -> _Kept:
    """What this pass must keep: the newest minutes, open events' and pending clips' footage."""
    recent = policy.recent_cutoff(now_wall)
    pending = tuple(PendingClips(store).windows())
    if live is not None:
        needed = live.needed_from()
        before = recent if needed is None else min(recent, needed)
        return _Kept(before, recent, pending, tuple(live.waiting_for_space()))
    open_start = store.open_event_start()
    before = recent if open_start is None else min(recent, open_start - policy.clip_margin)
    return _Kept(before, recent, pending)


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
    kept: _Kept,
    enough: Callable[[], bool],
    files: _FileDeleter,
) -> _Kept:
    """Deletes the oldest unneeded segments, then event media by ``PURGE_ORDER``, until
    ``enough()`` says free space is back above the floor; never what ``kept`` holds (which it
    returns)."""
    report = files.report
    for seg in store.oldest_segments(policy.batch, ended_before=kept.before):
        if enough():
            return kept
        if not kept.segment(seg):
            report.segments_purged += _delete_segment(store, seg, files)
    for verdicts in PURGE_ORDER:
        events = store.oldest_events_with_media(
            policy.batch, verdicts=verdicts, ended_before=kept.recent_from
        )
        for ev in events:
            if enough():
                return kept
            report.event_media_purged += _purge_event_media(store, ev, files)
    return kept


def _give_up_waiting_clips(
    store: Store,
    kept: _Kept,
    enough: Callable[[], bool],
    files: _FileDeleter,
    live: LiveFootage,
) -> None:
    """Gives up clips waiting for space by ``PURGE_ORDER``, oldest first, deleting the footage
    only they kept, until ``enough()``; a clip whose footage would stay anyway (the newest
    minutes, another window) is not given up."""
    report = files.report
    for verdicts in PURGE_ORDER:
        for clip in [w for w in kept.waiting if w.verdict in verdicts]:
            if enough():
                return
            freed = kept.without(clip)
            segments = store.segments_between(clip.camera, clip.start, clip.end)
            going = [seg for seg in segments if not freed.segment(seg)]
            if not going or not live.give_up(clip):
                continue
            kept = freed
            report.clips_given_up += 1
            for seg in going:
                report.segments_purged += _delete_segment(store, seg, files)


def _delete_segment(store: Store, seg: Segment, files: _FileDeleter) -> int:
    """Deletes a segment's file and row; returns 1 if this pass removed the row, 0 if the file
    resisted or another node's pass removed it first (each segment counts once, cluster-wide)."""
    if not files.delete(seg.path):
        return 0
    return int(store.delete_segment(seg.path))


def _delete_event_media(ev: Event, files: _FileDeleter) -> bool:
    """Deletes an event's clips and snapshot; True if none is left behind."""
    clips_gone = [files.delete(clip) for clip in ev.clips]
    snapshot_gone = files.delete(ev.snapshot)
    return all(clips_gone) and snapshot_gone


def _purge_event_media(store: Store, ev: Event, files: _FileDeleter) -> int:
    """Deletes an event's clip and snapshot, keeping its row; returns 1 if the media went."""
    if not _delete_event_media(ev, files):
        return 0
    store.save_event(replace(ev, clip=None, clip_parts=(), snapshot=None))
    return 1
