"""The one core of an export: the footage of a range remuxed into one MP4, into any file.

The web app's jobs write it into a sealed media writer; ``hearthcam media export-range`` into a
plaintext file outside the data directory. Both go through ``render_range``, so the two give
the same MP4 for the same range.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from hearthcam.exports.plan import footage
from hearthcam.pipeline.clips import stream_range
from hearthcam.store.db import Store
from hearthcam.vault.media import MediaIO, MediaWriter


def render_range(
    store: Store,
    media: MediaIO,
    camera: str,
    start: float,
    end: float,
    target: BinaryIO | MediaWriter,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Writes the recording of ``camera`` over [start, end] into ``target`` as MP4 (fragmented:
    written front to back, so hours need no memory); returns the video packets written.

    Gaps in the recording are skipped, not shown as frozen frames (as in event clips).

    Raises:
        ExportRefused: no footage covers the range.
        ClipError: none of the covering footage is readable.
        MediaLocked: the camera's household is locked (password mode).
    """
    segments = footage(store, camera, start, end)
    return stream_range(segments, start, end, target, media, progress)
