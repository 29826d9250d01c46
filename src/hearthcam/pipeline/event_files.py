"""Where an event's snapshot and clip are written under the data directory:
``<data_dir>/<snapshots|clips>/<camera>/<YYYY-MM-DD>/<event id>.<jpg|mp4>`` (UTC day of its
start; a long event's later clips are ``<event id>.part<n>.mp4``). The event sink writes
snapshots and the clip cutter clips by this one rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hearthcam.types import Event

SNAPSHOTS_DIR = "snapshots"
CLIPS_DIR = "clips"


def event_file(media_root: Path, kind: str, event: Event, suffix: str) -> Path:
    """The path of ``event``'s file of ``kind`` (``SNAPSHOTS_DIR`` or ``CLIPS_DIR``)."""
    day = dt.datetime.fromtimestamp(event.wall_start, dt.UTC).strftime("%Y-%m-%d")
    return media_root / kind / event.camera / day / f"{event.id}{suffix}"


def snapshot_path(media_root: Path, event: Event) -> Path:
    """Where ``event``'s snapshot (a JPEG) goes."""
    return event_file(media_root, SNAPSHOTS_DIR, event, ".jpg")


def clip_path(media_root: Path, event: Event, part: int = 1) -> Path:
    """Where ``event``'s clip (an MP4) goes: its first, or its ``part``-th of several."""
    return event_file(media_root, CLIPS_DIR, event, ".mp4" if part == 1 else f".part{part}.mp4")
