"""Start-up recovery of the recordings directory, and the segment file naming it relies on.

Owns the layout ``<data_dir>/recordings/<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4`` (UTC) and the
reconciliation of that tree with the database after an unclean stop: a segment's ``.part`` left
by a killed writer is salvaged (its whole fragments become the finished segment; segments are
fragmented MP4), other half-written files go, finished files the database never heard of are
indexed, unreadable ones are moved aside to ``<data_dir>/corrupt/``, rows whose files vanished
are dropped, and (sealed) keys whose files are gone are destroyed. After this a ``kill -9``
during recording has cost at most the fragment that was being written.

Then the crash itself is accounted for. Each camera the dead process was recording (a ``.part``
or an unindexed segment of it was found, or it has an open event) gets a gap from its last
recorded moment to now: the downtime. Each event left open ends at the last recorded footage
it covers, and an ``EventFinisher`` (the pipeline's clip and snapshot rules, handed in by the
app: recordings sit below the pipeline) gives it its clip and snapshot and saves it finished;
without one it is only closed. Every file is read through the media I/O, so the same steps
work on sealed and plain files.

``recover`` does all of this for the whole data directory, once at start, before any writer.
``recover_camera`` does it for one camera whose recorder died (a process on a cluster node)
while the other cameras keep recording in other processes: it walks only that camera's
recordings folder, drops only its rows, finishes only its open events and records only its
downtime, and leaves everything shared alone (other media temps, plain files to seal, keys of
vanished files): those may be other processes' live writes, and ``recover`` at the next start
sees to them.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import av

from hearthcam.errors import StoreError
from hearthcam.layout import (
    CORRUPT_DIR,
    EXPORTS_DIR,
    PART_SUFFIX,
    RECORDINGS_DIR,
    parse_segment_path,
)
from hearthcam.store.db import Store
from hearthcam.types import Event, Segment
from hearthcam.vault.media import MediaIO, PlainMedia
from hearthcam.vault.sealed import SALVAGE_SUFFIX

log = logging.getLogger(__name__)

DOWNTIME_REASON = "hearthcam was not running (it stopped without finishing: crash or kill)"
#: The gap of a camera whose recorder alone died (``recover_camera``: a cluster node lost).
MOVED_REASON = "its recorder died with its cluster node or process; started again elsewhere"


class EventFinisher(Protocol):
    """Finishes an event a crash left open (``pipeline.recovered.RecoveredEvents``)."""

    def finish(self, event: Event) -> Event:
        """Gives ``event`` (already ended at its footage) its clip and, if it has none, a
        snapshot from the footage, saves it finished and returns it as saved."""
        ...


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What start-up recovery did, for one log line."""

    parts_deleted: int = 0
    segments_indexed: int = 0
    rows_dropped: int = 0
    events_closed: int = 0
    corrupt: tuple[Path, ...] = field(default=())
    temps_deleted: int = 0
    parts_salvaged: int = 0
    downtime_gaps: int = 0


def probe_duration(path: Path, media: MediaIO | None = None) -> float:
    """Returns a media file's video duration in seconds by demuxing it (no decode).

    Raises:
        av.FFmpegError: the file is not readable media.
        ValueError: it has no video stream or no video packets.
        StoreError: (sealed) it has no key or fails authentication.
    """
    with (media or PlainMedia()).open(path) as file, av.open(file, "r") as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        first: int | None = None
        last = 0
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else min(first, packet.pts)
            last = max(last, packet.pts + (packet.duration or 0))
        if first is None or stream.time_base is None:
            raise ValueError("no video packets")
        return float((last - first) * stream.time_base)


def _move_aside(path: Path, recordings: Path, corrupt: Path) -> Path:
    """Moves an unreadable file into the corrupt directory, keeping its relative path."""
    target = corrupt / path.relative_to(recordings)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, target)
    return target


def _camera_of(recordings: Path, path: Path) -> str:
    """The camera a file under the recordings directory belongs to (its first folder)."""
    return path.relative_to(recordings).parts[0]


def _check_camera(camera: str) -> None:
    """Refuses a camera name that is not one folder name: its folder would not be its own
    (``""`` or ``.`` is the whole recordings directory, ``..`` or ``a/b`` another)."""
    if camera in ("", ".", "..") or Path(camera).name != camera:
        raise ValueError(f"not a camera name: {camera!r}")


def _folder(recordings: Path, camera: str | None) -> Path:
    """The folder recovery walks: the whole recordings directory, or one camera's folder."""
    return recordings if camera is None else recordings / camera


def _salvage_parts(
    recordings: Path, media: MediaIO, cut_off: set[str], camera: str | None = None
) -> tuple[int, int]:
    """Finishes what killed writers left in segment ``.part`` files (of every camera, or of
    ``camera`` only); returns (salvaged, deleted) and adds their cameras to ``cut_off``. A part
    with no whole fragment, or that does not read, goes with its key."""
    folder = _folder(recordings, camera)
    salvaged = deleted = 0
    for temp in folder.rglob(f"*{PART_SUFFIX}{SALVAGE_SUFFIX}"):
        temp.unlink(missing_ok=True)  # an earlier salvage died: its source .part is still there
    for part in sorted(folder.rglob(f"*{PART_SUFFIX}")):
        if not part.is_file():
            continue
        cut_off.add(_camera_of(recordings, part))
        try:
            kept = media.salvage(part)
        except (av.FFmpegError, OSError, StoreError, ValueError) as error:
            log.warning("unfinished segment %s not salvageable: %s", part, error)
            kept = 0
        if kept:
            salvaged += 1
            log.info("salvaged %d bytes of the unfinished segment %s", kept, part)
        else:
            media.delete([part])  # the .part and its key; never the finished file beside it
            deleted += 1
    return salvaged, deleted


def _index_orphans(
    store: Store,
    data_dir: Path,
    probe: Callable[[Path], float],
    cut_off: set[str],
    camera: str | None = None,
) -> tuple[int, list[Path]]:
    """Indexes segment files the database does not know (of every camera, or of ``camera``
    only); returns (indexed, moved-aside paths) and adds their cameras to ``cut_off``."""
    recordings = data_dir / RECORDINGS_DIR
    known = {p.resolve() for p in store.known_segment_paths(camera)}
    indexed, corrupt = 0, []
    for path in sorted(_folder(recordings, camera).rglob("*.mp4")):
        if not path.is_file() or path.resolve() in known:
            continue
        try:
            camera, start = parse_segment_path(recordings, path)
            duration = probe(path)
            if duration <= 0:
                raise ValueError("empty segment")
        except (av.FFmpegError, ValueError, OSError, StoreError) as error:
            moved = _move_aside(path, recordings, data_dir / CORRUPT_DIR)
            log.warning("unreadable segment %s moved to %s: %s", path, moved, error)
            corrupt.append(moved)
            continue
        store.add_segment(Segment(camera, path, start, start + duration))
        cut_off.add(camera)
        indexed += 1
    return indexed, corrupt


def _reconcile(
    store: Store,
    data_dir: Path,
    media: MediaIO,
    probe: Callable[[Path], float] | None,
    camera: str | None = None,
) -> tuple[RecoveryReport, set[str]]:
    """Salvages segment ``.part`` files, indexes orphan segments and drops the rows of vanished
    segments, of every camera or of ``camera`` only; returns what it did and the cameras the
    dead process was recording (a ``.part`` or an unindexed segment of theirs was found)."""
    measure = probe or (lambda path: probe_duration(path, media))
    recordings = data_dir / RECORDINGS_DIR
    parts = salvaged = indexed = 0
    corrupt: list[Path] = []
    cut_off: set[str] = set()
    if _folder(recordings, camera).is_dir():
        salvaged, parts = _salvage_parts(recordings, media, cut_off, camera)
        indexed, corrupt = _index_orphans(store, data_dir, measure, cut_off, camera)
    missing = [p for p in store.known_segment_paths(camera) if not p.exists()]
    dropped = store.delete_segments(missing)
    found = RecoveryReport(
        parts_deleted=parts,
        segments_indexed=indexed,
        rows_dropped=dropped,
        corrupt=tuple(corrupt),
        parts_salvaged=salvaged,
    )
    return found, cut_off


def _delete_media_temps(data_dir: Path, media: MediaIO) -> int:
    """Deletes half-written clips, snapshots and exports (``.part`` files, and the hidden
    ``.<name>.<uuid>.tmp`` files of older versions)."""
    count = 0
    for kind in ("clips", "snapshots", EXPORTS_DIR):
        folder = data_dir / kind
        if folder.is_dir():
            for temp in folder.rglob(".*.tmp"):
                temp.unlink(missing_ok=True)
                count += 1
            parts = [p for p in folder.rglob(f"*{PART_SUFFIX}") if p.is_file()]
            media.delete(parts)
            count += len(parts)
    return count


def _recorded_until(store: Store, camera: str) -> float | None:
    """The end of the camera's last indexed segment: its last recorded moment."""
    segments = store.segments_between(camera, float("-inf"), float("inf"))
    return max((s.end for s in segments), default=None)


def _ended_at_footage(event: Event, recorded_until: float | None) -> Event:
    """The open event ended at the last footage it covers (as it stands if there is none later:
    nothing recorded it further)."""
    if recorded_until is None or recorded_until <= event.wall_end:
        return event
    longer = recorded_until - event.wall_end
    return replace(event, end=event.end + longer, wall_end=recorded_until)


def _record_downtime(
    store: Store, cameras: set[str], now: float, reason: str = DOWNTIME_REASON
) -> tuple[dict[str, float | None], int]:
    """Adds a gap from each camera's last recorded moment to ``now``; returns those moments
    and how many gaps were added."""
    until = {camera: _recorded_until(store, camera) for camera in sorted(cameras)}
    added = 0
    for camera, last in until.items():
        if last is not None and last < now:
            store.add_gap(camera, last, now, reason)
            log.info("%s: not recorded for %.1f s (%s)", camera, now - last, reason)
            added += 1
    return until, added


def _finish_open_events(
    store: Store,
    finisher: EventFinisher | None,
    cut_off: set[str],
    camera: str | None = None,
    now: float | None = None,
    reason: str = DOWNTIME_REASON,
) -> tuple[int, int]:
    """Ends the events a crash left open (of every camera, or of ``camera`` only) at their
    footage and finishes them; records each recording camera's downtime up to ``now`` (the
    time of the call if not given). Returns (events finished, gaps added)."""
    events = [e for e in store.open_events() if camera is None or e.camera == camera]
    cameras = cut_off | {e.camera for e in events}
    until, gaps = _record_downtime(store, cameras, time.time() if now is None else now, reason)
    for event in events:
        ended = _ended_at_footage(event, until.get(event.camera))
        try:
            if finisher is None:
                store.save_event(ended, finished=True)
            else:
                finisher.finish(ended)
        except Exception:  # one event's media must not stop the start: it is closed below
            log.exception("event %s left open by a crash could not be finished", event.id)
            store.save_event(ended, finished=True)
    # None is left open to hold its segments for ever; one camera's recovery closes only its
    # own (the other cameras' open events are live ones of other processes).
    if camera is None:
        store.finish_open_events()
    else:
        for event in events:
            if store.is_finished(event.id) is False:
                store.save_event(store.get_event(event.id) or event, finished=True)
    return len(events), gaps


def recover(
    store: Store,
    data_dir: Path,
    probe: Callable[[Path], float] | None = None,
    media: MediaIO | None = None,
    finisher: EventFinisher | None = None,
) -> RecoveryReport:
    """Reconciles the recordings directory with the database and finishes what a crash left
    open; run once before recording starts (and before any other writer: it destroys keys
    whose files are gone)."""
    media = media or PlainMedia()
    migrated = media.migrate()
    if migrated:
        log.info("recovery: %d plain media files sealed", migrated)
    found, cut_off = _reconcile(store, data_dir, media, probe)
    temps = _delete_media_temps(data_dir, media)
    media.settle()
    # After the clean-up: clips and snapshots are written like any others from here on.
    closed, gaps = _finish_open_events(store, finisher, cut_off)
    report = replace(found, events_closed=closed, temps_deleted=temps, downtime_gaps=gaps)
    log.info("recovery: %s", report)
    return report


def recover_camera(
    store: Store,
    data_dir: Path,
    camera: str,
    *,
    now: float | None = None,
    probe: Callable[[Path], float] | None = None,
    media: MediaIO | None = None,
    finisher: EventFinisher | None = None,
    reason: str = MOVED_REASON,
) -> RecoveryReport:
    """Recovers one camera whose recorder died, before it records again, while the other
    cameras keep recording in other processes: the same steps as ``recover`` on that camera's
    segments, rows and open events only, with its downtime recorded up to ``now`` (the time of
    the call if not given) as a gap with ``reason``. Nothing shared is touched (other media
    temps, sealing, keys of vanished files): those can be live writes of other processes.

    Raises:
        ValueError: ``camera`` is not a folder name (it would name another folder).
    """
    _check_camera(camera)
    media = media or PlainMedia()
    found, cut_off = _reconcile(store, data_dir, media, probe, camera)
    closed, gaps = _finish_open_events(store, finisher, cut_off, camera, now, reason)
    report = replace(found, events_closed=closed, downtime_gaps=gaps)
    log.info("recovery of camera %s: %s", camera, report)
    return report
