"""Files whose video recording cannot copy: what an MP4 cannot hold, re-encoded to H.264.

Recording copies a camera's packets into fragmented MP4 without re-encoding. Cameras send
H.264, H.265, MJPEG or MPEG-4 part 2, all of which an MP4 holds; old files given to ``analyze``
may carry codecs it cannot (vtest.avi's MS-MPEG-4, tree.avi's Cinepak). Such a file is
re-encoded once, frame for frame at its own timestamps, before it is analysed, so its events get
clips like any camera's; without this no segment was ever written and every clip failed.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import av.error

from hearthcam.errors import SourceUnreadable

#: What the copy is encoded with: fast, visually lossless enough to review, a keyframe a second
#: (segments are cut at keyframes), no B-frames (pts = dts, as the recorder expects of files).
H264_OPTIONS = {"preset": "veryfast", "crf": "20", "bf": "0"}


def mp4_can_hold(path: str) -> bool:
    """Whether the first video stream of ``path`` can be copied into an MP4 as it is."""
    with av.open(path) as source:
        stream = source.streams.video[0]
        with av.open(io.BytesIO(), "w", format="mp4") as probe:
            try:
                probe.add_stream_from_template(stream, opaque=True)
            except (ValueError, av.error.FFmpegError):
                return False
    return True


def codec_name(path: str) -> str:
    """The name of the first video stream's codec, for messages."""
    with av.open(path) as source:
        return str(source.streams.video[0].codec_context.name)


def h264_copy(source: str, dest: Path, progress: Callable[[float], None] | None = None) -> Path:
    """Re-encodes the first video stream of ``source`` into an H.264 MP4 at ``dest``, every
    frame at its own timestamp; returns ``dest``.

    Raises:
        SourceUnreadable: the source could not be decoded (``dest`` is removed).
    """
    try:
        with av.open(source) as src, av.open(str(dest), "w", format="mp4") as out:
            video = src.streams.video[0]
            rate = video.average_rate or video.guessed_rate or Fraction(25)
            base = video.time_base or Fraction(1, 90_000)
            total = float(video.duration * base) if video.duration else None
            stream = out.add_stream("libx264", rate=rate)
            stream.width = video.codec_context.width
            stream.height = video.codec_context.height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = base
            stream.codec_context.gop_size = max(1, round(rate))
            stream.options = dict(H264_OPTIONS)
            for number, frame in enumerate(src.decode(video)):
                copy = frame.reformat(format="yuv420p")
                copy.pts = number if frame.pts is None else frame.pts
                copy.time_base = base
                out.mux(stream.encode(copy))
                if progress is not None and total and frame.pts is not None:
                    progress(min(1.0, float(frame.pts * base) / total))
            out.mux(stream.encode(None))
    except (av.error.FFmpegError, ValueError, OSError) as error:
        dest.unlink(missing_ok=True)
        raise SourceUnreadable(f"{source}: could not re-encode to H.264: {error}") from error
    return dest
