"""Decoding a shared clip's frames and encoding a redacted copy (PyAV, H.264 by libx264).

A clip is read from a path or from an *opener* (a callable giving a fresh readable, seekable
binary file: a sealed file's decrypting reader), so encrypted media are never written out in
plaintext to be read. Reading wraps every FFmpeg failure in ``SourceUnreadable``.

A redacted copy is written to a ``.part`` file beside the target that is renamed into place
only on ``publish``; or, given a ``sink``, encoded in memory and handed to the sink on
``publish`` (which writes it sealed). Either way it is removed on ``discard`` or on any error, so
a half-written or unchecked redaction is never left where a reader looks.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, TypeAlias

import av
import av.error
import numpy as np
from av.container import InputContainer

from hearthcam.errors import SourceTimeout, SourceUnreadable, StoreError
from hearthcam.types import BGRImage

# A clip to read: a plain file, or an opener of a fresh readable, seekable binary file.
ClipSource: TypeAlias = Path | Callable[[], BinaryIO]
# Stores finished redacted bytes at a path (sealed) and returns the path.
Sink: TypeAlias = Callable[[Path, bytes], Path]


@contextlib.contextmanager
def _open(source: ClipSource) -> Iterator[InputContainer]:
    """The clip's container; a file the opener gave is closed with it (PyAV leaves it open)."""
    if isinstance(source, Path):
        with av.open(str(source), "r") as container:
            yield container
        return
    with source() as handle, av.open(handle, "r") as container:
        yield container


def name_of(source: ClipSource) -> str:
    """What to call a clip in messages."""
    return str(source) if isinstance(source, Path) else getattr(source, "name", "the clip")


class VisionTimeout(SourceTimeout):
    """Scanning, redacting or checking a clip took longer than its time budget."""


class Clock:
    """The time budget of one clip's processing: ``tick`` raises VisionTimeout once spent."""

    def __init__(self, what: str, budget_s: float | None) -> None:
        self._what, self._budget = what, budget_s
        self._start = time.monotonic()

    def tick(self, step: str) -> None:
        """Raises VisionTimeout if the budget is spent."""
        if self._budget is not None and time.monotonic() - self._start > self._budget:
            raise VisionTimeout(f"{self._what}: {step} ran past its {self._budget:g} s budget")


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """One decoded frame: its index in the clip, timing in the stream's time base, and image."""

    index: int
    pts: int
    time_base: Fraction
    key: bool
    image: BGRImage

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a clip's video stream declares: size, frame rate and time base."""

    width: int
    height: int
    rate: Fraction
    time_base: Fraction


def probe(path: ClipSource) -> VideoInfo:
    """The first video stream's size, rate and time base (SourceUnreadable if there is none)."""
    try:
        with _open(path) as container:
            if not container.streams.video:
                raise SourceUnreadable(f"{name_of(path)} has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(25)
            return VideoInfo(
                int(stream.codec_context.width),
                int(stream.codec_context.height),
                Fraction(rate),
                Fraction(stream.time_base or Fraction(1, 90000)),
            )
    except (av.error.FFmpegError, OSError) as error:
        raise SourceUnreadable(f"{name_of(path)} is not a readable video: {error}") from error


def _declared_end(stream: av.video.stream.VideoStream, container: InputContainer) -> float | None:
    """The stream's duration in seconds as the container declares it (None if it does not)."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _check_complete(
    what: str, count: int, declared: int, end: float | None, decoded_end: float, rate: Fraction
) -> None:
    """SourceUnreadable unless every frame the container declares was decoded.

    A file cut short still demuxes without an error up to the cut; publishing the part that
    decoded would share a clip the owner never saw in that form (and hide where it ends).
    """
    if declared and count < declared:
        raise SourceUnreadable(
            f"{what}: only {count} of the {declared} frames it declares could be decoded "
            "(the file is truncated or damaged)"
        )
    # Containers that declare no frame count (Matroska, MPEG-TS) still declare a duration.
    slack = 2 / float(rate) + 0.01 * (end or 0.0)
    if end is not None and decoded_end + slack < end:
        raise SourceUnreadable(
            f"{what}: frames decoded up to {decoded_end:.2f} s of the {end:.2f} s it declares "
            "(the file is truncated or damaged)"
        )


def read_frames(path: ClipSource) -> Iterator[DecodedFrame]:
    """Every frame of the first video stream in presentation order, as BGR images.

    Strict: any decoder error, a corrupt packet, or fewer frames (or seconds) than the container
    declares raises SourceUnreadable, after the frames before it were yielded. Callers that
    publish what they read must therefore finish reading before they publish.
    """
    info = probe(path)
    step = max(1, round(1 / (info.rate * info.time_base)))  # pts step when frames carry none
    count = 0
    what = name_of(path)
    try:
        with _open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            # Without "explode" the H.264 decoder conceals damaged macroblocks and goes on.
            stream.codec_context.options = {"err_detect": "explode"}
            declared, end = int(stream.frames or 0), _declared_end(stream, container)
            first: int | None = None
            last = 0
            for packet in container.demux(stream):
                if packet.is_corrupt:
                    raise SourceUnreadable(f"{what}: a corrupt packet after {count} frames")
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else count * step
                    first = pts if first is None else min(first, pts)
                    last = max(last, pts)
                    image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
                    yield DecodedFrame(
                        count, int(pts), info.time_base, bool(frame.key_frame), image
                    )
                    count += 1
    except (av.error.FFmpegError, OSError) as error:
        raise SourceUnreadable(f"{what}: decoding failed after {count} frames: {error}") from error
    if count == 0:
        raise SourceUnreadable(f"{what} has no decodable video frames")
    decoded_end = float((last - (first or 0)) * info.time_base) + 1 / float(info.rate)
    _check_complete(what, count, declared, end, decoded_end, info.rate)


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """One packet of the redacted output as it is muxed (``extradata``: the stream's headers)."""

    data: bytes
    pts: int | None
    dts: int | None
    extradata: bytes | None


class OutputDecoder:
    """Decodes the redacted output's packets as they are made: the same frames, bit for bit, as
    decoding the finished file (the same H.264 stream), without reading it back."""

    def __init__(self, extradata: bytes | None, time_base: Fraction) -> None:
        self._codec = av.CodecContext.create("h264", "r")
        if extradata:
            self._codec.extradata = extradata
        self._time_base = time_base
        self.frames = 0

    def decode(self, packet: EncodedPacket | None) -> list[DecodedFrame]:
        """The frames this packet completes (``None`` flushes the decoder at the end)."""
        raw = None
        if packet is not None:
            raw = av.Packet(packet.data)
            raw.pts, raw.dts, raw.time_base = packet.pts, packet.dts, self._time_base
        try:
            decoded = self._codec.decode(raw)
        except av.error.FFmpegError as error:
            raise StoreError(f"the redacted output does not decode: {error}") from error
        out = []
        for frame in decoded:
            image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
            pts = int(frame.pts) if frame.pts is not None else self.frames
            out.append(
                DecodedFrame(self.frames, pts, self._time_base, bool(frame.key_frame), image)
            )
            self.frames += 1
        return out


class RedactedWriter:
    """Encodes frames to ``<target>.part`` as H.264 MP4; ``publish`` renames it to the target.

    With a ``sink`` the MP4 is made in memory instead and ``publish`` hands it to the sink."""

    def __init__(
        self,
        target: Path,
        info: VideoInfo,
        preset: str = "veryfast",
        crf: int = 23,
        threads: int = 0,
        sink: Sink | None = None,
        tap: Callable[[EncodedPacket], None] | None = None,
    ) -> None:
        self.target = target
        #: Given every packet before it is muxed (the pipelined check decodes them).
        self.tap = tap
        self.part = target.with_name(target.name + ".part")
        self._sink = sink
        self._memory = io.BytesIO() if sink is not None else None
        # yuv420p needs even sizes: an odd frame is padded by one black line or column.
        self.width, self.height = info.width + info.width % 2, info.height + info.height % 2
        self.frames = 0
        self._time_base = info.time_base
        try:
            options = {"preset": preset, "crf": str(crf)}
            if self._memory is not None:
                # faststart rewrites the file by its name; in memory the moov simply comes last.
                self._container = av.open(self._memory, "w", format="mp4")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._container = av.open(str(self.part), "w", format="mp4")
                options["movflags"] = "+faststart"
            stream = self._container.add_stream("libx264", rate=info.rate, options=options)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.time_base = info.time_base
            stream.codec_context.thread_count = threads
            self._stream = stream
        except (av.error.FFmpegError, OSError) as error:
            self._remove_part()
            raise StoreError(f"cannot write a redacted clip at {self.part}: {error}") from error

    def write(self, image: BGRImage, pts: int) -> None:
        """Encodes one frame at ``pts`` (in the source's time base)."""
        if image.shape[1] != self.width or image.shape[0] != self.height:
            padded = np.zeros((self.height, self.width, 3), np.uint8)
            padded[: image.shape[0], : image.shape[1]] = image
            image = padded
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts, frame.time_base = pts, self._time_base
        self._mux(frame)
        self.frames += 1

    def finish(self) -> ClipSource:
        """Flushes the encoder and closes the output; returns where to read it back from (the
        ``.part`` file, or an opener of the bytes in memory): not published yet."""
        self._mux(None)
        try:
            self._container.close()
            if self._memory is not None:
                data = self._memory.getvalue()
                return lambda: io.BytesIO(data)
            with self.part.open("rb") as handle:
                os.fsync(handle.fileno())
        except (av.error.FFmpegError, OSError) as error:
            self.discard()
            raise StoreError(f"cannot finish the redacted clip {self.part}: {error}") from error
        return self.part

    def publish(self) -> Path:
        """Renames the finished ``.part`` file to the target (or hands the bytes to the sink)."""
        try:
            if self._sink is not None and self._memory is not None:
                data, self._memory = self._memory.getvalue(), None
                return self._sink(self.target, data)
            os.replace(self.part, self.target)
        except (OSError, StoreError) as error:
            self.discard()
            raise StoreError(f"cannot publish the redacted clip {self.target}: {error}") from error
        return self.target

    def discard(self) -> None:
        """Closes (if still open) and removes the ``.part`` file."""
        # The file goes anyway; a close error must not hide the error that led here.
        with contextlib.suppress(av.error.FFmpegError, OSError):
            self._container.close()
        self._memory = None
        self._remove_part()

    def _mux(self, frame: av.VideoFrame | None) -> None:
        try:
            for packet in self._stream.encode(frame):
                if self.tap is not None:
                    extradata = self._stream.codec_context.extradata
                    self.tap(EncodedPacket(bytes(packet), packet.pts, packet.dts, extradata))
                self._container.mux(packet)
        except (av.error.FFmpegError, OSError) as error:
            self.discard()
            raise StoreError(f"encoding the redacted clip {self.part} failed: {error}") from error

    def _remove_part(self) -> None:
        # Not there at all (its directory could not be made) is as good as removed.
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self.part.unlink()
