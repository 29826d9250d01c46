"""Clip cutting for one camera: an ended event's clip window waits until the recording covers
it, then the clip is cut from the segments on the shared clip pool. A window longer than
``record.max_clip`` is cut into consecutive clips (``clips.clip_parts``), all saved with the
event, so every second of a long visit is in one of its clips.

``queue`` takes an ended event and returns its window's end (the runner asks the recorder to
close the segment there early); ``cut_ready`` is called as segments close, and hands every
window the recording now covers to the pool. A clip that cannot be cut because its household is
locked (password mode) is kept as a pending clip in the store and cut by ``cut_pending`` once
the owner unlocks it. A clip the disk has no room for waits in memory instead (the store may
have no room for a row either): its event is finished without a clip if the row can be written,
the refusal is told to ``on_disk_full``, and ``cut_pending`` cuts it once retention has freed
space. Retention keeps its segments (``waiting_for_space``) unless nothing else is left to free,
when it gives the clip up (``give_up``): recording what happens now comes before an older clip.
Such a wait does not outlive the process (the event keeps its row and snapshot).

While a window waits for the recording or is being cut, ``needed_from`` says from when its
footage is needed: retention asks the running cameras this rather than the rows' ``finished``
flags, which a full disk may have left unwritten. Each cut saves the event finished, with its
clip, and says so through ``on_ready``; a failure is reported through ``on_error`` and the event
is finished without one.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from hearthcam.config import RecordConfig
from hearthcam.errors import MediaLocked, is_disk_full
from hearthcam.pipeline.clips import assemble_clip, clip_parts, clip_window
from hearthcam.pipeline.event_files import clip_path
from hearthcam.store.pending_clips import PendingClip
from hearthcam.types import Event, Segment
from hearthcam.vault.media import MediaIO

log = logging.getLogger(__name__)


class ClipRows(Protocol):
    """The rows a clip cutter reads and writes (``Store``)."""

    def segments_between(self, camera: str, start_wall: float, end_wall: float) -> list[Segment]:
        """The camera's segments that overlap the window."""
        ...

    def get_event(self, event_id: str) -> Event | None:
        """The event's row now, or None if it was deleted."""
        ...

    def save_event(self, ev: Event, *, finished: bool = True) -> None:
        """Inserts or updates the event's row."""
        ...


class RowsWithBacklog:
    """The store's rows, and the finished segments whose rows a full disk refused for now
    (``backlog``): their files are there, so a clip is cut from them rather than fail with "no
    recording covers" while the rows wait for room."""

    def __init__(self, rows: ClipRows, backlog: Callable[[], Sequence[Segment]]) -> None:
        self._rows = rows
        self._backlog = backlog

    def segments_between(self, camera: str, start_wall: float, end_wall: float) -> list[Segment]:
        """The camera's segments that overlap the window, indexed or not, oldest first."""
        indexed = self._rows.segments_between(camera, start_wall, end_wall)
        known = {segment.path for segment in indexed}
        waiting = [
            segment
            for segment in self._backlog()
            if segment.camera == camera
            and segment.end > start_wall
            and segment.start < end_wall
            and segment.path not in known
        ]
        return sorted(indexed + waiting, key=lambda segment: segment.start)

    def get_event(self, event_id: str) -> Event | None:
        """The event's row now, or None if it was deleted."""
        return self._rows.get_event(event_id)

    def save_event(self, ev: Event, *, finished: bool = True) -> None:
        """Inserts or updates the event's row."""
        self._rows.save_event(ev, finished=finished)


class PendingRows(Protocol):
    """Clip windows waiting for their household's unlock (``store.pending_clips.PendingClips``)."""

    def add(self, clip: PendingClip) -> None:
        """Records (or replaces) an event's pending clip window."""
        ...

    def of_camera(self, camera: str) -> list[PendingClip]:
        """A camera's pending clips, oldest window first."""
        ...

    def remove(self, event_id: str) -> None:
        """Forgets an event's pending clip."""
        ...


class ClipMedia(Protocol):
    """How a clip is made from segments and a stray one removed (``RecordedClips``)."""

    def cut(self, segments: list[Segment], start: float, end: float, path: Path) -> None:
        """Writes the clip of [start, end] at ``path``; raises ``MediaLocked`` while the
        segments' household is locked, another exception when no clip can be made."""
        ...

    def delete(self, paths: Iterable[Path]) -> int:
        """Destroys files; returns how many it found."""
        ...


class RecordedClips:
    """Clips remuxed from recorded segments (``clips.assemble_clip``) through ``media``."""

    def __init__(self, media: MediaIO) -> None:
        self._media = media

    def cut(self, segments: list[Segment], start: float, end: float, path: Path) -> None:
        """Cuts one clip."""
        assemble_clip(segments, start, end, path, self._media)

    def delete(self, paths: Iterable[Path]) -> int:
        """Destroys files (and their keys, sealed)."""
        return self._media.delete(paths)


@dataclass(frozen=True)
class ClipParts:
    """What a camera's clip cutter works with: the runner gives the real ones, tests fakes."""

    rows: ClipRows
    pending: PendingRows
    media: ClipMedia
    pool: Executor
    media_root: Path


@dataclass(frozen=True, slots=True)
class ClipWindow:
    """An ended event and the wall times its clip covers."""

    event: Event
    start: float
    end: float


# A clip is ready: the event as saved with it, and whether it was cut late (after an unlock).
ReadyHook = Callable[[Event, bool], None]


class ClipCutter:
    """Cuts one camera's clips; ``queue`` and ``cut_ready`` may be called from any thread."""

    def __init__(
        self,
        camera: str,
        record: RecordConfig,
        parts: ClipParts,
        on_ready: ReadyHook,
        on_error: Callable[[str], None],
        on_disk_full: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._camera = camera
        self._on_disk_full = on_disk_full
        self._record = record
        self._parts = parts
        self._on_ready = on_ready
        self._on_error = on_error
        self._lock = threading.Lock()
        self._waiting: list[ClipWindow] = []
        self._cutting: dict[str, ClipWindow] = {}  # handed to the pool, not cut yet
        self._for_space: dict[str, ClipWindow] = {}  # refused by a full disk, cut again later

    @property
    def waiting(self) -> list[ClipWindow]:
        """The windows the recording does not cover yet, in the order queued."""
        with self._lock:
            return list(self._waiting)

    def needed_from(self) -> float | None:
        """The earliest wall time of footage a window waiting for the recording or being cut
        needs (None: none), not counting those waiting for space."""
        with self._lock:
            starts = [w.start for w in self._waiting] + [w.start for w in self._cutting.values()]
        return min(starts, default=None)

    def waiting_for_space(self) -> list[ClipWindow]:
        """The windows a full disk refused, oldest first: cut again by ``cut_pending``."""
        with self._lock:
            return sorted(self._for_space.values(), key=lambda w: w.start)

    def give_up(self, event_id: str) -> bool:
        """Drops a window waiting for space (retention needs its footage); True if it waited.
        Its event keeps its row and snapshot, without a clip."""
        with self._lock:
            window = self._for_space.pop(event_id, None)
        if window is None:
            return False
        log.warning(
            "%s: gave up the clip of event %s: the disk is full and nothing older is left to free",
            self._camera,
            event_id,
        )
        self._finish_without_clip(window.event)
        return True

    def queue(self, event: Event) -> float:
        """Queues an ended event's clip; returns the wall time its window ends."""
        rec = self._record
        # Not capped at max_clip: a longer window is cut into several clips (``_cut_parts``).
        start, end = clip_window(
            event.wall_start, event.wall_end, rec.pre_roll, rec.post_roll, rec.min_clip, math.inf
        )
        # Widened backwards past where the recording begins (the camera or file had just
        # started), the clip would be short of min_clip: it runs on after the event instead.
        recorded = self._parts.rows.segments_between(self._camera, start, end)
        begins = min((seg.start for seg in recorded), default=start)
        if begins > start:
            end = max(end, min(begins, event.wall_start) + rec.min_clip)
            start = begins
        with self._lock:
            self._waiting.append(ClipWindow(event, start, end))
        return end

    def cut_ready(self, recorded_until: float) -> None:
        """Hands every window that ends by ``recorded_until`` to the clip pool (``inf`` at the
        end of a run: everything, from whatever was recorded)."""
        with self._lock:
            ready = [w for w in self._waiting if w.end <= recorded_until]
            self._waiting = [w for w in self._waiting if w.end > recorded_until]
            self._cutting.update((w.event.id, w) for w in ready)
        for window in ready:
            self._parts.pool.submit(self.cut, window)

    def cut(self, window: ClipWindow) -> None:
        """Cuts one window's clip (on the clip pool) and finishes its event."""
        try:
            self._cut(window)
        finally:
            with self._lock:
                self._cutting.pop(window.event.id, None)

    def _cut_parts(self, event: Event, start: float, end: float) -> tuple[Path, ...]:
        """Cuts the clips of the window [start, end] (one per ``max_clip`` of it); returns the
        paths of those made, in order. A part no footage covers (a gap in the recording) is
        left out. Raises ``MediaLocked`` and a full disk's error (the parts made so far are
        removed: the window is cut again whole), else the first error when no part was made."""
        rows, media = self._parts.rows, self._parts.media
        made: list[Path] = []
        failed: Exception | None = None
        for number, (a, b) in enumerate(clip_parts(start, end, self._record.max_clip), 1):
            path = clip_path(self._parts.media_root, event, number)
            try:
                media.cut(rows.segments_between(self._camera, a, b), a, b, path)
            except Exception as error:
                if isinstance(error, MediaLocked) or is_disk_full(error):
                    if made:
                        media.delete(made)
                    raise
                log.warning("%s: clip %d of event %s not cut: %s", self._camera, number,
                            event.id, error)  # fmt: skip
                failed = failed or error
                continue
            made.append(path)
        if not made:
            assert failed is not None
            raise failed
        return tuple(made)

    def _cut(self, window: ClipWindow) -> None:
        rows, event = self._parts.rows, window.event
        try:
            paths = self._cut_parts(event, window.start, window.end)
        except MediaLocked:
            # Password mode, nobody signed in since the start: the segments are kept, so the
            # clip is cut when the owner unlocks the household (``cut_pending``).
            log.info("%s: clip for event %s waits for the unlock", self._camera, event.id)
            self._wait(window)
            return
        except Exception as error:
            if self._on_disk_full is not None and is_disk_full(error):
                # Cut again (``cut_pending``) once retention has freed space.
                self._wait_for_space(window)
                self._on_disk_full(error)
                return
            # reported; the event stays without a clip
            self._on_error(f"{self._camera}: clip for event {event.id} failed: {error}")
            rows.save_event(event, finished=True)
            return
        # The row, not the ended change: the alert flag may have been set on it meanwhile.
        stored = rows.get_event(event.id) or event
        done = replace(stored, clip=paths[0], clip_parts=paths[1:])
        rows.save_event(done, finished=True)
        self._on_ready(done, False)

    def _wait(self, window: ClipWindow) -> None:
        """Keeps the window as a pending clip and finishes the event without a clip for now."""
        event = window.event
        self._parts.pending.add(PendingClip(event.id, self._camera, window.start, window.end))
        self._parts.rows.save_event(event, finished=True)

    def _wait_for_space(self, window: ClipWindow) -> None:
        """Keeps the window until there is room, finishing its event without a clip for now."""
        with self._lock:
            self._for_space[window.event.id] = window
        self._finish_without_clip(window.event)

    def _finish_without_clip(self, event: Event) -> None:
        """Saves ``event`` finished as it is, unless the disk has no room for the row either
        (then it stays open in the store until a later save, or recovery, finishes it)."""
        try:
            self._parts.rows.save_event(event, finished=True)
        except Exception as error:
            if not is_disk_full(error):
                raise

    def cut_pending(self) -> int:
        """Cuts the clips that waited for this camera's household to be unlocked or for space;
        returns how many were cut (still locked ones stay pending, those the disk still refuses
        wait on; events deleted meanwhile are dropped)."""
        cut = self._cut_unlocked()
        return cut + self._cut_for_space()

    def _cut_for_space(self) -> int:
        """Cuts the windows a full disk refused, oldest first, until it refuses again."""
        cut = 0
        while True:
            with self._lock:
                if not self._for_space:
                    return cut
                window = min(self._for_space.values(), key=lambda w: w.start)
                del self._for_space[window.event.id]
                self._cutting[window.event.id] = window  # retention keeps it while cut
            try:
                done = self._cut_late(window)
            except Exception as error:
                if self._on_disk_full is None or not is_disk_full(error):
                    raise
                with self._lock:
                    self._for_space[window.event.id] = window
                self._on_disk_full(error)  # still no room: the rest wait for the next pass
                return cut
            finally:
                with self._lock:
                    self._cutting.pop(window.event.id, None)
            cut += done

    def _cut_late(self, window: ClipWindow) -> int:
        """Cuts a window that waited; 1 if its clip was made (raises when the disk is full)."""
        rows = self._parts.rows
        event = rows.get_event(window.event.id)
        if event is None or event.clip is not None:
            return 0  # deleted meanwhile (or never stored: nothing to show it with), or cut
        try:
            paths = self._cut_parts(window.event, window.start, window.end)
        except MediaLocked:  # locked meanwhile (password mode): waits for the unlock instead
            self._wait(window)
            return 0
        except Exception as error:
            if is_disk_full(error):
                raise
            # the segments expired meanwhile: no clip to make
            self._on_error(f"{self._camera}: late clip for event {window.event.id} failed: {error}")
            return 0
        # The event row may have changed meanwhile (retention, the owner): read it again.
        current = rows.get_event(window.event.id)
        if current is None:
            self._parts.media.delete(paths)
            return 0
        done = replace(current, clip=paths[0], clip_parts=paths[1:])
        rows.save_event(done, finished=True)
        self._on_ready(done, True)
        return 1

    def _cut_unlocked(self) -> int:
        """Cuts the pending clips of a household that is unlocked now."""
        pending, rows, cut = self._parts.pending, self._parts.rows, 0
        for clip in pending.of_camera(self._camera):
            event = rows.get_event(clip.event_id)
            if event is None or event.clip is not None:
                pending.remove(clip.event_id)
                continue
            try:
                paths = self._cut_parts(event, clip.start, clip.end)
            except MediaLocked:
                return cut
            except Exception as error:
                if self._on_disk_full is not None and is_disk_full(error):
                    self._on_disk_full(error)  # still no room: the rest wait for the next pass
                    return cut
                # the segments expired meanwhile: no clip to make
                self._on_error(f"{self._camera}: late clip for event {event.id} failed: {error}")
                pending.remove(clip.event_id)
                continue
            # The event row may have changed meanwhile (retention, the owner): read it again.
            current = rows.get_event(event.id)
            pending.remove(clip.event_id)
            if current is None:
                self._parts.media.delete(paths)
                continue
            done = replace(current, clip=paths[0], clip_parts=paths[1:])
            rows.save_event(done, finished=True)
            cut += 1
            self._on_ready(done, True)
        return cut
