"""Event media: the clip window, the clip cut from recorded segments, and the snapshot JPEG.

Pure media functions (PyAV and OpenCV, no subprocesses, no re-encoding). Clips are remuxed by
stream copy from the recorder's segments into one browser-playable MP4 (``moov`` first). All
media bytes go through a ``MediaIO`` (sealed or plain; a writer is renamed into place when
finished, so a reader never sees half a file). A sealed writer cannot seek and FFmpeg's
``faststart`` needs to reopen its output by name, so a clip is muxed in memory and its ``moov``
moved to the front here (``faststart``) before it is written.
"""

from __future__ import annotations

import io
import itertools
import logging
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import cv2
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.video.stream import VideoStream

from hearthcam.errors import MediaLocked, StoreError
from hearthcam.labels import COCO_LABELS
from hearthcam.mp4 import Box, BoxError, boxes
from hearthcam.types import BGRImage, Detections, Segment
from hearthcam.vault.media import MediaIO, MediaWriter, PlainMedia, write_bytes

log = logging.getLogger(__name__)

_BOX_COLOUR = (0, 200, 255)


class ClipError(StoreError):
    """A clip could not be assembled (no recording covers the window, or the media is unusable)."""


def clip_window(
    event_start_wall: float,
    event_end_wall: float,
    pre_roll: float,
    post_roll: float,
    min_clip: float,
    max_clip: float,
) -> tuple[float, float]:
    """Returns the (start, end) wall times of an event's clip.

    The clip is the event plus ``pre_roll`` before and ``post_roll`` after. A clip shorter than
    ``min_clip`` is widened backwards only: that footage is already recorded, so the clip is
    ready right after the post-roll instead of waiting for more. A clip longer than ``max_clip``
    keeps its start (the lead-up matters most) and loses its tail; the live path passes an
    unbounded ``max_clip`` and splits a long window into parts instead (``clip_parts``).
    """
    if min(pre_roll, post_roll, min_clip, max_clip) < 0 or min_clip > max_clip:
        raise ValueError("rolls and clip bounds must be >= 0 with min_clip <= max_clip")
    if event_end_wall < event_start_wall:
        raise ValueError("an event cannot end before it starts")
    start = event_start_wall - pre_roll
    end = event_end_wall + post_roll
    shortfall = min_clip - (end - start)
    if shortfall > 0:
        start -= shortfall
    return start, min(end, start + max_clip)


def clip_parts(start: float, end: float, max_clip: float) -> list[tuple[float, float]]:
    """Splits the window [start, end] into consecutive windows of at most ``max_clip`` seconds.

    The parts are of equal length (no two-second tail after a full clip), each starts where
    the one before ends, and together they cover the window: every second of a long event is
    in one of its clips.
    """
    if max_clip <= 0 or end < start:
        raise ValueError("a window needs end >= start and max_clip > 0")
    count = max(1, math.ceil(round((end - start) / max_clip, 9)))
    step = (end - start) / count
    edges = [start + i * step for i in range(count)] + [end]
    return list(itertools.pairwise(edges))


# Boxes on the way from moov to the chunk offset tables that faststart must shift.
_CONTAINERS = frozenset({"moov", "trak", "mdia", "minf", "stbl"})


def _boxes(data: bytes | bytearray, start: int, end: int, into: frozenset[str]) -> list[Box]:
    """The boxes in ``data[start:end]`` (and inside those of a type in ``into``)."""
    try:
        return list(boxes(data, start, end, into=into))
    except BoxError as error:
        raise ClipError(f"malformed MP4: {error}") from error


def _shift_offsets(moov: bytearray, start: int, shift: int) -> None:
    """Adds ``shift`` to every chunk offset (stco/co64) inside ``moov`` (its body at ``start``)."""
    for box in _boxes(moov, start, len(moov), _CONTAINERS):
        if box.type in ("stco", "co64"):
            _shift_table(moov, box, shift)


def _shift_table(moov: bytearray, table: Box, shift: int) -> None:
    """Adds ``shift`` to every offset of one stco/co64 box (version/flags, count, offsets)."""
    wide = table.type == "co64"
    fmt, width = (">Q", 8) if wide else (">I", 4)
    count = struct.unpack_from(">I", moov, table.body + 4)[0] if table.body + 8 <= table.end else -1
    if count < 0 or table.body + 8 + count * width > table.end:
        raise ClipError(f"malformed MP4: its {table.type} is shorter than its count")
    for i in range(count):
        where = table.body + 8 + i * width
        (offset,) = struct.unpack_from(fmt, moov, where)
        if not wide and offset + shift >= 2**32:
            raise ClipError("clip too large for 32-bit chunk offsets")
        struct.pack_into(fmt, moov, where, offset + shift)


def faststart(data: bytes) -> bytes:
    """Moves an MP4's ``moov`` before its ``mdat`` (what ``movflags=+faststart`` does by file)."""
    top = _boxes(data, 0, len(data), frozenset())
    kinds = [box.type for box in top]
    if "moov" not in kinds or "mdat" not in kinds or kinds.index("moov") < kinds.index("mdat"):
        return data
    moov_box = top[kinds.index("moov")]
    moov = bytearray(data[moov_box.start : moov_box.end])
    # Everything from the first mdat on moves by the moov's size.
    _shift_offsets(moov, moov_box.header, moov_box.size)
    first_mdat = top[kinds.index("mdat")].start
    rest = [data[b.start : b.end] for b in top if b.start >= first_mdat and b.type != "moov"]
    return b"".join([data[:first_mdat], bytes(moov), *rest])


@dataclass(frozen=True, slots=True)
class _Signature:
    """What must match for packets of two segments to share one output stream."""

    codec: str
    width: int
    height: int
    extradata: bytes


def _signature(stream: VideoStream) -> _Signature:
    """Returns a stream's codec signature."""
    ctx = stream.codec_context
    return _Signature(ctx.name, ctx.width, ctx.height, bytes(ctx.extradata or b""))


def _first_packet(packets: Sequence[Packet[VideoStream]], start_ts: float) -> int | None:
    """Returns the index of the last keyframe at/before ``start_ts`` (else the first keyframe)."""
    chosen = None
    for i, packet in enumerate(packets):
        if not packet.is_keyframe:
            continue
        if chosen is not None and _pts(packet) > start_ts:
            break
        chosen = i
    return chosen


def _end_count(packets: Sequence[Packet[VideoStream]], end_ts: float) -> int:
    """Returns how many packets (decode order) to keep to show every frame before ``end_ts``.

    With B-frames a frame shown before the end may need a later one decoded first, so the cut
    grows until the kept frames form an unbroken run of presentation times.
    """
    pts = [_pts(p) for p in packets]
    keep = 1 + max((i for i, t in enumerate(pts) if t < end_ts), default=-1)
    if keep == 0:
        return 0
    suffix_min = [math.inf] * (len(pts) + 1)
    for i in range(len(pts) - 1, -1, -1):
        suffix_min[i] = min(pts[i], suffix_min[i + 1])
    top = max(pts[:keep])
    while keep < len(pts) and suffix_min[keep] < top:
        top = max(top, pts[keep])
        keep += 1
    return keep


class _ClipWriter:
    """Appends segments' packets to one output stream with continuous, zero-based timestamps."""

    def __init__(self, output: OutputContainer) -> None:
        self._output = output
        self._stream: VideoStream | None = None
        self._signature: _Signature | None = None
        self._time_base = Fraction(1, 90000)
        self._next_dts = 0
        self.packets = 0

    def append(self, source: InputContainer, seg: Segment, start: float, end: float) -> bool:
        """Copies the packets of ``seg`` inside [start, end); False if the segment cannot follow."""
        if not source.streams.video:
            log.warning("segment %s has no video stream; skipped", seg.path)
            return True
        stream = source.streams.video[0]
        if stream.time_base is None:
            return True
        if self._stream is None:
            self._stream = self._output.add_stream_from_template(stream)
            self._signature, self._time_base = _signature(stream), stream.time_base
        elif _signature(stream) != self._signature:
            log.warning("segment %s changes the stream parameters; clip ends before it", seg.path)
            return False
        packets = [p for p in source.demux(stream) if p.pts is not None and p.size > 0]
        if not packets:
            return True
        origin = min(_pts(p) for p in packets)
        tb = stream.time_base
        start_ts = origin + (start - seg.start) / tb
        end_ts = origin + (end - seg.start) / tb
        first = 0 if self.packets else _first_packet(packets, start_ts)
        if first is None:
            return True
        kept = packets[first:]
        self._write(kept[: _end_count(kept, end_ts)], tb)
        return True

    def _write(self, packets: list[Packet[VideoStream]], tb: Fraction) -> None:
        """Rebases packets onto the clip timeline (right after the previous ones) and muxes them."""
        if not packets or self._stream is None:
            return
        scale = tb / self._time_base
        if self.packets == 0:
            # The first frame shows at 0; with B-frames its decode time is that much earlier.
            self._next_dts = round((_dts(packets[0]) - _pts(packets[0])) * scale)
        shift = self._next_dts - round(_dts(packets[0]) * scale)
        dts, step = self._next_dts, 1
        for packet in packets:
            previous, dts = dts, round(_dts(packet) * scale) + shift
            step = dts - previous if dts > previous else step
            packet.pts = round(_pts(packet) * scale) + shift
            packet.dts = dts
            packet.duration = round((packet.duration or 0) * scale) or None
            packet.time_base = self._time_base
            packet.stream = self._stream
            self._output.mux(packet)
            self.packets += 1
        # The next segment continues one frame later, whatever wall-time gap lies between.
        self._next_dts = dts + (packets[-1].duration or step)


def _pts(packet: Packet[VideoStream]) -> int:
    """Returns a packet's presentation timestamp (demuxed packets without one are dropped)."""
    return packet.pts or 0


def _dts(packet: Packet[VideoStream]) -> int:
    """Returns a packet's decode timestamp, falling back to its presentation timestamp."""
    return packet.dts if packet.dts is not None else _pts(packet)


def _remux(segments: list[Segment], start: float, end: float, media: MediaIO) -> bytes:
    """The clip as MP4 bytes (``moov`` last)."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as output:
        _copy_segments(output, segments, start, end, media)
    return buffer.getvalue()


def _copy_segments(
    output: OutputContainer,
    segments: list[Segment],
    start: float,
    end: float,
    media: MediaIO,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Copies the packets of [start, end) from ``segments`` into ``output``; returns how many.
    ``progress`` hears the share of the range done (0..1) after each segment."""
    writer = _ClipWriter(output)
    span = max(end - start, 1e-9)
    for seg in segments:
        try:
            with media.open(seg.path) as file, av.open(file, "r") as source:
                if not writer.append(source, seg, start, end):
                    break
        except MediaLocked:
            raise  # not a gap: every segment of this household is locked, cut it later
        except (av.FFmpegError, OSError, StoreError) as error:
            # A segment that retention removed, a crash damaged or whose key was shredded
            # is a gap, not a failure.
            log.warning("segment %s unreadable, skipped: %s", seg.path, error)
        if progress is not None:
            progress(min(1.0, max(0.0, (min(seg.end, end) - start) / span)))
    if writer.packets == 0:
        raise ClipError(f"no video packets cover {start:.3f}..{end:.3f}")
    return writer.packets


def stream_range(
    segments: list[Segment],
    start_wall: float,
    end_wall: float,
    target: BinaryIO | MediaWriter,
    media: MediaIO | None = None,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Remuxes the recording of [start_wall, end_wall] into ``target`` as fragmented MP4.

    The long-range twin of ``assemble_clip`` (the same cut, timestamps and gap rules): a range
    of hours does not fit in memory, which ``faststart`` needs, so the MP4 is written front to
    back as it is muxed (a fragment per keyframe, as the recorder writes), into any writable
    file, a non-seekable sealed writer included. Returns the packets written; ``progress``
    hears the share of the range done after each segment.

    Raises:
        ClipError: no segment covers the range, or none of the covering ones is readable.
        MediaLocked: the segments' household is locked (password mode).
    """
    media = media or PlainMedia()
    chosen = sorted(
        (s for s in segments if s.end > start_wall and s.start < end_wall), key=lambda s: s.start
    )
    if not chosen:
        raise ClipError(f"no recording covers {start_wall:.3f}..{end_wall:.3f}")
    options = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    try:
        with av.open(target, "w", format="mp4", options=options) as output:
            return _copy_segments(output, chosen, start_wall, end_wall, media, progress)
    except (ClipError, MediaLocked):
        raise
    except (av.FFmpegError, OSError, StoreError) as error:
        raise ClipError(f"cannot write the range: {error}") from error


def assemble_clip(
    segments: list[Segment],
    start_wall: float,
    end_wall: float,
    out_path: Path,
    media: MediaIO | None = None,
) -> Path:
    """Remuxes the recording of [start_wall, end_wall] from ``segments`` into one MP4 file.

    The clip starts at the last keyframe at/before ``start_wall``; timestamps start at 0 and run on
    across segment boundaries and gaps (a gap is skipped, not shown as a frozen frame). A segment
    whose codec parameters differ from the first (the camera changed its stream) ends the clip.

    Segments are read, and the clip written (as the first segment's camera's), through ``media``
    (plain files when None).

    Raises:
        ClipError: no segment covers the window, or none of the covering ones is readable.
        MediaLocked: the segments' household is locked (password mode): cut it after unlock.
    """
    media = media or PlainMedia()
    chosen = sorted(
        (s for s in segments if s.end > start_wall and s.start < end_wall), key=lambda s: s.start
    )
    if not chosen:
        raise ClipError(f"no recording covers {start_wall:.3f}..{end_wall:.3f}")
    try:
        clip = faststart(_remux(chosen, start_wall, end_wall, media))
        write_bytes(media, out_path, chosen[0].camera, clip)
    except (ClipError, MediaLocked):
        raise
    except (av.FFmpegError, OSError, StoreError) as error:
        raise ClipError(f"cannot write clip {out_path}: {error}") from error
    return out_path


def _default_labels(detections: Detections) -> list[str]:
    """Labels each detection with its COCO name, score and track id (when tracked)."""
    labels = []
    for class_id, score, track in zip(
        detections.class_id.tolist(),
        detections.confidence.tolist(),
        detections.tracker_id.tolist(),
        strict=True,
    ):
        name = COCO_LABELS[class_id] if 0 <= class_id < len(COCO_LABELS) else str(class_id)
        labels.append(f"{name} {score:.2f}" + (f" #{track}" if track >= 0 else ""))
    return labels


def _draw_boxes(image: BGRImage, detections: Detections, labels: Sequence[str]) -> BGRImage:
    """Returns a copy of ``image`` with each detection's box and label drawn on it."""
    if len(labels) != len(detections):
        raise ValueError("need one label per detection")
    canvas = image.copy()
    for i, (x1, y1, x2, y2) in enumerate(detections.xyxy.round().astype(int).tolist()):
        cv2.rectangle(canvas, (x1, y1), (x2, y2), _BOX_COLOUR, 2)
        if labels[i]:
            y = max(y1 - 4, 12)
            cv2.putText(canvas, labels[i], (x1, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, _BOX_COLOUR, 1)
    return canvas


def write_snapshot(
    image: BGRImage,
    detections: Detections | None,
    out_path: Path,
    *,
    labels: Sequence[str] | None = None,
    quality: int = 90,
    media: MediaIO | None = None,
    camera: str = "",
) -> Path:
    """Writes ``image`` as a JPEG at ``out_path``, with the detections' boxes drawn if given.

    ``labels`` (one per detection) replaces the default "name score #track" captions. The file
    is written through ``media`` (plain when None) as ``camera``'s.
    """
    canvas = image
    if detections is not None and len(detections):
        canvas = _draw_boxes(image, detections, labels or _default_labels(detections))
    ok, encoded = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise StoreError(f"cannot encode snapshot {out_path}")
    try:
        write_bytes(media or PlainMedia(), out_path, camera, encoded.tobytes())
    except OSError as error:
        raise StoreError(f"cannot write snapshot {out_path}: {error}") from error
    return out_path
