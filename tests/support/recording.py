"""Recorded history for tests: a real clip fed through the real ``SegmentRecorder`` (sealed or
plain, as the media I/O given writes), its segments indexed in the store as a camera's are."""

from __future__ import annotations

import random
from pathlib import Path

import av

from hearthcam.layout import RECORDINGS_DIR
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.store.db import Store
from hearthcam.types import Segment
from hearthcam.vault.media import MediaIO


def record_clip(
    media: MediaIO,
    store: Store,
    data_dir: Path,
    camera: str,
    clip: Path,
    start_wall: float,
    segment_seconds: float = 1.0,
    jitter: float = 0.0,
) -> list[Segment]:
    """Records ``clip`` as ``camera`` from ``start_wall`` (its packets' wall time is their
    decode time after it, late by up to ``jitter`` seconds as a network delivers them: then
    a segment's wall times and its media time differ a little, as a camera's do); returns the
    segments, indexed in ``store``."""
    late = random.Random(7)
    segments: list[Segment] = []

    def finished(segment: Segment) -> None:
        store.add_segment(segment)
        segments.append(segment)

    recorder = SegmentRecorder(camera, data_dir / RECORDINGS_DIR, segment_seconds, finished, media)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.dts is not None:
                wall = start_wall + float(packet.dts * packet.time_base)
                recorder.write(packet, stream, wall + late.uniform(0, jitter))
        recorder.close()
    return segments
