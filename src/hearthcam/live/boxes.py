"""Reads the ISO BMFF (MP4) boxes of a fragmented MP4 byte stream, for the live view.

Owns three small jobs: cutting a growing byte stream into complete top-level boxes
(``BoxSplitter``), finding boxes inside others (``iter_boxes``, ``find_box``: ``hearthcam.mp4``'s
walker with size 0 refused, as a stream has no end), and reading and rewriting the few fields of
one media fragment (moof+mdat) the broadcaster needs: its decode time (``tfdt``), duration and
whether it starts with a sync sample (``FragmentInfo``). Only what
FFmpeg's mp4 muxer writes for one video track is supported; anything else is a ``BoxError``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hearthcam import mp4
from hearthcam.mp4 import Box
from hearthcam.mp4 import BoxError as BoxError  # raised by this module's readers too

# tfhd flags (ISO/IEC 14496-12 8.8.7)
TFHD_BASE_DATA_OFFSET = 0x000001
TFHD_SAMPLE_DESCRIPTION = 0x000002
TFHD_DEFAULT_DURATION = 0x000008
TFHD_DEFAULT_SIZE = 0x000010
TFHD_DEFAULT_FLAGS = 0x000020
TFHD_DEFAULT_BASE_IS_MOOF = 0x020000
# trun flags (8.8.8)
TRUN_DATA_OFFSET = 0x000001
TRUN_FIRST_SAMPLE_FLAGS = 0x000004
TRUN_DURATION = 0x000100
TRUN_SIZE = 0x000200
TRUN_FLAGS = 0x000400
TRUN_COMPOSITION_OFFSET = 0x000800
# In sample flags: set for a sample that is not a sync sample (not a keyframe).
SAMPLE_NON_SYNC = 0x00010000


def _header(data: bytes | bytearray, at: int, end: int) -> Box | None:
    """The box starting at ``at``, or None when it is not all there yet; a live stream has no
    end, so size 0 ("to the end") is a BoxError."""
    return mp4.header(data, at, end, open_ended=False)


def iter_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes laid end to end in ``data[start:end]``; raises BoxError if one is cut short."""
    return mp4.boxes(data, start, end, open_ended=False)


def find_box(
    data: bytes, path: Sequence[str], start: int = 0, end: int | None = None
) -> Box | None:
    """The first box along ``path`` (e.g. ``("moof", "traf", "tfdt")``), or None."""
    return mp4.find(data, path, start, end, open_ended=False)


class BoxSplitter:
    """Cuts a byte stream, fed in pieces of any size, into complete top-level boxes."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[str, bytes]]:
        """Adds bytes; returns the (type, bytes) of every box completed by them, in order."""
        self._buffer += data
        boxes: list[tuple[str, bytes]] = []
        at = 0
        while (box := _header(self._buffer, at, len(self._buffer))) is not None:
            boxes.append((box.type, bytes(self._buffer[box.start : box.end])))
            at = box.end
        del self._buffer[:at]
        return boxes

    @property
    def pending(self) -> int:
        """Bytes received that do not complete a box yet."""
        return len(self._buffer)


@dataclass(frozen=True, slots=True)
class FragmentInfo:
    """What the broadcaster needs to know about one moof (single track)."""

    decode_time: int  # tfdt baseMediaDecodeTime, in the track's timescale
    duration: int  # sum of its sample durations, same units
    samples: int
    keyframe: bool  # its first sample is a sync sample
    base_is_moof: bool  # tfhd default-base-is-moof, which Chromium's MSE requires
    tfdt_offset: int  # where the decode time field starts, from the start of the moof
    tfdt_version: int  # 1: 64-bit decode time, 0: 32-bit


@dataclass(frozen=True, slots=True)
class _Defaults:
    duration: int | None
    flags: int | None
    base_is_moof: bool


def _full_box(data: bytes, box: Box) -> tuple[int, int]:
    """(version, flags) of a full box."""
    word = int.from_bytes(data[box.body : box.body + 4], "big")
    return word >> 24, word & 0xFFFFFF


def _tfhd_defaults(data: bytes, tfhd: Box) -> _Defaults:
    _, flags = _full_box(data, tfhd)
    at = tfhd.body + 8  # version/flags, track_ID
    at += 8 if flags & TFHD_BASE_DATA_OFFSET else 0
    at += 4 if flags & TFHD_SAMPLE_DESCRIPTION else 0
    duration = sample_flags = None
    if flags & TFHD_DEFAULT_DURATION:
        (duration,) = struct.unpack_from(">I", data, at)
        at += 4
    at += 4 if flags & TFHD_DEFAULT_SIZE else 0
    if flags & TFHD_DEFAULT_FLAGS:
        (sample_flags,) = struct.unpack_from(">I", data, at)
    return _Defaults(duration, sample_flags, bool(flags & TFHD_DEFAULT_BASE_IS_MOOF))


def _trun_samples(data: bytes, trun: Box, defaults: _Defaults) -> tuple[int, int, bool]:
    """(sample count, total duration, first sample is sync) of a trun."""
    _, flags = _full_box(data, trun)
    (count,) = struct.unpack_from(">I", data, trun.body + 4)
    at = trun.body + 8 + (4 if flags & TRUN_DATA_OFFSET else 0)
    first_flags = defaults.flags
    if flags & TRUN_FIRST_SAMPLE_FLAGS:
        (first_flags,) = struct.unpack_from(">I", data, at)
        at += 4
    fields = [TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_COMPOSITION_OFFSET]
    stride = 4 * sum(1 for f in fields if flags & f)
    if at + count * stride > trun.end:
        raise BoxError("trun is shorter than its sample count")
    if flags & TRUN_DURATION:
        total = sum(struct.unpack_from(">I", data, at + i * stride)[0] for i in range(count))
    elif defaults.duration is not None:
        total = count * defaults.duration
    else:
        raise BoxError("fragment without sample durations (no trun durations, no tfhd default)")
    if count and flags & TRUN_FLAGS and not flags & TRUN_FIRST_SAMPLE_FLAGS:
        offset = 4 if flags & TRUN_DURATION else 0
        offset += 4 if flags & TRUN_SIZE else 0
        (first_flags,) = struct.unpack_from(">I", data, at + offset)
    # Without any flags the track defaults (trex) apply; FFmpeg always writes them in tfhd.
    keyframe = first_flags is not None and not first_flags & SAMPLE_NON_SYNC
    return count, total, keyframe


def fragment_info(moof: bytes) -> FragmentInfo:
    """Reads a moof (alone or followed by its mdat) of a single-track fragment."""
    traf = find_box(moof, ("moof", "traf"), 0, _header_end(moof))
    if traf is None:
        raise BoxError("not a moof with a traf")
    tfhd = find_box(moof, ("tfhd",), traf.body, traf.end)
    tfdt = find_box(moof, ("tfdt",), traf.body, traf.end)
    if tfhd is None or tfdt is None:
        raise BoxError("traf without tfhd or tfdt")
    defaults = _tfhd_defaults(moof, tfhd)
    version, _ = _full_box(moof, tfdt)
    fmt = ">Q" if version == 1 else ">I"
    (decode_time,) = struct.unpack_from(fmt, moof, tfdt.body + 4)
    samples = duration = 0
    keyframe: bool | None = None
    for trun in (b for b in iter_boxes(moof, traf.body, traf.end) if b.type == "trun"):
        count, total, sync = _trun_samples(moof, trun, defaults)
        keyframe = sync if keyframe is None else keyframe
        samples += count
        duration += total
    return FragmentInfo(
        decode_time,
        duration,
        samples,
        bool(keyframe),
        defaults.base_is_moof,
        tfdt.body + 4,
        version,
    )


def _header_end(data: bytes) -> int:
    """End of the first top-level box, so a moof given with its mdat is read alone."""
    box = _header(data, 0, len(data))
    if box is None:
        raise BoxError("truncated box at 0")
    return box.end


def with_decode_time(fragment: bytes, info: FragmentInfo, decode_time: int) -> bytes:
    """A copy of ``fragment`` whose tfdt says ``decode_time`` (the rest is byte-identical)."""
    if info.tfdt_version != 1 and not 0 <= decode_time < 1 << 32:
        raise BoxError(f"decode time {decode_time} does not fit a version 0 tfdt")
    patched = bytearray(fragment)
    struct.pack_into(
        ">Q" if info.tfdt_version == 1 else ">I", patched, info.tfdt_offset, decode_time
    )
    return bytes(patched)
