"""Finishing the events a crash left open, from what was recorded (``recordings.recovery`` calls
it at start, before any camera runs).

Recovery has already ended each such event at the last footage it covers; here it gets what the
live path would have given it: a snapshot, if it has none, decoded from the footage in the
middle of its span (no boxes: the tracks keep no positions) unless the one written live is
still on disk, and its clip, cut by the live
path's ``ClipCutter`` with the same window rules (pre/post-roll, min/max clip). So a household
that is locked at start (password mode) gets the clip as a pending clip, cut at the unlock;
its snapshot cannot be made then either (the footage cannot be read), and the event keeps the
one written live, if any.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import replace
from pathlib import Path
from typing import ParamSpec, TypeVar, cast

import av

from hearthcam.config import RecordConfig
from hearthcam.errors import MediaLocked, StoreError
from hearthcam.pipeline.clipper import ClipCutter, ClipParts, RecordedClips
from hearthcam.pipeline.clips import ClipError, write_snapshot
from hearthcam.pipeline.event_files import snapshot_path
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClips
from hearthcam.types import BGRImage, Event, Segment
from hearthcam.vault.media import MediaIO

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class _Inline(Executor):
    """Runs each task at once on the caller's thread: recovery finishes events one by one,
    before the clip pool exists."""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # handed back like a pool would, not raised here
            future.set_exception(error)
        return future


def _covering(segments: Sequence[Segment], wall: float) -> Segment | None:
    """The segment recorded at ``wall``, else the last one that starts before it (or the first)."""
    ordered = sorted(segments, key=lambda s: s.start)
    for segment in ordered:
        if segment.start <= wall < segment.end:
            return segment
    before = [s for s in ordered if s.start <= wall]
    return before[-1] if before else (ordered[0] if ordered else None)


def frame_at(segments: Sequence[Segment], wall: float, media: MediaIO) -> BGRImage:
    """Decodes the recorded frame shown at ``wall`` (the last one at or before it), as BGR.

    Raises:
        ClipError: no segment, or no readable frame, covers it.
        MediaLocked: the footage's household is locked (password mode).
    """
    segment = _covering(segments, wall)
    if segment is None:
        raise ClipError(f"no recording covers {wall:.3f}")
    chosen = None
    try:
        with media.open(segment.path) as file, av.open(file, "r") as container:
            stream = container.streams.video[0]
            origin: int | None = None
            for frame in container.decode(stream):
                if frame.pts is None or stream.time_base is None:
                    continue
                origin = frame.pts if origin is None else origin
                if (
                    chosen is not None
                    and segment.start + (frame.pts - origin) * stream.time_base > wall
                ):
                    break
                chosen = frame
    except MediaLocked:
        raise
    except (av.FFmpegError, OSError, StoreError, IndexError) as error:
        raise ClipError(f"segment {segment.path} unreadable: {error}") from error
    if chosen is None:
        raise ClipError(f"segment {segment.path} has no frame")
    return cast("BGRImage", chosen.to_ndarray(format="bgr24"))


class RecoveredEvents:
    """Gives events left open by a crash their snapshot and clip (``recovery.EventFinisher``)."""

    def __init__(self, record: RecordConfig, store: Store, media: MediaIO, media_root: Path):
        self._record = record
        self._store = store
        self._media = media
        self._root = media_root
        self._parts = ClipParts(
            store, PendingClips(store), RecordedClips(media), _Inline(), media_root
        )

    def finish(self, event: Event) -> Event:
        """Snapshot (if missing), row, then the clip; returns the event as saved (finished)."""
        live = snapshot_path(self._root, event)
        if event.snapshot is None and live.is_file():
            # Written live at the start; a later verdict change saved the row without it.
            event = replace(event, snapshot=live)
        if event.snapshot is None or not event.snapshot.is_file():
            event = self._snapshot(event)
        # Saved first: the cutter reads the row back when it adds the clip.
        self._store.save_event(event, finished=False)
        cutter = ClipCutter(event.camera, self._record, self._parts, _told, log.warning)
        cutter.queue(event)
        cutter.cut_ready(float("inf"))  # the footage ends where the event does: cut it now
        return self._store.get_event(event.id) or event

    def _snapshot(self, event: Event) -> Event:
        """The event with a snapshot from the middle of its footage, or as it was."""
        middle = (event.wall_start + event.wall_end) / 2
        try:
            segments = self._store.segments_between(event.camera, event.wall_start, event.wall_end)
            image = frame_at(segments, middle, self._media)
            path = write_snapshot(
                image, None, snapshot_path(self._root, event), media=self._media,
                camera=event.camera,
            )  # fmt: skip
        except MediaLocked:
            log.info("%s: no snapshot for event %s while locked", event.camera, event.id)
            return event
        except StoreError as error:  # ClipError included: no footage, no snapshot
            log.warning("%s: no snapshot for event %s: %s", event.camera, event.id, error)
            return event
        return replace(event, snapshot=path)


def _told(event: Event, _late: bool) -> None:
    """Nobody listens yet at start: the web app and alerts see the finished row."""
    log.info("%s: event %s finished from its footage, clip %s", event.camera, event.id, event.clip)
