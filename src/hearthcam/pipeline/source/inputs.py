"""Opening and probing camera inputs: RTSP, HTTP, files and USB (v4l2), with bounded timeouts.

Maps every way an input can fail to ``hearthcam.errors`` with a message that names the input
(passwords redacted) and says what is wrong.
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import av
import av.error

from hearthcam.config import SourceConfig
from hearthcam.errors import (
    SourceError,
    SourceTimeout,
    SourceUnreadable,
    UnsupportedCodec,
)

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

# Demuxers that turn text into "video"; a .txt file must be refused, not played as ANSI art.
TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
# PyAV's ``io_open``: opens each URL a demuxer asks for (the stream, playlists, segments) and
# returns a readable file object; lets a caller decide what an HTTP input may reach.
IoOpen = Callable[[str, int, dict[str, str]], Any]
# Short stream analysis: camera SDPs carry the codec parameters, and every second spent probing
# is a second of video delivered late (and in one burst) after each reconnect.
RTSP_ANALYZE_US = 500_000


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What an input carries: its video codec, size, frame rate and (files only) duration."""

    codec: str
    width: int
    height: int
    fps: float | None
    duration: float | None
    demuxer: str | None = None  # FFmpeg's name for the container format ("mov,mp4,...")


class InputKind(enum.Enum):
    """How an input is reached."""

    FILE = "file"
    RTSP = "rtsp"
    HTTP = "http"
    DEVICE = "device"


def input_kind(url: str) -> InputKind:
    """Classifies a URL or path."""
    lower = url.lower()
    if lower.startswith(("rtsp://", "rtsps://")):
        return InputKind.RTSP
    if lower.startswith(("http://", "https://")):
        return InputKind.HTTP
    if lower.startswith("/dev/video"):
        return InputKind.DEVICE
    return InputKind.FILE


def redact_url(url: str) -> str:
    """Hides the password of ``rtsp://user:pass@host`` so messages and logs never carry it."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _open_options(kind: InputKind, cfg: SourceConfig) -> tuple[dict[str, str], str | None]:
    """Demuxer options and forced format for one kind of input."""
    if kind is InputKind.RTSP:
        return {
            "rtsp_transport": cfg.rtsp_transport,
            # Socket I/O timeout (microseconds) inside the RTSP demuxer, besides av.open's own.
            "timeout": str(int(cfg.read_timeout * 1_000_000)),
            "analyzeduration": str(RTSP_ANALYZE_US),
        }, None
    if kind is InputKind.HTTP:
        return {"rw_timeout": str(int(cfg.read_timeout * 1_000_000))}, None
    if kind is InputKind.DEVICE:
        return {}, "v4l2"
    return {}, None


def _check_file(path: str) -> None:
    """Fails early, with a plain message, for a missing, unreadable or empty file."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise SourceUnreadable(f"{path}: no such file") from None
    except OSError as error:
        raise SourceUnreadable(f"{path}: cannot read ({error.strerror})") from None
    if size == 0:
        raise SourceUnreadable(f"{path}: the file is empty (0 bytes)")


def _map_open_error(
    url: str, kind: InputKind, error: av.error.FFmpegError, elapsed: float, cfg: SourceConfig
) -> SourceError:
    """Turns an FFmpeg open failure into the matching SourceError with a readable message."""
    name = redact_url(url)
    reason = error.strerror or type(error).__name__
    # The RTSP demuxer reports an interrupted (timed out) open as invalid data, so elapsed time
    # is the reliable sign that nothing answered.
    timed_out = isinstance(error, av.error.ExitError | av.error.TimeoutError)
    if timed_out or (kind is not InputKind.FILE and elapsed >= 0.9 * cfg.connect_timeout):
        return SourceTimeout(f"{name}: no answer within {cfg.connect_timeout:g} s")
    if isinstance(error, av.error.DecoderNotFoundError | av.error.PatchWelcomeError):
        return UnsupportedCodec(f"{name}: unsupported format or codec ({reason})")
    if kind is InputKind.FILE:
        if isinstance(error, av.error.FileNotFoundError):
            return SourceUnreadable(f"{name}: no such file")
        return SourceUnreadable(
            f"{name}: not a readable video (corrupt, truncated or not a video file: {reason})"
        )
    return SourceError(f"{name}: cannot open ({reason})")


def _video_stream(container: InputContainer, url: str) -> VideoStream:
    """The first video stream, or the reason there is none we can decode."""
    name = redact_url(url)
    if not container.streams.video:
        found = ", ".join(f"{s.type} {_codec_name(s)}" for s in container.streams) or "nothing"
        raise UnsupportedCodec(f"{name}: no video stream (found {found})")
    stream = container.streams.video[0]
    codec = _codec_name(stream)
    if codec in TEXT_CODECS:
        raise SourceUnreadable(f"{name}: this is text, not a video")
    if stream.codec_context is None:
        raise UnsupportedCodec(f"{name}: no decoder for video codec {codec!r}")
    return stream


def _codec_name(stream: av.stream.Stream) -> str:
    """The codec name of any stream, even one without a decoder."""
    context = stream.codec_context
    return context.name if context is not None else "unknown"


def open_input(url: str, cfg: SourceConfig, *, io_open: IoOpen | None = None) -> InputContainer:
    """Opens a URL, file or /dev/videoN for reading in bounded time; raises a SourceError.

    ``io_open`` (HTTP inputs) replaces FFmpeg's own I/O for every URL the demuxer opens."""
    kind = input_kind(url)
    if kind is InputKind.FILE:
        _check_file(url)
    options, fmt = _open_options(kind, cfg)
    started = time.monotonic()
    try:
        container = av.open(
            url,
            "r",
            format=fmt,
            options=options,
            timeout=(cfg.connect_timeout, cfg.read_timeout),
            io_open=io_open,
        )
    except av.error.FFmpegError as error:
        raise _map_open_error(url, kind, error, time.monotonic() - started, cfg) from None
    try:
        _video_stream(container, url)
    except SourceError:
        container.close()
        raise
    return container


def stream_info(container: InputContainer, stream: VideoStream) -> StreamInfo:
    """Describes an opened video stream without decoding it."""
    rate = stream.average_rate or stream.guessed_rate
    duration = None
    if container.duration is not None and container.duration > 0:
        duration = container.duration / av.time_base
    return StreamInfo(
        codec=_codec_name(stream),
        width=stream.codec_context.width,
        height=stream.codec_context.height,
        fps=float(rate) if rate else None,
        duration=duration,
        demuxer=container.format.name,
    )


def probe(
    url: str, cfg: SourceConfig, max_packets: int = 300, *, io_open: IoOpen | None = None
) -> StreamInfo:
    """Opens an input and decodes its first frame, so a bad input fails early and clearly."""
    container = open_input(url, cfg, io_open=io_open)
    try:
        stream = container.streams.video[0]
        frame = _first_frame(container, stream, url, max_packets)
        info = stream_info(container, stream)
        return replace(info, width=frame.width, height=frame.height)
    finally:
        container.close()


def _first_frame(
    container: InputContainer, stream: VideoStream, url: str, max_packets: int
) -> VideoFrame:
    """Decodes until one frame comes out, or explains why none does."""
    name = redact_url(url)
    problem = "the input ended"
    try:
        for count, packet in enumerate(container.demux(stream)):
            if count >= max_packets:
                problem = f"{max_packets} packets gave no frame"
                break
            try:
                frames = packet.decode()
            except av.error.FFmpegError as error:
                problem = f"the data is corrupt ({error.strerror})"
                continue
            if frames:
                return frames[0]
    except av.error.FFmpegError as error:
        problem = f"reading failed ({error.strerror})"
    raise SourceUnreadable(f"{name}: no video frame could be decoded: {problem}")


# --- pure pieces: backoff, connection states, frame sampling ---------------------------------


def is_live(url: str) -> bool:
    """Whether an input is a live source (reconnects) rather than a file (ends)."""
    return input_kind(url) is not InputKind.FILE
