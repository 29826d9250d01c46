"""Tests for the MP4 box walker: real files written by PyAV, hand-built boxes, cuts, garbage."""

from __future__ import annotations

import io
import itertools
import random
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hearthcam.errors import HearthcamError
from hearthcam.mp4 import CONTAINERS, Box, BoxError, boxes, find, header, whole_boxes

FASTSTART = "+faststart"
FRAGMENTED = "frag_keyframe+empty_moov+default_base_moof"


def write_mp4(path: Path, movflags: str, frames: int = 6, size: int = 64) -> bytes:
    """A tiny H.264 MP4 (keyframe every 2 frames) written by PyAV with ``movflags``."""
    with av.open(str(path), "w", format="mp4", options={"movflags": movflags}) as container:
        stream = container.add_stream(
            "libx264",
            rate=10,
            options={"preset": "ultrafast", "x264-params": "keyint=2:min-keyint=2:scenecut=0"},
        )
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((size, size, 3), (40 * i) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path.read_bytes()


@pytest.fixture(scope="module")
def faststart(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_mp4(tmp_path_factory.mktemp("mp4") / "faststart.mp4", FASTSTART)


@pytest.fixture(scope="module")
def fragmented(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_mp4(tmp_path_factory.mktemp("mp4") / "fragmented.mp4", FRAGMENTED)


def box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def large_box(kind: bytes, body: bytes = b"") -> bytes:
    return struct.pack(">I4sQ", 1, kind, 16 + len(body)) + body


def types(found: list[Box]) -> list[str]:
    return [b.type for b in found]


def test_a_faststart_file_has_its_moov_before_its_mdat(faststart: bytes) -> None:
    top = list(boxes(faststart))
    assert [k for k in types(top) if k != "free"] == ["ftyp", "moov", "mdat"]
    assert top[0].start == 0
    assert all(a.end == b.start for a, b in itertools.pairwise(top))
    assert top[-1].end == len(faststart)


def test_nested_boxes_come_parent_first_in_file_order(faststart: bytes) -> None:
    every = list(boxes(faststart, into=CONTAINERS))
    kinds = types(every)
    path = ["moov", "trak", "mdia", "minf", "stbl", "stco"]
    assert [kinds.index(k) for k in path] == sorted(kinds.index(k) for k in path)
    assert [b.start for b in every] == sorted(b.start for b in every)
    stco = every[kinds.index("stco")]
    stbl = every[kinds.index("stbl")]
    assert stbl.body <= stco.start
    assert stco.end <= stbl.end
    assert find(faststart, path) == stco
    assert find(faststart, ["moov", "nope"]) is None


def test_a_fragmented_file_is_moof_mdat_pairs_after_its_init(fragmented: bytes) -> None:
    kinds = types(list(boxes(fragmented)))
    assert kinds[:2] == ["ftyp", "moov"]
    assert kinds[-1] == "mfra"  # the random access index FFmpeg writes at the end
    assert kinds[2:-1] == ["moof", "mdat"] * 3  # one fragment per keyframe (every 2 frames)
    assert find(fragmented, ("moov", "mvex", "trex")) is not None
    first_moof = next(b for b in boxes(fragmented) if b.type == "moof")
    tfdt = find(fragmented, ("moof", "traf", "tfdt"))
    assert tfdt is not None
    assert first_moof.start < tfdt.start < first_moof.end
    assert list(whole_boxes(fragmented)) == list(boxes(fragmented))


@pytest.mark.parametrize("movflags", [FASTSTART, FRAGMENTED])
def test_bytes_and_a_reader_walk_the_same(movflags: str, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    data = write_mp4(path, movflags)
    walked = list(boxes(data, into=CONTAINERS))
    with open(path, "rb") as handle:
        assert list(boxes(handle, into=CONTAINERS)) == walked
        assert list(whole_boxes(handle)) == list(boxes(data))
    assert list(boxes(io.BytesIO(data), into=CONTAINERS)) == walked
    assert list(boxes(bytearray(data), into=CONTAINERS)) == walked
    assert list(boxes(memoryview(data), into=CONTAINERS)) == walked


def test_64_bit_sizes_are_read_at_the_top_and_inside() -> None:
    inner = large_box(b"mdat", b"x" * 5)
    data = large_box(b"moov", inner + box(b"free")) + box(b"skip", b"ab")
    found = [(b.type, b.start, b.size, b.header) for b in boxes(data, into={"moov"})]
    assert found == [
        ("moov", 0, 16 + 21 + 8, 16),
        ("mdat", 16, 21, 16),
        ("free", 37, 8, 8),
        ("skip", 45, 10, 8),
    ]
    assert header(data, 16, len(data)) == Box("mdat", 16, 21, 16)


def test_size_0_runs_to_the_end_of_its_range() -> None:
    tail = struct.pack(">I4s", 0, b"mdat") + b"payload"
    data = box(b"ftyp", b"isom") + tail
    assert [(b.type, b.size) for b in boxes(data)] == [("ftyp", 12), ("mdat", 15)]
    # Inside a container, "to the end" is the end of the container.
    nested = box(b"moov", struct.pack(">I4s", 0, b"udta") + b"xyz") + box(b"free")
    assert [(b.type, b.end) for b in boxes(nested, into={"moov"})] == [
        ("moov", 19),
        ("udta", 19),
        ("free", 27),
    ]
    with pytest.raises(BoxError, match="no size"):
        list(boxes(data, open_ended=False))
    # A cut file's "to the end" may end anywhere: whole boxes stop before it.
    assert types(list(whole_boxes(data))) == ["ftyp"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (box(b"moof", b"abc")[:-1], "truncated"),
        (b"\0\0\0", "truncated"),
        (struct.pack(">I4sI", 1, b"mdat", 0), "truncated"),  # 64-bit size cut short
        (struct.pack(">I4s", 4, b"mdat"), "less than its header"),
        (struct.pack(">I4sQ", 1, b"mdat", 15), "less than its header"),
        (struct.pack(">I4sQ", 1, b"mdat", 1 << 63), "truncated"),
    ],
)
def test_impossible_headers_are_box_errors(data: bytes, message: str) -> None:
    with pytest.raises(BoxError, match=message):
        list(boxes(data))
    assert issubclass(BoxError, HearthcamError)


def test_header_waits_for_a_box_that_is_not_all_there() -> None:
    whole = large_box(b"mdat", b"12345678")
    for cut in range(len(whole)):
        assert header(whole[:cut], 0, cut) is None
    assert header(whole, 0, len(whole)) == Box("mdat", 0, 24, 16)


@pytest.mark.parametrize("movflags", [FASTSTART, FRAGMENTED])
def test_a_cut_at_every_byte_is_whole_boxes_or_a_box_error(movflags: str, tmp_path: Path) -> None:
    data = write_mp4(tmp_path / "clip.mp4", movflags, frames=4, size=32)
    top = list(boxes(data))
    ends = {0} | {b.end for b in top}
    for cut in range(len(data)):
        piece = data[:cut]
        try:
            walked = list(boxes(piece, into=CONTAINERS))
        except BoxError:
            assert cut not in ends, cut
        else:
            assert cut in ends, cut
            assert [b for b in walked if b in top] == [b for b in top if b.end <= cut]
        kept = list(whole_boxes(io.BytesIO(piece), 0, cut))
        assert kept == [b for b in top if b.end <= cut]


def walk_or_box_error(data: bytes) -> None:
    """Walks ``data`` every way; anything but boxes inside it or a BoxError fails the test."""
    for source in (data, io.BytesIO(data)):
        try:
            walked = list(boxes(source, into=CONTAINERS))
        except BoxError:
            pass
        else:
            assert all(b.start >= 0 and b.end <= len(data) for b in walked)
        assert all(b.end <= len(data) for b in whole_boxes(source))


def test_random_bytes_are_a_box_error_or_boxes_never_anything_else() -> None:
    rng = random.Random(7)
    for length in [*range(40), *rng.choices(range(40, 4096), k=200)]:
        walk_or_box_error(rng.randbytes(length))


def test_a_damaged_real_file_is_a_box_error_or_boxes(fragmented: bytes) -> None:
    rng = random.Random(11)
    # Box headers (sizes, types) are where damage changes the walk; the rest is payload.
    headers = [b.start + i for b in boxes(fragmented, into=CONTAINERS) for i in range(8)]
    for _ in range(500):
        damaged = bytearray(fragmented)
        for at in rng.choices(headers, k=rng.randint(1, 4)):
            damaged[at] = rng.choice([0, 1, 0xFF, rng.randrange(256)])
        walk_or_box_error(bytes(damaged))


def test_garbage_nested_deeper_than_the_stack_is_walked_without_recursion() -> None:
    depth = 20_000
    data = b"".join(struct.pack(">I4s", 8 * (depth - i), b"moov") for i in range(depth))
    walked = list(boxes(data, into={"moov"}))
    assert len(walked) == depth
    assert walked[-1] == Box("moov", 8 * (depth - 1), 8, 8)
