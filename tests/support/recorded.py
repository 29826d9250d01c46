"""Footage recorded the way a running camera records it: a real H.264 clip fed packet by packet
through the ``SegmentRecorder`` into sealed (or plain) segments, each indexed in the store."""

from __future__ import annotations

from pathlib import Path

import av

from hearthcam.layout import RECORDINGS_DIR
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.store.db import Store
from hearthcam.types import Segment
from hearthcam.vault.media import MediaIO
from tests.conftest import write_clip


def record_footage(
    store: Store,
    media: MediaIO,
    data_dir: Path,
    camera: str,
    start_wall: float,
    seconds: float,
    *,
    fps: int = 10,
    segment_seconds: float = 4.0,
    scratch: Path,
) -> list[Segment]:
    """Records ``seconds`` of a moving test pattern as ``camera`` from ``start_wall`` on."""
    clip = write_clip(scratch / f"{camera}-{start_wall:.0f}.mp4", seconds, fps, gop=fps)
    segments: list[Segment] = []

    def finished(segment: Segment) -> None:
        store.add_segment(segment)
        segments.append(segment)

    recorder = SegmentRecorder(
        camera, data_dir / RECORDINGS_DIR, segment_seconds, finished, media=media
    )
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size and packet.dts is not None:
                recorder.write(packet, stream, start_wall + float(packet.dts * packet.time_base))
    recorder.close()
    return segments
