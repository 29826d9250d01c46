"""Event sinking for one camera: an event change is written down (its snapshot, its row) and
then told to the listeners (the alert decision, the web app, benchmarks), and so is an event's
clip once the clip cutter has made it.

``write`` runs on the camera's analysis thread (``clip_ready`` on the clip pool), so it does
what must happen in order with the frames and nothing more: the alert decision is a listener
with its own thread (``alerts.decision``), and clips are cut elsewhere (``pipeline.clipper``).
The row is saved open (``finished=False``): an event stays open until its clip exists, so
retention keeps the segments it needs.

A snapshot the disk has no room for is told to ``on_disk_full`` and the event goes on without
one: the row and the listeners matter more than the picture, and retention is freeing space.

The sink never decides an alert and never clears one: ``alerted`` tells it which events the
decision has flagged so far, so their later changes reach the listeners flagged too, and the
store keeps a set flag whatever a later save carries (``Store.save_event``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from hearthcam.errors import is_disk_full
from hearthcam.pipeline.clips import write_snapshot
from hearthcam.pipeline.event_files import snapshot_path
from hearthcam.pipeline.events import Change, EventChange, Snapshot
from hearthcam.types import Event
from hearthcam.vault.media import MediaIO

Listener = Callable[[Change, Event], None]


class EventRows(Protocol):
    """Where event rows go (``Store``)."""

    def save_event(self, ev: Event, *, finished: bool = True) -> None:
        """Inserts or updates the event's row."""
        ...


class SnapshotMedia(Protocol):
    """Where snapshots go (``JpegSnapshots`` over the data directory's media)."""

    def write(self, snapshot: Snapshot, path: Path, camera: str) -> None:
        """Writes ``snapshot`` at ``path`` as ``camera``'s footage."""
        ...


class JpegSnapshots:
    """Snapshots as JPEGs with the detections drawn, written through ``media`` (sealed or not)."""

    def __init__(self, media: MediaIO) -> None:
        self._media = media

    def write(self, snapshot: Snapshot, path: Path, camera: str) -> None:
        """Encodes and writes one snapshot."""
        write_snapshot(
            snapshot.frame.image, snapshot.detections, path, media=self._media, camera=camera
        )


def _never(_event_id: str) -> bool:
    return False


def _raise(error: BaseException) -> None:
    raise error


class EventSink:
    """Writes one camera's event changes down and passes them on."""

    def __init__(
        self,
        rows: EventRows,
        snapshots: SnapshotMedia,
        media_root: Path,
        listeners: Sequence[Listener] = (),
        alerted: Callable[[str], bool] = _never,
        on_disk_full: Callable[[BaseException], None] = _raise,
    ) -> None:
        self._rows = rows
        self._on_disk_full = on_disk_full
        self._snapshots = snapshots
        self._root = media_root
        self._listeners = tuple(listeners)
        self._alerted = alerted
        # The snapshot each open event already has: an update carries none (the builder does not
        # know where it went), and saving the row without it would blank the event's picture in
        # the app until the event ends (or for good, if the process dies first).
        self._written: dict[str, Path] = {}

    def write(self, change: EventChange) -> Event:
        """Writes the change's snapshot (STARTED and ENDED carry the best one so far) and the
        event's row, then calls every listener; returns the event as written.

        A failure to write raises before any listener hears of the change, except a snapshot
        the disk has no room for (``on_disk_full``; the event has no snapshot then).
        """
        event = change.event
        if self._alerted(event.id):
            event = replace(event, alert=True)
        if change.snapshot is not None and change.change is not Change.UPDATED:
            path = snapshot_path(self._root, event)
            try:
                self._snapshots.write(change.snapshot, path, event.camera)
                self._written[event.id] = path
            except Exception as error:
                if not is_disk_full(error):
                    raise
                self._on_disk_full(error)
        written = self._written.get(event.id)
        if event.snapshot is None and written is not None:
            event = replace(event, snapshot=written)
        if change.change is Change.ENDED:
            self._written.pop(event.id, None)
        self._rows.save_event(event, finished=False)
        self._tell(change.change, event)
        return event

    def clip_ready(self, event: Event) -> None:
        """Tells the listeners an event's clip exists (the clip cutter saved it, on the clip
        pool): an UPDATED change carrying the clip, the alert's follow-up."""
        if self._alerted(event.id):
            event = replace(event, alert=True)
        self._tell(Change.UPDATED, event)

    def _tell(self, change: Change, event: Event) -> None:
        for listener in self._listeners:
            listener(change, event)
