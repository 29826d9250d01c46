"""The fMP4 live view fed from a real RTSP camera (GStreamer on loopback): Annex B parameters,
RTP timestamps, a reconnect, and how late fragments come out."""

from __future__ import annotations

import itertools
import statistics
import threading
import time
from collections.abc import Callable

import av
import pytest
from av.container import InputContainer

from hearthcam.live import Chunk, ChunkKind, LiveBroadcaster
from hearthcam.live.codecs import mime_type
from tests.conftest import RtspServer
from tests.support.live_media import decode, joined, split_inits, timestamps

PROFILE_IDC = {"Constrained Baseline": 66, "Baseline": 66, "Main": 77, "High": 100}


def open_camera(url: str) -> InputContainer:
    return av.open(url, options={"rtsp_transport": "tcp"}, timeout=(5.0, 5.0))


class Reader:
    """A viewer on its own thread that notes when each chunk arrived."""

    def __init__(self, broadcaster: LiveBroadcaster) -> None:
        self.sub = broadcaster.subscribe()
        self.got: list[tuple[Chunk, float]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for chunk in self.sub:
            self.got.append((chunk, time.monotonic()))

    def chunks(self) -> list[Chunk]:
        return [chunk for chunk, _ in self.got]


def stream_for(
    broadcaster: LiveBroadcaster, url: str, packets: int, hook: Callable[[int], None]
) -> list[tuple[bool, float]]:
    """Feeds ``packets`` packets of one connection; returns (keyframe, written at) of each."""
    written: list[tuple[bool, float]] = []
    with open_camera(url) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if not packet.size:
                continue
            hook(len(written))
            broadcaster.write(packet, stream, time.time())
            written.append((packet.is_keyframe, time.monotonic()))
            if len(written) == packets:
                break
    return written


@pytest.mark.integration
def test_a_live_rtsp_camera_plays_through_mse_segments(rtsp_server: RtspServer) -> None:
    broadcaster = LiveBroadcaster("cam")
    readers: list[Reader] = []

    def join_late(i: int) -> None:
        if i == 14:
            readers.append(Reader(broadcaster))

    written = stream_for(broadcaster, rtsp_server.url(), 40, join_late)
    with open_camera(rtsp_server.url()) as container:
        context = container.streams.video[0].codec_context
        profile, level, extradata = context.profile, context.level, context.extradata
    assert extradata is not None
    assert extradata.startswith(b"\x00\x00\x00\x01")  # RTSP hands out Annex B parameter sets
    assert profile is not None
    mime = broadcaster.mime
    assert mime is not None
    codec = mime.split('"')[1]
    assert int(codec[5:7], 16) == PROFILE_IDC[profile]
    assert int(codec[9:11], 16) == level

    rtsp_server.restart()  # the camera drops and comes back: a new stream
    stream_for(broadcaster, rtsp_server.url(), 20, lambda i: None)
    broadcaster.close()
    reader = readers[0]
    reader.thread.join(5.0)
    groups = split_inits(reader.chunks())
    assert len(groups) == 2
    assert all(g[0].mime == mime_type(codec) for g in groups)

    start = max(i for i, (key, _) in enumerate(written) if key and i <= 14)
    first = decode(joined(groups[0]))
    assert first[0].key_frame
    assert len(first) == len(written) - start
    assert all(b > a for a, b in itertools.pairwise(timestamps(first)))
    second = decode(joined(groups[1]))
    assert second[0].key_frame
    assert len(second) == 20

    # Latency: a live frame's fragment is out as soon as the next packet is written.
    arrivals = [t for chunk, t in reader.got if chunk.kind is ChunkKind.MEDIA]
    live = range(15, len(written) - 1)  # after the backlog it was given on joining
    delays = [arrivals[i - start] - written[i][1] for i in live]
    frame = statistics.median(b[1] - a[1] for a, b in itertools.pairwise(written))
    assert statistics.median(delays) < frame + 0.05
