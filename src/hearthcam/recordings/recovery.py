"""Start-up recovery of the recordings directory, and the segment file naming it relies on.

Owns the layout ``<data_dir>/recordings/<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4`` (UTC) and the
reconciliation of that tree with the database after an unclean stop: a segment's ``.part`` left
by a killed writer is salvaged (its whole fragments become the finished segment; segments are
fragmented MP4), other half-written files go, finished files the database never heard of are
indexed, unreadable ones are moved aside to ``<data_dir>/corrupt/``, rows whose files vanished
are dropped, events left open are closed, and (sealed) keys whose files are gone are destroyed.
After this a ``kill -9`` during recording has cost at most the fragment that was being written.
Every file is read through the media I/O, so the same steps work on sealed and plain files.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from hearthcam.errors import StoreError
from hearthcam.layout import CORRUPT_DIR, PART_SUFFIX, RECORDINGS_DIR, parse_segment_path
from hearthcam.store.db import Store
from hearthcam.types import Segment
from hearthcam.vault.media import MediaIO, PlainMedia
from hearthcam.vault.sealed import SALVAGE_SUFFIX

log = logging.getLogger(__name__)


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


def _salvage_parts(recordings: Path, media: MediaIO) -> tuple[int, int]:
    """Finishes what killed writers left in segment ``.part`` files; returns (salvaged,
    deleted). A part with no whole fragment, or that does not read, goes with its key."""
    salvaged = deleted = 0
    for temp in recordings.rglob(f"*{PART_SUFFIX}{SALVAGE_SUFFIX}"):
        temp.unlink(missing_ok=True)  # an earlier salvage died: its source .part is still there
    for part in sorted(recordings.rglob(f"*{PART_SUFFIX}")):
        if not part.is_file():
            continue
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
) -> tuple[int, list[Path]]:
    """Indexes segment files the database does not know; returns (indexed, moved-aside paths)."""
    recordings = data_dir / RECORDINGS_DIR
    known = {p.resolve() for p in store.known_segment_paths()}
    indexed, corrupt = 0, []
    for path in sorted(recordings.rglob("*.mp4")):
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
        indexed += 1
    return indexed, corrupt


def _delete_media_temps(data_dir: Path, media: MediaIO) -> int:
    """Deletes half-written clips and snapshots (``.part`` files, and the hidden
    ``.<name>.<uuid>.tmp`` files of older versions)."""
    count = 0
    for kind in ("clips", "snapshots"):
        folder = data_dir / kind
        if folder.is_dir():
            for temp in folder.rglob(".*.tmp"):
                temp.unlink(missing_ok=True)
                count += 1
            parts = [p for p in folder.rglob(f"*{PART_SUFFIX}") if p.is_file()]
            media.delete(parts)
            count += len(parts)
    return count


def recover(
    store: Store,
    data_dir: Path,
    probe: Callable[[Path], float] | None = None,
    media: MediaIO | None = None,
) -> RecoveryReport:
    """Reconciles the recordings directory with the database; run once before recording starts
    (and before any writer: it destroys keys whose files are gone)."""
    media = media or PlainMedia()
    chosen = media
    measure = probe or (lambda path: probe_duration(path, chosen))
    recordings = data_dir / RECORDINGS_DIR
    parts = salvaged = indexed = 0
    corrupt: list[Path] = []
    migrated = media.migrate()
    if migrated:
        log.info("recovery: %d plain media files sealed", migrated)
    if recordings.is_dir():
        salvaged, parts = _salvage_parts(recordings, media)
        indexed, corrupt = _index_orphans(store, data_dir, measure)
    missing = [p for p in store.known_segment_paths() if not p.exists()]
    dropped = store.delete_segments(missing)
    closed = store.finish_open_events()
    temps = _delete_media_temps(data_dir, media)
    media.settle()
    report = RecoveryReport(parts, indexed, dropped, closed, tuple(corrupt), temps, salvaged)
    log.info("recovery: %s", report)
    return report
