"""Deleting an event's media for real: clip, snapshot and every derivative, then its row.

A *derivative* of an event is any file the system made from it: a redacted copy, a thumbnail, a
re-encode. The rule every writer of derivatives follows (and the only way this module finds
them): it lives under ``<data_dir>/<kind>/<camera>/<YYYY-MM-DD>/`` for the UTC day of the event's
start, as the clip and snapshot do, and its file name starts with the event id. Event ids are
32 random hex digits, so no other event's file can match. Leftover ``.part`` files of an
interrupted write match the same rule and go too, and so do the keys of sealed files by that rule
even when the files are gone already (``MediaIO.known``).

Files (sealed: keys first, then files) go first and the row last: if a file cannot be deleted the
row stays, so the deletion can be retried and the owner never sees "deleted" while a copy
remains. Only files inside the data directory are touched, whatever a database row says: a link
there is unlinked, never what it points at, and a folder linked out of it is not looked into
(``layout.contained``).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from hearthcam.errors import StoreError
from hearthcam.layout import RECORDINGS_DIR, contained
from hearthcam.store.db import Store
from hearthcam.types import Event
from hearthcam.vault.media import MediaIO, PlainMedia

log = logging.getLogger(__name__)


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies under ``root``; its own name is not resolved, so a link in the data
    directory counts as inside (unlinking it never touches what it points at)."""
    return contained(path, root, follow_links=False) is not None


def event_media_files(event: Event, data_dir: Path, media: MediaIO | None = None) -> list[Path]:
    """Every file of ``event``: clip, snapshot and derivatives (inside ``data_dir``) on disk,
    and, sealed, those whose keys outlived their files."""
    media = media or PlainMedia()
    found: set[Path] = set()
    recorded = [*event.clips, *([] if event.snapshot is None else [event.snapshot])]
    for path in recorded:
        if path.is_file() and _inside(path, data_dir):
            found.add(path)
    day = dt.datetime.fromtimestamp(event.wall_start, dt.UTC).strftime("%Y-%m-%d")
    folders = {p.parent for p in recorded}
    if data_dir.is_dir():
        # Segments are shared by many events and are retention's to delete, never ours.
        kinds = (d for d in data_dir.iterdir() if d.is_dir() and d.name != RECORDINGS_DIR)
        folders.update(kind / event.camera / day for kind in kinds)
    for folder in folders:
        # Its files are listed through it: a folder must really be inside (links followed).
        if contained(folder, data_dir) is not None:
            found.update(media.known(folder, event.id))
    return sorted(found)


def delete_event_media(
    store: Store, event_id: str, data_dir: Path, media: MediaIO | None = None
) -> bool:
    """Deletes an event's files (sealed: their keys), then its row; True if the event existed.

    Idempotent: a second call finds no row and returns False. Raises StoreError if a file
    could not be deleted (the row is then kept so the deletion can be retried).
    """
    media = media or PlainMedia()
    event = store.get_event(event_id)
    if event is None:
        return False
    files = event_media_files(event, data_dir, media)
    try:
        media.delete(files)
    except OSError as error:
        raise StoreError(f"cannot delete the media of event {event_id}: {error}") from error
    deleted = store.delete_event(event_id)
    log.info("event %s deleted with its media", event_id)
    # False when a concurrent call deleted the row first: only one caller counts the deletion.
    return deleted
