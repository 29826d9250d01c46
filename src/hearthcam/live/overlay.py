"""What the live page draws over a camera's picture: the tracked objects and the motion of the
last analysed frame, in relative coordinates (0..1 of the frame).

Neither live stream carries it (the fMP4 is the camera's own H.264, not re-encoded; the MJPEG
is the bare detect frame), and drawing it into the pictures would mean decoding and encoding
every frame. So the analysis thread keeps the newest result here (a few numbers, replaced each
frame) and the page asks for it while its overlay is on. Zones are the camera's geometry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hearthcam.labels import COCO_LABELS
from hearthcam.types import Detections

# How many boxes of each kind are kept (a busy frame is drawn with its biggest ones).
MAX_BOXES = 64

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class OverlayObject:
    """A tracked object: its box (relative xyxy), label, score and track."""

    box: Box
    label: str
    score: float
    track: int


@dataclass(frozen=True, slots=True)
class Overlay:
    """The newest analysed frame's objects and motion, with its wall time and size."""

    at: float
    width: int
    height: int
    objects: tuple[OverlayObject, ...]
    motion: tuple[Box, ...]


def _relative(xyxy: NDArray[np.generic], width: int, height: int) -> list[Box]:
    scale = np.array([width, height, width, height], dtype=np.float64)
    rel = np.clip(np.asarray(xyxy, dtype=np.float64) / scale, 0.0, 1.0).round(4)
    return [(float(a), float(b), float(c), float(d)) for a, b, c, d in rel[:MAX_BOXES]]


def make_overlay(
    at: float, width: int, height: int, tracked: Detections, motion: NDArray[np.int32]
) -> Overlay:
    """The overlay of one analysed frame (``motion``: the motion boxes in pixels, xyxy)."""
    boxes = _relative(tracked.xyxy, width, height)
    objects = tuple(
        OverlayObject(
            box,
            COCO_LABELS[int(cls)] if 0 <= int(cls) < len(COCO_LABELS) else str(int(cls)),
            round(float(score), 3),
            int(track),
        )
        for box, cls, score, track in zip(
            boxes, tracked.class_id, tracked.confidence, tracked.tracker_id, strict=False
        )
    )
    return Overlay(at, width, height, objects, tuple(_relative(motion, width, height)))


class OverlayState:
    """The newest overlay of one camera (written by its analysis thread, read by any)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Overlay | None = None

    def update(self, overlay: Overlay) -> None:
        """Replaces the newest overlay."""
        with self._lock:
            self._latest = overlay

    def latest(self) -> Overlay | None:
        """The newest overlay (None before the first analysed frame)."""
        with self._lock:
            return self._latest
