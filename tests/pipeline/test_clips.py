"""Clips cut from real H.264 segments, the clip window, and snapshots."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from hearthcam.errors import StoreError
from hearthcam.pipeline.clips import (
    ClipError,
    assemble_clip,
    clip_parts,
    clip_window,
    write_snapshot,
)
from hearthcam.types import Detections, Segment
from tests.support.factories import decode_frame_numbers, make_h264_segment, make_segments

T0 = 1_700_000_000.0
FPS = 10
GOP_SECONDS = 1.0


@pytest.fixture(scope="module")
def segments(tmp_path_factory: pytest.TempPathFactory) -> list[Segment]:
    """Ten back-to-back 2 s segments (frames 0..199), keyframe every second."""
    return make_segments(tmp_path_factory.mktemp("rec"), "front", T0, 10, seconds=2.0, fps=FPS)


def top_level_atoms(path: Path) -> list[str]:
    """Lists an MP4 file's top-level box types in file order."""
    data = path.read_bytes()
    atoms, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        atoms.append(data[offset + 4 : offset + 8].decode("ascii"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        offset += size
    return atoms


def clip_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        assert stream.time_base is not None
        return float(stream.duration * stream.time_base)


def test_clip_covers_the_window_from_the_keyframe_before_it(
    segments: list[Segment], tmp_path: Path
) -> None:
    start, end = T0 + 3.5, T0 + 15.2
    out = assemble_clip(segments, start, end, tmp_path / "clips" / "a.mp4")
    numbers = decode_frame_numbers(out)
    # Keyframes fall on whole seconds, so the clip opens at 3.0 s (frame 30).
    assert numbers[0] == 30
    assert numbers == list(range(30, 30 + len(numbers)))
    assert numbers[-1] >= 151
    assert end - start <= clip_seconds(out) <= end - start + GOP_SECONDS + 1 / FPS
    assert [p.name for p in out.parent.iterdir()] == ["a.mp4"]


def test_clip_timestamps_start_at_zero_and_increase(
    segments: list[Segment], tmp_path: Path
) -> None:
    out = assemble_clip(segments, T0 + 1.0, T0 + 9.0, tmp_path / "a.mp4")
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
    assert packets[0].pts == 0
    assert packets[0].is_keyframe
    dts = [p.dts or 0 for p in packets]
    assert all(b > a for a, b in itertools.pairwise(dts))


def test_clip_is_faststart(segments: list[Segment], tmp_path: Path) -> None:
    atoms = top_level_atoms(assemble_clip(segments, T0, T0 + 5, tmp_path / "a.mp4"))
    assert atoms.index("moov") < atoms.index("mdat")


def test_clip_across_a_gap_continues_after_it(tmp_path: Path) -> None:
    with_gap = make_segments(tmp_path, "front", T0, 6, seconds=2.0, fps=FPS, skip=frozenset({2}))
    out = assemble_clip(with_gap, T0 + 1.0, T0 + 10.0, tmp_path / "clip.mp4")
    numbers = decode_frame_numbers(out)
    # Frames 40..59 were never recorded; the clip splices over them.
    assert numbers == [*range(10, 40), *range(60, 100)]
    assert clip_seconds(out) == pytest.approx(7.0, abs=0.11)


def test_clip_window_before_the_first_segment_starts_at_it(
    segments: list[Segment], tmp_path: Path
) -> None:
    out = assemble_clip(segments[:2], T0 - 5, T0 + 1.5, tmp_path / "a.mp4")
    assert decode_frame_numbers(out) == list(range(15))


def test_clip_with_b_frames_stays_continuous(tmp_path: Path) -> None:
    segs = make_segments(tmp_path, "front", T0, 3, seconds=2.0, fps=FPS, bframes=2)
    out = assemble_clip(segs, T0 + 1.2, T0 + 5.0, tmp_path / "clip.mp4")
    assert decode_frame_numbers(out) == list(range(10, 50))
    # Ending inside a mini-GOP keeps the frame the last B-frames need, and those B-frames too.
    out = assemble_clip(segs, T0 + 1.2, T0 + 4.15, tmp_path / "clip2.mp4")
    numbers = decode_frame_numbers(out)
    assert numbers == list(range(10, 10 + len(numbers)))
    assert 41 <= numbers[-1] <= 44


def test_clip_ends_where_the_stream_parameters_change(tmp_path: Path) -> None:
    segs = make_segments(tmp_path, "front", T0, 2, seconds=2.0, fps=FPS)
    changed = tmp_path / "changed.mp4"
    make_h264_segment(changed, 2.0, FPS, size=(128, 96), start_frame_number=40)
    segs.append(Segment("front", changed, T0 + 4, T0 + 6))
    out = assemble_clip(segs, T0, T0 + 6, tmp_path / "clip.mp4")
    assert decode_frame_numbers(out) == list(range(40))


def test_no_covering_segment_is_a_clear_error(segments: list[Segment], tmp_path: Path) -> None:
    out = tmp_path / "a.mp4"
    with pytest.raises(ClipError, match="no recording covers"):
        assemble_clip(segments, T0 + 100, T0 + 120, out)
    with pytest.raises(ClipError, match="no recording covers"):
        assemble_clip([], T0, T0 + 10, out)
    assert issubclass(ClipError, StoreError)
    assert not tmp_path.joinpath("a.mp4").exists()


def test_unreadable_segments_are_skipped_or_reported(
    segments: list[Segment], tmp_path: Path
) -> None:
    missing = replace(segments[0], path=tmp_path / "gone.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 2048)
    broken = replace(segments[1], path=garbage)
    with pytest.raises(ClipError, match="no video packets"):
        assemble_clip([missing, broken], T0, T0 + 4, tmp_path / "a.mp4")
    out = assemble_clip([missing, segments[1]], T0, T0 + 4, tmp_path / "b.mp4")
    assert decode_frame_numbers(out) == list(range(20, 40))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.mp4", "garbage.mp4"]


def test_clip_window_pads_rolls() -> None:
    assert clip_window(100.0, 112.0, 5.0, 5.0, 20.0, 30.0) == (95.0, 117.0)


def test_clip_window_widens_short_events_backwards_so_the_clip_is_not_delayed() -> None:
    assert clip_window(100.0, 102.0, 5.0, 5.0, 20.0, 30.0) == (87.0, 107.0)


def test_clip_parts_split_a_long_window_into_equal_consecutive_clips() -> None:
    assert clip_parts(95.0, 117.0, 30.0) == [(95.0, 117.0)]
    assert clip_parts(95.0, 125.0, 30.0) == [(95.0, 125.0)]  # exactly one clip's worth
    assert clip_parts(95.0, 205.0, 30.0) == [
        (95.0, 122.5),
        (122.5, 150.0),
        (150.0, 177.5),
        (177.5, 205.0),
    ]
    assert clip_parts(10.0, 10.0, 30.0) == [(10.0, 10.0)]
    with pytest.raises(ValueError, match="max_clip"):
        clip_parts(0.0, 10.0, 0.0)


def test_clip_window_caps_long_events_keeping_the_start() -> None:
    assert clip_window(100.0, 200.0, 5.0, 5.0, 20.0, 30.0) == (95.0, 125.0)


@pytest.mark.parametrize(
    "args",
    [(100.0, 99.0, 5.0, 5.0, 20.0, 30.0), (0.0, 1.0, -1.0, 5.0, 20.0, 30.0), (0, 1, 5, 5, 40, 30)],
)
def test_clip_window_rejects_nonsense(args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match=r"must|cannot"):
        clip_window(*args)


def frame() -> np.ndarray[tuple[int, int, int], np.dtype[np.uint8]]:
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    image[:, :, 1] = 80
    return image


def test_write_snapshot_plain(tmp_path: Path) -> None:
    image = frame()
    out = write_snapshot(image, None, tmp_path / "snaps" / "a.jpg")
    decoded = cv2.imread(str(out))
    assert decoded is not None
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).mean() < 2
    assert [p.name for p in out.parent.iterdir()] == ["a.jpg"]


def test_write_snapshot_draws_boxes_without_touching_the_input(tmp_path: Path) -> None:
    image = frame()
    dets = Detections(
        np.array([[20, 30, 100, 110]], dtype=np.float32),
        np.array([0.9], dtype=np.float32),
        np.array([0], dtype=np.int32),
    )
    out = write_snapshot(image, dets, tmp_path / "a.jpg")
    read = cv2.imread(str(out))
    assert read is not None
    decoded = read.astype(int)
    assert np.array_equal(image, frame())
    # The box edge is drawn; the inside of the box is untouched.
    assert np.abs(decoded[70, 20] - image[70, 20]).sum() > 100
    assert np.abs(decoded[70, 60] - image[70, 60]).sum() < 10
    with pytest.raises(ValueError, match="one label per detection"):
        write_snapshot(image, dets, tmp_path / "b.jpg", labels=["a", "b"])


def test_write_snapshot_failure_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(StoreError, match="cannot write snapshot"):
        write_snapshot(frame(), None, blocker / "a.jpg")
