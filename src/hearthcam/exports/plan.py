"""What may be exported: a range's checks, an event's range, the footage that covers it.

Every refusal is an ``ExportRefused`` whose message says what to change, so the web app and the
command line show it as it is.
"""

from __future__ import annotations

import datetime as dt

from hearthcam.errors import HearthcamError
from hearthcam.store.db import Store
from hearthcam.types import Event, Segment


class ExportRefused(HearthcamError):
    """A requested export cannot be made (its message says why, for the person who asked)."""


def _when(wall: float) -> str:
    return dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def check_range(start: float, end: float, now: float, max_seconds: float) -> None:
    """Refuses a range that ends before it starts, lies in the future or is too long."""
    if end <= start:
        raise ExportRefused(f"the end ({_when(end)}) must be after the start ({_when(start)})")
    if end - start > max_seconds:
        raise ExportRefused(
            f"the range is {(end - start) / 60:.1f} minutes long; one export covers at most "
            f"{max_seconds / 60:g} minutes (exports.max_minutes): split it"
        )
    if end > now + 1.0:
        raise ExportRefused(
            f"the range ends in the future ({_when(end)}): pick an end before now ({_when(now)})"
        )


def event_range(event: Event, before: float, after: float) -> tuple[float, float]:
    """The range of ``event`` with ``before`` seconds ahead of it and ``after`` behind."""
    if before < 0 or after < 0:
        raise ExportRefused("seconds before and after the event cannot be negative")
    return event.wall_start - before, event.wall_end + after


def footage(store: Store, camera: str, start: float, end: float) -> list[Segment]:
    """The recorded segments of ``camera`` that cover part of [start, end], oldest first;
    refused when there are none."""
    segments = store.segments_between(camera, start, end)
    if not segments:
        raise ExportRefused(
            f"no recorded footage of {camera} between {_when(start)} and {_when(end)} "
            "(it was never recorded, or retention deleted it)"
        )
    return segments
