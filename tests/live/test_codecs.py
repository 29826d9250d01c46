"""Tests for the MSE codec string: against what PyAV reports and what the live muxer writes."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from hearthcam.live.boxes import find_box, iter_boxes
from hearthcam.live.codecs import mime_type, mse_codec
from hearthcam.live.fmp4 import LiveBroadcaster
from hearthcam.live.subscription import ChunkKind
from tests.support.live_media import feed, write_numbered

H264_PROFILE_IDC = {"Constrained Baseline": 66, "Baseline": 66, "Main": 77, "High": 100}
START = b"\x00\x00\x00\x01"


def codec_params(path: Path) -> tuple[str, bytes, str, int]:
    """(codec name, extradata, profile name, level) as PyAV reports them."""
    with av.open(str(path)) as container:
        context = container.streams.video[0].codec_context
        assert context.extradata is not None
        assert context.profile is not None
        return context.name, context.extradata, context.profile, context.level


def sample_entry(init: bytes) -> tuple[str, bytes]:
    """The sample entry type (avc1, hvc1, ...) and its avcC/hvcC body, from an init segment."""
    stsd = find_box(init, ("moov", "trak", "mdia", "minf", "stbl", "stsd"))
    assert stsd is not None
    entry = next(iter_boxes(init, stsd.body + 8, stsd.end))  # after version/flags and count
    # A visual sample entry has 78 bytes of fields before its child boxes.
    config = next(b for b in iter_boxes(init, entry.body + 78, entry.end) if b.type[3] == "C")
    return entry.type, init[config.body : config.end]


def init_of(path: Path) -> bytes:
    """The init segment the live broadcaster makes for a file's stream."""
    broadcaster = LiveBroadcaster("cam")
    sub = broadcaster.subscribe()
    feed(broadcaster, path)
    first = sub.drain()[0]
    assert first.kind is ChunkKind.INIT
    return first.data


@pytest.mark.parametrize(
    ("profile", "expected_prefix"),
    [("baseline", "avc1.42c0"), ("main", "avc1.4d40"), ("high", "avc1.6400")],
)
def test_h264_codec_string_matches_profile_and_level(
    tmp_path: Path, profile: str, expected_prefix: str
) -> None:
    path = write_numbered(
        tmp_path / f"{profile}.mp4", seconds=1.0, size=(640, 480), profile=profile
    )
    name, extradata, reported, level = codec_params(path)
    codec = mse_codec(name, extradata)
    assert codec is not None
    assert codec.startswith(expected_prefix)
    assert int(codec[5:7], 16) == H264_PROFILE_IDC[reported]
    assert int(codec[9:11], 16) == level
    # What MSE is told matches what the init segment carries.
    kind, avcc = sample_entry(init_of(path))
    assert kind == "avc1"
    assert avcc[1:4].hex() == codec[5:]


def annex_b_from_avcc(avcc: bytes) -> bytes:
    """The SPS and PPS of an avcC record as Annex B, as FFmpeg gives RTSP extradata."""
    out, at = b"", 5
    for _ in range(2):  # SPS list, then PPS list
        count = avcc[at] & 0x1F
        at += 1
        for _ in range(count):
            (size,) = struct.unpack_from(">H", avcc, at)
            out += START + avcc[at + 2 : at + 2 + size]
            at += 2 + size
    return out


def test_h264_annex_b_extradata_gives_the_same_string(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "main.mp4", seconds=1.0, profile="main")
    _, extradata, _, _ = codec_params(path)
    annex_b = annex_b_from_avcc(extradata)
    assert annex_b.startswith(START + b"\x67")
    assert mse_codec("h264", annex_b) == mse_codec("h264", extradata)


def annex_b_from_hvcc(hvcc: bytes) -> bytes:
    """The parameter set NAL units of an hvcC record as Annex B."""
    out, at = b"", 23
    for _ in range(hvcc[22]):
        (count,) = struct.unpack_from(">H", hvcc, at + 1)
        at += 3
        for _ in range(count):
            (size,) = struct.unpack_from(">H", hvcc, at)
            out += START + hvcc[at + 2 : at + 2 + size]
            at += 2 + size
    return out


def test_hevc_codec_string_from_hvcc_and_annex_b(tmp_path: Path) -> None:
    path = write_numbered(tmp_path / "hevc.mp4", seconds=1.0, codec="libx265")
    name, extradata, reported, level = codec_params(path)
    codec = mse_codec(name, extradata)
    assert reported == "Main"
    assert codec == f"hvc1.1.6.L{level}.90"  # Main, compatible with Main (and Main 10)
    # The SPS inside the Annex B form is escaped (its constraint bytes are mostly zero).
    annex_b = annex_b_from_hvcc(extradata)
    assert b"\x00\x00\x03" in annex_b
    assert mse_codec(name, annex_b) == codec
    kind, hvcc = sample_entry(init_of(path))
    assert kind == "hvc1"
    assert hvcc[1:13] == extradata[1:13]


def test_unknown_codecs_and_missing_parameters_have_no_string() -> None:
    assert mse_codec("mjpeg", b"\x01\x02") is None
    assert mse_codec("h264", None) is None
    assert mse_codec("h264", b"") is None
    assert mse_codec("h264", START + b"\x68\xce") is None  # a PPS but no SPS
    assert mse_codec("hevc", START + b"\x40\x01\x0c") is None  # a VPS but no SPS


def test_mime_type_quotes_the_codec() -> None:
    assert mime_type("avc1.64001f") == 'video/mp4; codecs="avc1.64001f"'
