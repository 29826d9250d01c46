"""What is left of an MP4 cut before its index: its H.264 media data, made readable again.

An MP4 written index-last (FFmpeg's default, most cameras' exports) keeps every frame's place
and time in the ``moov`` box at its end; cut short, that box is gone and no demuxer can find a
frame. The frames are still in ``mdat``, as length-prefixed H.264 NAL units. Where the stream
carries its parameter sets in-band (SPS/PPS before keyframes, as camera streams do) or the cut
left the index's ``avcC`` box, the units are walked into an Annex-B stream and remuxed into a
new MP4 at the stream's own frame rate (its VUI timing; 25 fps when it has none).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Final

import av
import av.error

from hearthcam import mp4

DEFAULT_FPS: Final = 25
_SPS: Final = 7
_START: Final = b"\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class Salvaged:
    """A remuxed copy of what a cut MP4 still held."""

    path: Path
    frames: int
    fps: float
    assumed_fps: bool  # the stream had no timing of its own


def salvage_h264(source: Path, target: Path) -> Salvaged | None:
    """Writes the H.264 left in a cut MP4's ``mdat`` to ``target`` (an MP4); None if nothing
    decodable is there (another codec, no parameter sets, not an MP4)."""
    try:
        with open(source, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            media = _mdat(file, size)
            if media is None:
                return None
            headers, length_size = _avcc(file, media[1], size)
            raw = target.with_suffix(".h264")
            with open(raw, "wb") as out:
                out.write(b"".join(_START + unit for unit in headers))
                units, sps = _copy_units(file, media, length_size, out)
            if not units or not (sps or any(u[0] & 0x1F == _SPS for u in headers)):
                return None
            return _remux(raw, target)
    except (OSError, mp4.BoxError, av.error.FFmpegError):
        return None


def _mdat(file: BinaryIO, size: int) -> tuple[int, int] | None:
    """The byte range of the media data, to the end of the file where the cut went through it."""
    at = 0
    while at + mp4.SMALL_HEADER <= size:
        file.seek(at)
        head = file.read(mp4.LARGE_HEADER)
        length, raw = struct.unpack_from(">I4s", head)
        header = mp4.SMALL_HEADER
        if length == 1 and len(head) >= mp4.LARGE_HEADER:
            (length,) = struct.unpack_from(">Q", head, mp4.SMALL_HEADER)
            header = mp4.LARGE_HEADER
        if raw == b"mdat":
            end = size if length == 0 else min(at + length, size)
            return at + header, end
        if length < header:
            return None
        at += length
    return None


def _avcc(file: BinaryIO, start: int, size: int) -> tuple[list[bytes], int]:
    """SPS/PPS and the NAL length size from an ``avcC`` box the cut left after ``mdat``."""
    file.seek(start)
    tail = file.read(min(size - start, 1 << 20))  # an index's sample description comes early
    found = tail.find(b"avcC")
    if found < 0 or len(tail) < found + 10:
        return [], 4
    body = tail[found + 4 :]  # version, profile, compatibility, level, length size, SPS count
    try:
        length_size = (body[4] & 0x03) + 1
        units: list[bytes] = []
        at = 5
        for mask in (0x1F, 0xFF):  # the SPS count shares its byte with reserved bits
            count = body[at] & mask
            at += 1
            for _ in range(count):
                (n,) = struct.unpack_from(">H", body, at)
                units.append(body[at + 2 : at + 2 + n])
                at += 2 + n
    except (IndexError, struct.error):
        return [], 4
    return [u for u in units if u], length_size


def _copy_units(
    file: BinaryIO, media: tuple[int, int], length_size: int, out: BinaryIO
) -> tuple[int, bool]:
    """Writes the NAL units of ``media`` as Annex-B, up to the first that is cut or is not
    H.264 (another track's samples); returns how many and whether an SPS was among them."""
    at, end = media
    units, sps = 0, False
    while at + length_size <= end:
        file.seek(at)
        n = int.from_bytes(file.read(length_size), "big")
        if n == 0 or at + length_size + n > end:
            break
        unit = file.read(n)
        if unit[0] & 0x80:  # the forbidden bit: not an H.264 unit
            break
        sps = sps or unit[0] & 0x1F == _SPS
        out.write(_START + unit)
        units += 1
        at += length_size + n
    return units, sps


def _remux(raw: Path, target: Path) -> Salvaged | None:
    """Gives the Annex-B stream timestamps at its own rate, in an MP4 any reader opens."""
    with av.open(str(raw), "r", format="h264") as source, av.open(str(target), "w") as out:
        stream = source.streams.video[0]
        guessed = stream.guessed_rate
        fps = Fraction(guessed) if guessed and 1 <= guessed <= 120 else Fraction(DEFAULT_FPS)
        copy = out.add_stream_from_template(stream)
        copy.time_base = Fraction(1, 90_000)
        step = round(90_000 / fps)
        frames = 0
        for packet in source.demux(stream):
            if not packet.size:
                continue
            packet.stream = copy
            packet.time_base = copy.time_base
            packet.pts = packet.dts = frames * step
            packet.duration = step
            out.mux(packet)
            frames += 1
    raw.unlink()
    if not frames:
        return None
    return Salvaged(target, frames, float(fps), assumed_fps=not guessed)
