"""How much recorded footage a camera keeps, for the System page: the bytes its segments take
on disk (the files the store indexes, as stored: sealed when encryption is on), how many there
are, the oldest and newest recording kept, and the start of its oldest event that still has a
clip or snapshot (retention's horizons for that camera: recordings, and events by their hours).

Sizes are read from the files (``stat``), not stored in the rows: a segment's row is written
before it is sealed and its size would have to follow every rewrite; one ``stat`` per segment is
cheap next to the page's refresh (a day of 10 s segments is 8,640 of them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hearthcam.store.db import Store


@dataclass(frozen=True, slots=True)
class FootageUsage:
    """One camera's recorded footage now."""

    camera: str
    segments: int
    bytes: int
    oldest: float | None  # wall time where the oldest kept segment starts; None: none kept
    newest: float | None  # wall time where the newest indexed segment ends
    oldest_event: float | None  # start of the oldest event with a clip or snapshot kept


def footage_usage(store: Store, camera: str) -> FootageUsage:
    """The camera's indexed segments: their count, bytes on disk and time span."""
    segments = store.segments_between(camera, -math.inf, math.inf)
    size = 0
    for segment in segments:
        try:
            size += segment.path.stat().st_size
        except OSError:  # deleted by retention since the rows were read
            continue
    return FootageUsage(
        camera=camera,
        segments=len(segments),
        bytes=size,
        oldest=segments[0].start if segments else None,
        newest=max((s.end for s in segments), default=None),
        oldest_event=store.oldest_media_start(camera),
    )
