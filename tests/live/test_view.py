"""Tests for LiveView, the one object the camera pipeline feeds."""

from __future__ import annotations

from pathlib import Path

import av

from hearthcam.live import ChunkKind, LiveView
from hearthcam.types import Frame
from tests.support.factories import draw_frame_number
from tests.support.live_media import decode, joined, numbers


def test_packets_go_to_fmp4_frames_to_mjpeg_and_close_ends_both(clip: Path) -> None:
    live = LiveView("cam", mjpeg_fps=1000.0)
    video, pictures = live.fmp4.subscribe(), live.mjpeg.subscribe()
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        for i, packet in enumerate(p for p in container.demux(stream) if p.size):
            live.write(packet, stream, 0.0)
            live.frame(Frame("cam", i, i / 10, 0.0, draw_frame_number(i, (160, 120))))
    live.close()
    chunks = list(video)
    assert chunks[0].kind is ChunkKind.INIT
    assert numbers(decode(joined(chunks))) == list(range(40))
    assert len(list(pictures)) >= 1
    assert video.closed
    assert pictures.closed
