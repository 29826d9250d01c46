"""Tests for the fMP4 live broadcaster, with real clips, real PyAV muxing and decoding."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from pathlib import Path

import av
import pytest
from av.packet import Packet
from av.video.stream import VideoStream

from hearthcam.live import Chunk, ChunkKind, LiveBroadcaster, Subscription
from hearthcam.live.boxes import TFHD_DEFAULT_BASE_IS_MOOF, find_box, fragment_info, iter_boxes
from hearthcam.live.codecs import mime_type
from hearthcam.live.muxer import TIMESCALE, FragmentMuxer
from tests.support.live_media import (
    decode,
    feed,
    joined,
    keyframe_indices,
    numbers,
    split_inits,
    timestamps,
    write_numbered,
)

STEP = TIMESCALE // 10  # one frame of the 10 fps clips, in the fragments' timescale


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def clip_mime(path: Path) -> str:
    """The MIME type for a clip, from its avcC (test_codecs checks that against PyAV)."""
    with av.open(str(path)) as container:
        extradata = container.streams.video[0].codec_context.extradata
    assert extradata is not None
    return mime_type("avc1." + extradata[1:4].hex())


def media_times(chunks: list[Chunk]) -> list[tuple[int, int]]:
    """(tfdt, duration) of every fragment."""
    return [
        (info.decode_time, info.duration)
        for info in (fragment_info(c.data) for c in chunks if c.kind is ChunkKind.MEDIA)
    ]


def assert_contiguous_from_zero(chunks: list[Chunk]) -> None:
    times = media_times(chunks)
    assert times[0][0] == 0
    for (start, length), (after, _) in itertools.pairwise(times):
        assert after == start + length


def test_init_segment_and_fragments_are_what_chromium_mse_needs(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    count = feed(broadcaster, clip)
    broadcaster.close()
    chunks = sub.drain()

    init, media = chunks[0], chunks[1:]
    assert init.kind is ChunkKind.INIT
    assert [b.type for b in iter_boxes(init.data)] == ["ftyp", "moov"]
    assert find_box(init.data, ("moov", "mvex", "trex")) is not None
    assert init.mime == broadcaster.mime == clip_mime(clip)
    assert len(media) == count
    for chunk in media:
        assert chunk.kind is ChunkKind.MEDIA
        assert [b.type for b in iter_boxes(chunk.data)] == ["moof", "mdat"]
        tfhd = find_box(chunk.data, ("moof", "traf", "tfhd"))
        assert tfhd is not None
        assert int.from_bytes(chunk.data[tfhd.body + 1 : tfhd.body + 4]) & TFHD_DEFAULT_BASE_IS_MOOF
        assert chunk.duration == pytest.approx(0.1)
    assert [c.keyframe for c in media] == [i in keyframe_indices(clip) for i in range(count)]


@pytest.mark.parametrize("join", [0, 1, 15, 20, 39])
def test_a_viewer_joining_mid_stream_starts_at_the_latest_keyframe(clip: Path, join: int) -> None:
    broadcaster = LiveBroadcaster("cam")
    subs: list[Subscription] = []

    def hook(i: int, packet: Packet[VideoStream]) -> None:
        if i == join:  # between the writes of packets join-1 and join
            subs.append(broadcaster.subscribe())

    count = feed(broadcaster, clip, hook)
    broadcaster.close()  # flushes the last fragment
    chunks = subs[0].drain()

    # Muxing starts with the next write, from the latest keyframe by then.
    start = max(k for k in keyframe_indices(clip) if k <= join)
    frames = decode(joined(chunks))
    assert frames[0].key_frame
    assert numbers(frames) == list(range(start, count))
    pts = timestamps(frames)
    assert pts == [i * STEP for i in range(len(frames))]
    assert_contiguous_from_zero(chunks)


def test_a_later_viewer_gets_the_current_gop_at_once(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    first = broadcaster.subscribe()
    late: list[list[Chunk]] = []

    def hook(i: int, packet: Packet[VideoStream]) -> None:
        if i == 25:
            # Served from what is already muxed, without waiting for another packet.
            late.append(broadcaster.subscribe().drain())

    feed(broadcaster, clip, hook)
    got = late[0]
    assert got[0].kind is ChunkKind.INIT
    # Fragments come out one packet late: 24 is still in the muxer.
    assert numbers(decode(joined(got))) == [20, 21, 22, 23]
    assert_contiguous_from_zero(got)
    assert numbers(decode(joined(first.drain()))) == list(range(39))


def test_a_viewer_that_never_reads_never_blocks_writes_and_is_resynced(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam", max_buffer_seconds=2.0)
    slow = broadcaster.subscribe()
    fast = broadcaster.subscribe()
    got: list[Chunk] = []
    spent: list[float] = []

    def timed_write(i: int, packet: Packet[VideoStream]) -> None:
        got.extend(fast.drain())
        spent.append(time.perf_counter())

    loops = 60  # 2400 packets, 240 s of media
    count = feed(broadcaster, clip, timed_write, loops=loops)
    broadcaster.close()
    got.extend(fast.drain())

    # Medians: this is a shared machine, and any write can lose the CPU for a while.
    per_write = sorted(b - a for a, b in itertools.pairwise(spent))
    assert per_write[len(per_write) // 2] < 0.001  # measured: 35-70 us, with the fast reader
    assert slow.resyncs > 0
    assert broadcaster.stats.resyncs == slow.resyncs
    # The fast viewer got every frame, in order, on one unbroken timeline.
    assert fast.resyncs == 0
    assert numbers(decode(joined(got))) == list(range(40)) * loops
    assert_contiguous_from_zero(got)
    assert count == 40 * loops
    # The slow one holds at most its bound, starting with an init segment and a keyframe.
    left = slow.drain()
    assert sum(c.duration for c in left) <= 2.0 + 1e-9
    if left:  # empty if it last overflowed after the last keyframe
        assert left[0].kind is ChunkKind.INIT
        assert left[1].keyframe
        assert decode(joined(left))[0].key_frame


def test_a_resynced_viewer_continues_its_timeline_without_a_hole(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam", max_buffer_seconds=1.0)
    sub = broadcaster.subscribe()
    got: list[Chunk] = []

    def reader(i: int, packet: Packet[VideoStream]) -> None:
        if i < 12 or i > 30:  # stops reading for two seconds in between
            got.extend(sub.drain())

    feed(broadcaster, clip, reader, loops=2)
    broadcaster.close()
    got.extend(sub.drain())
    assert sub.resyncs >= 1
    assert sum(c.kind is ChunkKind.INIT for c in got) == 1  # its init was never lost
    frames = decode(joined(got))
    seen = numbers(frames)
    jumps = [(a, b) for a, b in itertools.pairwise(seen) if b != (a + 1) % 40]
    assert jumps
    assert all(b % 10 == 0 for _, b in jumps)  # it always resumed at a keyframe
    # No hole in media time: MSE keeps playing straight over the skip.
    assert timestamps(frames) == [i * STEP for i in range(len(frames))]
    assert_contiguous_from_zero(got)


def test_a_viewer_that_stopped_reading_long_ago_is_dropped(clip: Path) -> None:
    clock = FakeClock()
    broadcaster = LiveBroadcaster("cam", max_buffer_seconds=1.0, stall_seconds=30.0, clock=clock)
    sub = broadcaster.subscribe()

    def hook(i: int, packet: Packet[VideoStream]) -> None:
        clock.now += 1.0  # a second per packet: the queue fills long after 30 s of silence

    feed(broadcaster, clip, hook)
    assert sub.closed
    assert broadcaster.viewers == 0
    assert broadcaster.stats.dropped == 1
    left = list(sub)  # what was queued can still be taken; iteration then ends
    assert left[0].kind is ChunkKind.INIT
    muxed = broadcaster.stats.muxed
    feed(broadcaster, clip)
    assert broadcaster.stats.muxed == muxed  # nobody left: muxing stopped


def test_a_new_stream_sends_a_new_init_segment_and_continues_the_timeline(
    clip: Path, other_clip: Path
) -> None:
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    chunks: list[Chunk] = []

    def read(i: int, packet: Packet[VideoStream]) -> None:
        chunks.extend(sub.drain())

    feed(broadcaster, clip, read)  # a connection ...
    assert broadcaster.mime == clip_mime(clip)
    feed(broadcaster, other_clip, read)  # ... and a reconnect with other parameters
    feed(broadcaster, clip, read)  # ... and back again: a new init even if nothing differs
    broadcaster.close()
    chunks += sub.drain()

    groups = split_inits(chunks)
    assert [g[0].mime for g in groups] == [clip_mime(clip), clip_mime(other_clip), clip_mime(clip)]
    assert clip_mime(other_clip).startswith('video/mp4; codecs="avc1.64')  # High profile
    assert [numbers(decode(joined(g))) for g in groups] == [
        list(range(40)),
        list(range(30)),
        list(range(40)),
    ]
    assert decode(joined(groups[1]))[0].width == 192
    assert_contiguous_from_zero(chunks)  # one timeline across the three streams


def test_nobody_watching_means_no_muxing_and_cheap_writes(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    spent: list[float] = []
    feed(broadcaster, clip, lambda i, p: spent.append(time.perf_counter()), loops=25)
    per_write = sorted(b - a for a, b in itertools.pairwise(spent))
    assert broadcaster.stats.packets == 1000
    assert broadcaster.stats.muxed == 0  # the real check; the time below is a loose bound
    assert broadcaster.stats.fragments == 0
    assert per_write[len(per_write) // 2] < 200e-6  # measured: about 3 us
    assert broadcaster.mime == clip_mime(clip)


def test_muxing_stops_once_the_last_viewer_leaves(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    with broadcaster.subscribe() as sub:
        feed(broadcaster, clip)
        assert broadcaster.stats.muxed == 40
    assert sub.closed
    assert broadcaster.viewers == 0
    feed(broadcaster, clip)
    assert broadcaster.stats.muxed == 40


def test_a_blocking_reader_thread_sees_everything_and_ends_on_close(clip: Path) -> None:
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    got: list[Chunk] = []
    reader = threading.Thread(target=lambda: got.extend(sub))
    reader.start()
    feed(broadcaster, clip)
    broadcaster.close()
    reader.join(5.0)
    assert not reader.is_alive()
    assert numbers(decode(joined(got))) == list(range(40))


def test_a_failure_inside_the_live_view_stays_there(
    clip: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_feed = FragmentMuxer.feed
    calls = itertools.count()

    def failing_once(self: FragmentMuxer, sample: object) -> object:
        if next(calls) == 5:
            raise RuntimeError("injected muxer failure")
        return real_feed(self, sample)  # type: ignore[arg-type]

    monkeypatch.setattr(FragmentMuxer, "feed", failing_once)
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    with caplog.at_level(logging.ERROR):
        feed(broadcaster, clip)  # must not raise
    broadcaster.close()
    assert broadcaster.stats.errors == 1
    assert "live view failed" in caplog.text
    groups = split_inits(sub.drain())
    assert len(groups) == 2  # a fresh muxer, a fresh init segment
    assert numbers(decode(joined(groups[1]))) == list(range(10, 40))


def test_b_frames_decode_in_order(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "b.mp4", seconds=3.0, bframes=2)
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    feed(broadcaster, path)
    broadcaster.close()
    frames = decode(joined(sub.drain()))
    assert numbers(frames) == list(range(30))
    assert all(b > a for a, b in itertools.pairwise(timestamps(frames)))


def test_a_codec_mse_cannot_play_is_not_muxed(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "mpeg4.mp4", seconds=1.0, codec="mpeg4")
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    feed(broadcaster, path)
    assert broadcaster.mime is None
    assert broadcaster.stats.muxed == 0
    assert sub.drain() == []


def test_viewers_coming_and_going_while_the_camera_writes(clip: Path) -> None:
    # Written far faster than real time: a bound this large keeps the keeper from resyncing.
    broadcaster = LiveBroadcaster("cam", max_buffer_seconds=60.0)
    stop = threading.Event()
    failures: list[BaseException] = []

    def churn() -> None:
        try:
            while not stop.is_set():
                with broadcaster.subscribe() as sub:
                    time.sleep(0.001)
                    sub.drain()
        except BaseException as error:  # reported to the test thread
            failures.append(error)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for thread in threads:
        thread.start()
    keeper = broadcaster.subscribe()
    kept: list[Chunk] = []
    reader = threading.Thread(target=lambda: kept.extend(keeper))
    reader.start()
    feed(broadcaster, clip, loops=10)
    stop.set()
    for thread in threads:
        thread.join(5.0)
    broadcaster.close()
    reader.join(5.0)
    assert failures == []
    assert broadcaster.stats.errors == 0
    assert broadcaster.viewers == 0
    assert numbers(decode(joined(kept))) == list(range(40)) * 10


def test_a_gop_longer_than_the_buffer_is_not_kept(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "long.mp4", seconds=4.0, gop=40)  # one keyframe per 4 s
    broadcaster = LiveBroadcaster("cam", max_buffer_seconds=2.0)
    subs: list[Subscription] = []
    got: list[Chunk] = []

    def hook(i: int, packet: Packet[VideoStream]) -> None:
        if i == 30:
            subs.append(broadcaster.subscribe())
        for sub in subs:
            got.extend(sub.drain())

    feed(broadcaster, path, hook, loops=2)
    broadcaster.close()
    got += subs[0].drain()
    # Nothing was kept to replay at 3 s: the viewer starts at the next keyframe.
    assert broadcaster.stats.muxed == 40
    assert numbers(decode(joined(got))) == list(range(40))
