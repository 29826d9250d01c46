"""Real files of the kinds ``analyze`` must refuse or read with care, made here with PyAV and
OpenCV: a still image, a video of a few pixels, a recording cut short, a timestamp leap."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.stream import VideoStream

from hearthcam import mp4

TEN_HOURS = 10 * 3600.0


def still_jpeg(path: Path, size: tuple[int, int] = (320, 240)) -> Path:
    """A JPEG photo (FFmpeg opens it as a one-frame video)."""
    image = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.rectangle(image, (40, 40), (120, 200), (255, 255, 255), -1)
    assert cv2.imwrite(str(path), image)
    return path


def write_video(
    path: Path,
    frames: int = 60,
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    leap: tuple[int, float] | None = None,
    codec: str = "libx264",
    in_band: bool = False,
) -> Path:
    """A video of a white block moving over grey; ``leap=(after, seconds)`` makes every frame
    after frame ``after`` stamped ``seconds`` later (a recorder restarted, files joined);
    ``in_band`` repeats the H.264 parameter sets before each keyframe, as camera streams do."""
    width, height = size
    with av.open(str(path), "w") as container:
        options = {"x264-params": f"repeat-headers=1:keyint={fps}"} if in_band else {}
        stream = container.add_stream(codec, rate=fps, options=options)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(frames):
            image = np.full((height, width, 3), 90, np.uint8)
            side = max(1, width // 8)
            x = (i * max(1, width // 40)) % max(1, width - side)
            image[height // 3 : height // 3 + side, x : x + side] = 250
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            shift = round(leap[1] * fps) if leap is not None and i > leap[0] else 0
            frame.pts, frame.time_base = i + shift, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def cut(source: Path, target: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``source``'s bytes: a recording killed mid-write."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def before_index(source: Path, target: Path) -> Path:
    """``source`` cut just before its index (moov): every frame is there, nothing says where."""
    with open(source, "rb") as file:
        moov = next(box for box in mp4.boxes(file) if box.type == "moov")
    target.write_bytes(source.read_bytes()[: moov.start])
    return target


def index_last(path: Path) -> bool:
    """Whether an MP4's index (moov) follows its media (mdat), as FFmpeg writes by default."""
    with open(path, "rb") as file:
        kinds = [box.type for box in mp4.boxes(file)]
    return kinds.index("mdat") < kinds.index("moov")
