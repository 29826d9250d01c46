"""Tests for the MP4 box reader, on real fragmented output of FFmpeg's mp4 muxer."""

from __future__ import annotations

import dataclasses
import io
import itertools
import struct
from fractions import Fraction
from pathlib import Path

import av
import pytest

from hearthcam.live.boxes import (
    TFHD_DEFAULT_BASE_IS_MOOF,
    BoxError,
    BoxSplitter,
    find_box,
    fragment_info,
    iter_boxes,
    with_decode_time,
)
from hearthcam.live.muxer import MOVFLAGS, TIMESCALE


def fragmented(path: Path) -> tuple[bytes, list[bool]]:
    """A file remuxed with the live muxer's flags, and each packet's keyframe flag."""
    out = io.BytesIO()
    keys = []
    with (
        av.open(str(path)) as source,
        av.open(out, "w", format="mp4", options={"movflags": MOVFLAGS}) as sink,
    ):
        stream = source.streams.video[0]
        copy = sink.add_stream_from_template(stream, opaque=True)
        copy.time_base = Fraction(1, TIMESCALE)
        for packet in source.demux(stream):
            if packet.size:
                keys.append(packet.is_keyframe)
                packet.stream = copy
                sink.mux(packet)
    return out.getvalue(), keys


@pytest.fixture(scope="module")
def remuxed(clip: Path) -> tuple[bytes, list[bool]]:
    return fragmented(clip)


def test_top_level_boxes_are_init_then_moof_mdat_pairs(remuxed: tuple[bytes, list[bool]]) -> None:
    data, keys = remuxed
    kinds = [box.type for box in iter_boxes(data)]
    assert kinds[:2] == ["ftyp", "moov"]
    media = kinds[2:]
    assert media == ["moof", "mdat"] * len(keys)  # one fragment per frame
    boxes = list(iter_boxes(data))
    assert boxes[0].start == 0
    assert all(a.end == b.start for a, b in itertools.pairwise(boxes))
    assert boxes[-1].end == len(data)


def test_the_init_segment_has_what_mse_needs(remuxed: tuple[bytes, list[bool]]) -> None:
    data, _ = remuxed
    assert find_box(data, ("moov", "mvex", "trex")) is not None
    assert find_box(data, ("moov", "trak", "mdia", "minf", "stbl", "stsd")) is not None
    assert find_box(data, ("moov", "nope")) is None


def test_fragment_info_reads_time_duration_keyframes_and_base_is_moof(
    remuxed: tuple[bytes, list[bool]],
) -> None:
    data, keys = remuxed
    moofs = [box for box in iter_boxes(data) if box.type == "moof"]
    infos = [fragment_info(data[box.start : box.end]) for box in moofs]
    assert [info.keyframe for info in infos] == keys
    assert all(info.samples == 1 for info in infos)
    assert all(info.base_is_moof for info in infos)
    step = TIMESCALE // 10  # 10 fps
    assert [info.decode_time for info in infos] == [i * step for i in range(len(keys))]
    assert all(info.duration == step for info in infos)


def test_tfhd_flags_say_default_base_is_moof(remuxed: tuple[bytes, list[bool]]) -> None:
    # What Chromium checks, read straight from the bytes rather than through fragment_info.
    data, _ = remuxed
    moov = find_box(data, ("moov",))
    assert moov is not None
    tfhd = find_box(data, ("moof", "traf", "tfhd"), start=moov.end)
    assert tfhd is not None
    (flags,) = struct.unpack(">I", data[tfhd.body : tfhd.body + 4])
    assert flags & TFHD_DEFAULT_BASE_IS_MOOF


def test_splitter_gives_the_same_boxes_whatever_the_pieces(
    remuxed: tuple[bytes, list[bool]],
) -> None:
    data, _ = remuxed
    whole = [(box.type, data[box.start : box.end]) for box in iter_boxes(data)]
    for piece in (1, 7, 4096):
        splitter = BoxSplitter()
        out = []
        for at in range(0, len(data), piece):
            out += splitter.feed(data[at : at + piece])
        assert out == whole
        assert splitter.pending == 0


def test_with_decode_time_changes_only_the_tfdt(remuxed: tuple[bytes, list[bool]]) -> None:
    data, _ = remuxed
    moof = next(box for box in iter_boxes(data) if box.type == "moof")
    mdat = next(box for box in iter_boxes(data, moof.end) if box.type == "mdat")
    fragment = data[moof.start : mdat.end]
    info = fragment_info(fragment)
    patched = with_decode_time(fragment, info, 123_456_789_012)
    assert fragment_info(patched).decode_time == 123_456_789_012
    assert len(patched) == len(fragment)
    differs = [i for i, (a, b) in enumerate(zip(fragment, patched, strict=True)) if a != b]
    assert differs
    assert all(info.tfdt_offset <= i < info.tfdt_offset + 8 for i in differs)


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def test_a_64_bit_size_is_read() -> None:
    body = b"x" * 5
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + len(body)) + body
    data = large + box(b"free", b"")
    boxes = list(iter_boxes(data))
    assert [(b.type, b.size, b.header) for b in boxes] == [("mdat", 21, 16), ("free", 8, 8)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (box(b"moof", b"abc")[:-1], "truncated"),
        (struct.pack(">I4s", 0, b"mdat"), "no size"),
        (struct.pack(">I4s", 4, b"mdat"), "less than its header"),
    ],
)
def test_malformed_boxes_are_box_errors(data: bytes, message: str) -> None:
    with pytest.raises(BoxError, match=message):
        list(iter_boxes(data))


def test_the_splitter_waits_for_a_whole_box_and_refuses_nonsense() -> None:
    splitter = BoxSplitter()
    whole = box(b"free", b"12345678")
    assert splitter.feed(whole[:5]) == []
    assert splitter.pending == 5
    assert splitter.feed(whole[5:]) == [("free", whole)]
    with pytest.raises(BoxError):
        splitter.feed(struct.pack(">I4s", 3, b"junk"))


def test_fragment_info_refuses_what_is_not_a_fragment() -> None:
    with pytest.raises(BoxError):
        fragment_info(box(b"moof", box(b"mfhd", b"\0" * 8)))
    with pytest.raises(BoxError):
        fragment_info(box(b"moof", box(b"traf", box(b"tfhd", b"\0" * 8))))


def test_a_version_0_tfdt_cannot_take_a_64_bit_time(remuxed: tuple[bytes, list[bool]]) -> None:
    data, _ = remuxed
    moof = next(b for b in iter_boxes(data) if b.type == "moof")
    info = fragment_info(data[moof.start : moof.end])
    small = dataclasses.replace(info, tfdt_version=0)
    with pytest.raises(BoxError, match="version 0"):
        with_decode_time(data[moof.start : moof.end], small, 1 << 33)
