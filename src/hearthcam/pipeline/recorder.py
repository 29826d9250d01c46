"""Continuous recording by stream copy: packets in, keyframe-aligned MP4 segments out.

Owns the segment files of the record stream: where they go
(``<out_dir>/<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4``, UTC of the first frame), when they are cut
(first keyframe after ``segment_seconds``, after a requested cut time, or at a gap), timestamp
rebasing so each segment starts at 0, and crash safety: a segment is written through the media
I/O (``hearthcam.vault.media``: sealed or plain) as ``.mp4.part`` and renamed when finished. It
is fragmented MP4 (a ``moof``+``mdat`` per keyframe), which needs no seek back (a sealed file
cannot seek) and leaves, after ``kill -9``, a ``.part`` whose whole fragments start-up recovery
(``hearthcam.recordings.recovery``) keeps. Nothing is re-encoded. File names follow
``hearthcam.layout``.
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import av.error

from hearthcam.errors import DiskFull, StoreError, is_disk_full
from hearthcam.layout import segment_path
from hearthcam.types import Segment
from hearthcam.vault.media import MediaIO, MediaWriter, PlainMedia

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

# Packets further apart than this (seconds of wall time) mean the stream stalled: the segment
# is closed rather than stretched over a hole.
GAP_SECONDS = 5.0
# One fragment per keyframe, written as it completes: no seek back to a moov, and a killed
# process loses at most the fragment in flight.
FRAGMENTED_MP4 = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


def _failure(what: str, error: BaseException) -> StoreError:
    """The error to raise for a failed write: ``DiskFull`` when the disk had no room (the
    segment is dropped, and the next keyframe starts a new one), else ``StoreError``."""
    kind = DiskFull if is_disk_full(error) else StoreError
    return kind(f"{what}: {error}")


@dataclass(slots=True)
class _Open:
    """The segment being written."""

    container: OutputContainer
    stream: VideoStream  # the output stream
    template: VideoStream  # the input stream it copies; another one means a new connection
    writer: MediaWriter
    path: Path
    start: float
    time_base: Fraction
    step: int  # one frame in time_base units, for packets without timestamps or duration
    last_wall: float
    end: float
    origin: int | None = None  # input timestamp that maps to 0
    last_dts: int | None = None  # rebased
    packets: int = 0


class SegmentRecorder:
    """Writes one camera's record stream into keyframe-aligned MP4 segments (thread-safe)."""

    def __init__(
        self,
        camera: str,
        out_dir: Path,
        segment_seconds: float,
        on_segment: Callable[[Segment], None],
        media: MediaIO | None = None,
    ) -> None:
        self.camera = camera
        self.out_dir = out_dir
        self._media = media or PlainMedia()
        self.segment_seconds = segment_seconds
        self._on_segment = on_segment
        self._lock = threading.Lock()
        self._open: _Open | None = None
        self._cuts: list[float] = []  # requested cut times, sorted

    def write(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        """Adds one packet of ``stream`` (not modified); calls on_segment when one is finished."""
        if not packet.size:
            return  # a demuxer's end-of-stream flush packet carries nothing to record
        with self._lock:
            done = self._cut_before(packet, stream, wall)
            if self._open is None and packet.is_keyframe:
                self._open = self._start(stream, wall)
            if self._open is not None:
                self._mux(self._open, packet, wall)
        if done is not None:
            self._on_segment(done)

    def request_cut(self, at_wall: float) -> None:
        """Closes the current segment at the first keyframe at/after ``at_wall``."""
        with self._lock:
            bisect.insort(self._cuts, at_wall)

    def close(self) -> None:
        """Finishes the current segment; a later write starts a new one at the next keyframe."""
        with self._lock:
            done = self._finish()
        if done is not None:
            self._on_segment(done)

    def _cut_before(
        self, packet: Packet[VideoStream], stream: VideoStream, wall: float
    ) -> Segment | None:
        """Finishes the open segment if this packet must start a new one (or follows a gap)."""
        seg = self._open
        if seg is not None and (stream is not seg.template or wall - seg.last_wall > GAP_SECONDS):
            return self._finish()  # a reconnect or a stall: never bridge it inside one file
        if not packet.is_keyframe:
            return None
        due = bisect.bisect_right(self._cuts, wall)
        requested = self._cuts[:due]
        del self._cuts[:due]
        if seg is None:
            return None
        if wall - seg.start >= self.segment_seconds or any(t > seg.start for t in requested):
            return self._finish()
        return None

    def _start(self, stream: VideoStream, wall: float) -> _Open:
        """Opens a new ``.part`` file for a segment starting with a keyframe at ``wall``."""
        path = segment_path(self.out_dir, self.camera, wall)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        time_base = stream.time_base or Fraction(1, 90_000)
        writer: MediaWriter | None = None
        try:
            writer = self._media.create(path, self.camera)
            container = av.open(writer, "w", format="mp4", options=FRAGMENTED_MP4)
            # opaque=True copies the decoder's parameters: no encoder is needed to remux.
            out = container.add_stream_from_template(stream, opaque=True)
        except (OSError, av.error.FFmpegError, ValueError, StoreError) as error:
            if writer is not None:
                with contextlib.suppress(OSError, StoreError):  # what failed may be the disk
                    writer.abort()
            raise _failure(f"{self.camera}: cannot start segment {path}", error) from error
        step = max(1, round(1 / (rate * time_base)))
        return _Open(container, out, stream, writer, path, wall, time_base, step, wall, wall)

    def _mux(self, seg: _Open, packet: Packet[VideoStream], wall: float) -> None:
        """Copies one packet into the open segment with rebased, monotonic timestamps."""
        dts, pts = self._rebase(seg, packet)
        duration = packet.duration or seg.step
        # A copy (a memcpy of a few KB): the caller's packet keeps its timestamps and stream,
        # and the muxer may hold on to this one while it waits for codec extradata.
        copy = av.Packet(bytes(packet))
        copy.time_base = seg.time_base
        copy.dts, copy.pts, copy.duration = dts, pts, duration
        copy.is_keyframe = packet.is_keyframe
        copy.stream = seg.stream
        try:
            seg.container.mux(copy)
        except (OSError, av.error.FFmpegError, ValueError) as error:
            self._abort()
            raise _failure(f"{self.camera}: cannot write segment {seg.path}", error) from error
        seg.packets += 1
        seg.last_wall = wall
        seg.end = wall + float(duration * seg.time_base)

    @staticmethod
    def _rebase(seg: _Open, packet: Packet[VideoStream]) -> tuple[int, int]:
        """(dts, pts) relative to the segment start; fills missing ones, keeps dts increasing."""
        raw = packet.dts if packet.dts is not None else packet.pts
        expected = 0 if seg.last_dts is None else seg.last_dts + seg.step
        if raw is None:
            dts = expected  # no timestamp at all (first RTSP packets): one frame after the last
        else:
            if seg.origin is None:
                seg.origin = raw - expected
            dts = raw - seg.origin
        if seg.last_dts is not None and dts <= seg.last_dts:
            dts = seg.last_dts + 1  # the MP4 muxer refuses non-increasing dts
        pts = dts if packet.pts is None or seg.origin is None else packet.pts - seg.origin
        seg.last_dts = dts
        return dts, max(pts, dts)

    def _finish(self) -> Segment | None:
        """Closes the open segment and renames it into place; returns it for on_segment."""
        seg, self._open = self._open, None
        if seg is None:
            return None
        try:
            seg.container.close()  # the last fragment goes to the writer
            # Durable before it is renamed, so an indexed segment survives a power cut.
            seg.writer.close()
        except (OSError, av.error.FFmpegError, ValueError, StoreError) as error:
            with contextlib.suppress(OSError, StoreError):
                seg.writer.abort()
            raise _failure(f"{self.camera}: cannot finish segment {seg.path}", error) from error
        return Segment(self.camera, seg.path, seg.start, seg.end)

    def _abort(self) -> None:
        """Drops the open segment after a write error."""
        seg, self._open = self._open, None
        if seg is None:
            return
        # The file is deleted anyway; a second failure while closing it adds nothing.
        with contextlib.suppress(OSError, av.error.FFmpegError, ValueError):
            seg.container.close()
        with contextlib.suppress(OSError, StoreError):
            seg.writer.abort()
