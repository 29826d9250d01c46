"""Tests for the segment recorder: keyframe cuts, no lost frames, atomic files, recovery, and a
full disk (a real small tmpfs)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from av.packet import Packet
from av.video.stream import VideoStream
from numpy.typing import NDArray

from hearthcam.errors import DiskFull, StoreError
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.recordings.recovery import recover
from hearthcam.store.db import Store
from hearthcam.types import Segment
from hearthcam.vault.keyring import Keyring, MediaVault
from hearthcam.vault.media import SealedMedia
from hearthcam.vault.sealed import plaintext_media_signatures
from tests.conftest import ClipFactory
from tests.support.small_disk import leave_free, small_disk

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC


class Collector:
    """Keeps finished segments in order."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    def __call__(self, segment: Segment) -> None:
        self.segments.append(segment)


PacketHook = Callable[[int, "Packet[VideoStream]"], None]


def packets(path: Path) -> Iterator[tuple[Packet[VideoStream], VideoStream]]:
    """The non-empty video packets of a file, with their stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.size:
                yield packet, stream


def wall_of(packet: Packet[VideoStream], base: float) -> float:
    """The synthetic wall time of a file packet, as CameraStream gives it."""
    assert packet.dts is not None
    return base + float(packet.dts * packet.time_base)


def feed(
    recorder: SegmentRecorder,
    path: Path,
    base: float = T0,
    skip: int = 0,
    hook: PacketHook | None = None,
) -> int:
    """Writes a file's packets into the recorder; returns how many were written."""
    written = 0
    for i, (packet, stream) in enumerate(packets(path)):
        if i < skip:
            continue
        wall = wall_of(packet, base)
        if hook is not None:
            hook(i, packet)
        recorder.write(packet, stream, wall)
        written += 1
    return written


def decode_all(path: Path) -> list[NDArray[np.uint8]]:
    """Every frame of a file as a BGR array."""
    with av.open(str(path)) as container:
        return [
            np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            for frame in container.decode(video=0)
        ]


def first_packet(path: Path) -> tuple[bool, float]:
    """(is keyframe, pts in seconds) of a file's first video packet."""
    packet, _ = next(packets(path))
    assert packet.pts is not None
    return packet.is_keyframe, float(packet.pts * packet.time_base)


def record(
    tmp_path: Path,
    clip: Path,
    segment_seconds: float,
    skip: int = 0,
    hook: PacketHook | None = None,
) -> list[Segment]:
    """Records a clip and closes the recorder; returns the segments in order."""
    collected = Collector()
    recorder = SegmentRecorder("porch", tmp_path / "rec", segment_seconds, collected)
    feed(recorder, clip, skip=skip, hook=hook)
    recorder.close()
    return collected.segments


def test_segments_are_cut_on_keyframes_at_segment_seconds(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    segments = record(tmp_path, make_clip(seconds=6, fps=10), 2.0)
    assert [len(decode_all(s.path)) for s in segments] == [20, 20, 20]
    assert [s.start for s in segments] == pytest.approx([T0, T0 + 2, T0 + 4])
    assert [s.end for s in segments] == pytest.approx([T0 + 2, T0 + 4, T0 + 6])
    assert all(s.camera == "porch" for s in segments)
    for segment in segments:
        keyframe, pts = first_packet(segment.path)
        assert keyframe
        assert pts == 0.0  # rebased: every segment starts at 0
    day = tmp_path / "rec" / "porch" / "2023-11-14"
    assert [s.path for s in segments] == [
        day / "22-13-20.000.mp4",
        day / "22-13-22.000.mp4",
        day / "22-13-24.000.mp4",
    ]
    assert list((tmp_path / "rec").rglob("*.part")) == []


def test_a_cut_waits_for_the_first_keyframe_after_segment_seconds(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    segments = record(tmp_path, make_clip(seconds=6, fps=10), 1.5)
    assert [len(decode_all(s.path)) for s in segments] == [20, 20, 20]


def test_no_frame_is_lost_or_duplicated_across_segments(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=5, fps=10)
    segments = record(tmp_path, clip, 1.0)
    assert len(segments) == 5
    recorded = [frame for s in segments for frame in decode_all(s.path)]
    source = decode_all(clip)
    assert len(recorded) == len(source)
    assert all(np.array_equal(a, b) for a, b in zip(recorded, source, strict=True))
    for before, after in itertools.pairwise(segments):
        assert after.start == pytest.approx(before.end)


def test_packets_before_the_first_keyframe_are_dropped(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=4, fps=10)
    segments = record(tmp_path, clip, 2.0, skip=3)  # joins mid-GOP, like a live stream
    recorded = [frame for s in segments for frame in decode_all(s.path)]
    source = decode_all(clip)[10:]  # from the keyframe at 1 s
    assert len(recorded) == len(source) == 30
    assert all(np.array_equal(a, b) for a, b in zip(recorded, source, strict=True))
    assert segments[0].start == pytest.approx(T0 + 1.0)


def test_request_cut_closes_the_segment_at_the_next_keyframe(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    collected = Collector()
    recorder = SegmentRecorder("porch", tmp_path, 30.0, collected)
    recorder.request_cut(T0 + 2.5)
    recorder.request_cut(T0 + 4.0)  # a second event's post-roll, due later
    feed(recorder, make_clip(seconds=6, fps=10))
    # Closed as soon as the keyframes at 3 s and 4 s arrived, not at close().
    assert [s.end for s in collected.segments] == pytest.approx([T0 + 3, T0 + 4])
    recorder.close()
    assert [len(decode_all(s.path)) for s in collected.segments] == [30, 10, 20]


def test_a_cut_requested_before_the_segment_began_is_ignored(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    collected = Collector()
    recorder = SegmentRecorder("porch", tmp_path, 30.0, collected)
    recorder.request_cut(T0 - 10.0)
    feed(recorder, make_clip(seconds=3, fps=10))
    recorder.close()
    assert len(collected.segments) == 1


def test_a_segment_is_a_part_file_until_it_is_finished(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    collected = Collector()
    out = tmp_path / "rec"
    recorder = SegmentRecorder("porch", out, 30.0, collected)
    feed(recorder, make_clip(seconds=2, fps=10))
    parts = list(out.rglob("*.part"))
    assert len(parts) == 1
    assert parts[0].name.endswith(".mp4.part")
    assert list(out.rglob("*.mp4")) == []
    recorder.close()
    assert list(out.rglob("*.part")) == []
    assert list(out.rglob("*.mp4")) == [collected.segments[0].path]
    recorder.close()  # closing twice is harmless
    assert len(collected.segments) == 1


def test_the_recorder_is_usable_after_close(tmp_path: Path, make_clip: ClipFactory) -> None:
    collected = Collector()
    recorder = SegmentRecorder("porch", tmp_path, 30.0, collected)
    clip = make_clip(seconds=2, fps=10)
    feed(recorder, clip)
    recorder.close()  # what the runner does at a gap
    feed(recorder, clip, base=T0 + 60)
    recorder.close()
    assert [len(decode_all(s.path)) for s in collected.segments] == [20, 20]


def test_a_new_input_stream_starts_a_new_segment(tmp_path: Path, make_clip: ClipFactory) -> None:
    collected = Collector()
    recorder = SegmentRecorder("porch", tmp_path / "rec", 30.0, collected)
    feed(recorder, make_clip("one.mp4", seconds=2, fps=10))
    # A reconnect hands over a new stream object; its timestamps restart at 0.
    feed(recorder, make_clip("two.mp4", seconds=2, fps=10, size=(160, 120)), base=T0 + 2)
    recorder.close()
    assert [len(decode_all(s.path)) for s in collected.segments] == [20, 20]
    assert [decode_all(s.path)[0].shape for s in collected.segments] == [
        (240, 320, 3),
        (120, 160, 3),
    ]


def test_a_stall_in_wall_time_closes_the_segment(tmp_path: Path, make_clip: ClipFactory) -> None:
    collected = Collector()
    recorder = SegmentRecorder("porch", tmp_path, 30.0, collected)
    for i, (packet, stream) in enumerate(packets(make_clip(seconds=4, fps=10))):
        stall = 20.0 if i >= 15 else 0.0  # nothing for 20 s after packet 14
        recorder.write(packet, stream, wall_of(packet, T0) + stall)
    recorder.close()
    assert [len(decode_all(s.path)) for s in collected.segments] == [15, 20]
    assert collected.segments[0].end == pytest.approx(T0 + 1.5)
    assert collected.segments[1].start == pytest.approx(T0 + 22.0)


def test_packets_without_timestamps_are_recorded_in_order(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=3, fps=10)

    def strip(i: int, packet: Packet[VideoStream]) -> None:
        if i % 3 == 0:
            packet.pts = None
            packet.dts = None
        elif i % 3 == 1:
            packet.dts = None

    segments = record(tmp_path, clip, 30.0, hook=strip)
    recorded = decode_all(segments[0].path)
    source = decode_all(clip)
    assert len(recorded) == len(source)
    assert all(np.array_equal(a, b) for a, b in zip(recorded, source, strict=True))


def test_non_increasing_dts_is_repaired_instead_of_failing(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=2, fps=10)
    previous: list[int | None] = [None]

    def repeat_dts(i: int, packet: Packet[VideoStream]) -> None:
        if i == 5:
            packet.dts = previous[0]  # a camera that repeats a timestamp
        previous[0] = packet.dts

    segments = record(tmp_path, clip, 30.0, hook=repeat_dts)
    assert len(decode_all(segments[0].path)) == 20


def test_b_frames_survive_the_remux(tmp_path: Path, make_clip: ClipFactory) -> None:
    clip = make_clip(seconds=4, fps=10, bframes=2)
    segments = record(tmp_path, clip, 2.0)
    recorded = [frame for s in segments for frame in decode_all(s.path)]
    source = decode_all(clip)
    assert len(segments) == 2
    assert len(recorded) == len(source) == 40
    assert all(np.array_equal(a, b) for a, b in zip(recorded, source, strict=True))


def test_write_leaves_the_callers_packet_as_it_was(tmp_path: Path, make_clip: ClipFactory) -> None:
    recorder = SegmentRecorder("porch", tmp_path, 30.0, Collector())
    for packet, stream in packets(make_clip(seconds=1, fps=10)):
        before = (packet.pts, packet.dts, packet.time_base, packet.stream, bytes(packet))
        recorder.write(packet, stream, wall_of(packet, T0))
        assert (packet.pts, packet.dts, packet.time_base, packet.stream, bytes(packet)) == before
        assert packet.decode() is not None  # still decodable after recording
    recorder.close()


def test_an_unwritable_directory_is_a_store_error(tmp_path: Path, make_clip: ClipFactory) -> None:
    blocker = tmp_path / "rec"
    blocker.write_text("a file where the directory should be")
    recorder = SegmentRecorder("porch", blocker, 30.0, Collector())
    with pytest.raises(StoreError, match="cannot start segment"):
        feed(recorder, make_clip(seconds=1, fps=10))


def _sealed(data: Path, store: Store) -> SealedMedia:
    vault = MediaVault(Keyring.open(store, data), data, chunk_size=4096)
    return SealedMedia(vault, lambda _camera: None)


def test_segments_are_sealed_fragmented_mp4_that_decode_through_the_media_io(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    data = tmp_path / "data"
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        media = _sealed(data, store)
        collected = Collector()
        recorder = SegmentRecorder("porch", data / "rec", 2.0, collected, media)
        feed(recorder, make_clip(seconds=4, fps=10))
        recorder.close()
        assert len(collected.segments) == 2
        assert plaintext_media_signatures(data) == []
        for segment in collected.segments:
            with media.open(segment.path) as file, av.open(file, "r") as container:
                assert sum(1 for _ in container.decode(video=0)) == 20


def test_a_killed_recorders_whole_fragments_survive_recovery(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    data = tmp_path / "data"
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=data) as store:
        media = _sealed(data, store)
        recorder = SegmentRecorder("porch", data / "recordings", 60.0, Collector(), media)
        # Keyframes every 10 frames: one fragment a second, the last still in flight.
        feed(recorder, make_clip(seconds=6, fps=10, gop=10))
        (part,) = (data / "recordings").rglob("*.part")
        assert plaintext_media_signatures(data) == []
        report = recover(store, data, media=media)  # as if the process had died here
        assert (report.parts_salvaged, report.parts_deleted, report.corrupt) == (1, 0, ())
        (segment,) = store.known_segment_paths("porch")
        assert segment == part.with_name(part.name.removesuffix(".part"))
        with media.open(segment) as file, av.open(file, "r") as container:
            frames = sum(1 for _ in container.decode(video=0))
        assert 30 <= frames < 60  # whole fragments up to the one in flight
        assert plaintext_media_signatures(data) == []


@pytest.mark.integration
def test_a_full_disk_is_disk_full_and_the_next_keyframe_after_space_is_freed_records(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    # A real 512 KiB tmpfs, filled to a few KB by a ballast file, then freed.
    clip = make_clip(seconds=6, fps=10, size=(640, 480), gop=10)
    collected = Collector()
    with small_disk(tmp_path / "disk", 512) as disk:
        ballast = leave_free(disk, 8 * 1024)
        recorder = SegmentRecorder("porch", disk / "rec", 1.0, collected)
        failures: list[StoreError] = []
        walls: list[float] = []

        def write(packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
            if failures and ballast.exists() and wall - walls[-1] > 1.5:
                ballast.unlink()  # retention freed space a while after the failure
            try:
                recorder.write(packet, stream, wall)
            except StoreError as error:
                failures.append(error)
                walls.append(wall)

        for packet, stream in packets(clip):
            write(packet, stream, wall_of(packet, T0))
        recorder.close()
        assert failures, "the disk never filled"
        assert all(isinstance(f, DiskFull) for f in failures)
        assert not list(disk.rglob("*.part"))  # a refused segment leaves nothing behind
        # Recording went on after space was freed: segments from after the last failure.
        assert collected.segments
        assert min(s.start for s in collected.segments) > walls[-1]
        assert all(s.path.is_file() for s in collected.segments)
