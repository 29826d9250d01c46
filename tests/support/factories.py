"""Test data builders: tiny H.264 segments with the frame number drawn into every frame.

The frame number is written twice: as text for a human looking at the file, and as a row of
black/white cells (one bit each) that ``read_frame_number`` decodes after compression, so tests
can check that a clip's frames are continuous without OCR.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from hearthcam.layout import segment_path
from hearthcam.types import BGRImage, Segment

BITS = 16
CELL_HEIGHT = 16


def draw_frame_number(number: int, size: tuple[int, int]) -> BGRImage:
    """Returns a BGR frame of ``size`` (width, height) encoding ``number``."""
    width, height = size
    image = np.full((height, width, 3), 96, dtype=np.uint8)
    # A moving bar gives the encoder real motion to code, like a camera would.
    x = (number * 3) % width
    image[CELL_HEIGHT + 4 :, x : x + 8] = (40, 160, 220)
    cell = width // BITS
    for bit in range(BITS):
        on = (number >> (BITS - 1 - bit)) & 1
        image[:CELL_HEIGHT, bit * cell : (bit + 1) * cell] = 255 if on else 0
    cv2.putText(
        image, str(number), (4, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1
    )
    return image


def read_frame_number(image: BGRImage) -> int:
    """Decodes the number that ``draw_frame_number`` drew into a (possibly compressed) frame."""
    cell = image.shape[1] // BITS
    grey = image[:CELL_HEIGHT].mean(axis=2)
    number = 0
    for bit in range(BITS):
        centre = grey[4 : CELL_HEIGHT - 4, bit * cell + 2 : (bit + 1) * cell - 2]
        number = (number << 1) | int(centre.mean() > 128)
    return number


def make_h264_segment(
    path: Path,
    seconds: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    gop: int | None = None,
    start_frame_number: int = 0,
    bframes: int = 0,
) -> int:
    """Writes an H.264 MP4 of numbered frames, a keyframe every ``gop``; returns the frame count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keyint = gop or fps
    count = round(seconds * fps)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes={bframes}",
                "crf": "18",
                "preset": "ultrafast",
            },
        )
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(
                draw_frame_number(start_frame_number + i, size), format="bgr24"
            )
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return count


def make_segments(
    recordings_dir: Path,
    camera: str,
    start_wall: float,
    count: int,
    seconds: float = 2.0,
    fps: int = 10,
    skip: frozenset[int] = frozenset(),
    bframes: int = 0,
) -> list[Segment]:
    """Writes ``count`` back-to-back segments in the recorder's layout; ``skip`` leaves gaps.

    Segment ``i`` starts at ``start_wall + i * seconds`` and its first frame is numbered
    ``i * seconds * fps``, so frame numbers equal media time in frames since ``start_wall``.
    """
    segments = []
    per_segment = round(seconds * fps)
    for i in range(count):
        if i in skip:
            continue
        start = start_wall + i * seconds
        path = segment_path(recordings_dir, camera, start)
        make_h264_segment(path, seconds, fps, start_frame_number=i * per_segment, bframes=bframes)
        segments.append(Segment(camera, path, start, start + seconds))
    return segments


def decode_frame_numbers(path: Path) -> list[int]:
    """Decodes every frame of a video file and reads its drawn number."""
    with av.open(str(path)) as container:
        return [
            read_frame_number(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
            for frame in container.decode(video=0)
        ]
