"""The second check: the face detector over every frame of a redacted clip, as encoded.

It runs below the redaction's threshold and at a resolution that resolves ``SMALLEST_FACE``:
the face detector's input is scaled no smaller than that face's size allows (for CenterFace a
24 px face must be 20 px at its input, so a 1280x720 frame is checked at 0.83 of its size
instead of the 0.5 the redaction's whole-frame pass uses). Frames up to ``TILE`` px are checked
whole: a fully convolutional model on the whole frame is the limit of tiles with full overlap.
Larger frames are checked in tiles of ``TILE`` px at that scale, overlapping by ``OVERLAP`` px so
that a face up to that size is whole in one tile; larger faces are whole in the downscaled whole
frame, which is checked too. What it finds is kept per frame, so the redactor can hide it and
check again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hearthcam.pipeline.detect import nms
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.faces import FaceDetector
from hearthcam.vision.media import ClipSource, Clock, read_frames

#: The smallest face (frame pixels, width) the check is built to find, and the redaction with it.
SMALLEST_FACE = 24
TILE = 1920
OVERLAP = 256


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The second check: output frames looked at and faces the detector still found there.

    ``best_*`` say where the highest-scoring finding was (frame index, score, box xyxy in frame
    pixels), so an owner told "faces remain" can be told what was found.
    """

    frames_checked: int
    frames_with_faces: int
    faces: int
    max_score: float
    first_frame: int | None
    best_frame: int | None = None
    best_box: tuple[float, float, float, float] | None = None

    @property
    def passed(self) -> bool:
        return self.faces == 0

    def describe(self) -> str:
        """The best finding in words (empty when nothing was found)."""
        if self.best_frame is None or self.best_box is None:
            return ""
        x0, y0, x1, y1 = (round(v) for v in self.best_box)
        return (
            f"best score {self.max_score:.2f} on frame {self.best_frame}, "
            f"box x {x0}-{x1}, y {y0}-{y1} ({x1 - x0}x{y1 - y0} px)"
        )


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    count = int(np.ceil((length - overlap) / (tile - overlap)))
    step = (length - tile) / (count - 1)
    return [round(i * step) for i in range(count)]


def find_faces(
    faces: FaceDetector, image: BGRImage, threshold: float, min_face: float = SMALLEST_FACE
) -> Detections:
    """Faces in ``image`` down to ``min_face`` px: whole, or in overlapping tiles if large."""
    height, width = image.shape[:2]
    if max(width, height) <= TILE:
        return faces.detect(image, threshold, min_face)
    parts = [faces.detect(image, threshold)]  # the large faces, whole at the default scale
    for y in _starts(height, TILE, OVERLAP):
        for x in _starts(width, TILE, OVERLAP):
            found = faces.detect(image[y : y + TILE, x : x + TILE], threshold, min_face)
            shift = np.array([x, y, x, y], np.float32)
            parts.append(Detections(found.xyxy + shift, found.confidence, found.class_id))
    merged = Detections.merge([Detections(p.xyxy, p.confidence, p.class_id) for p in parts])
    return nms(merged, 0.3)


def check_frames(
    path: ClipSource,
    faces: FaceDetector,
    threshold: float,
    stride: int = 1,
    clock: Clock | None = None,
    min_face: float = SMALLEST_FACE,
) -> tuple[CheckReport, dict[int, Detections]]:
    """Runs the face check over a clip; the report and what it found, by frame index."""
    checked = with_faces = found = 0
    best, first, best_frame, best_box = 0.0, None, None, None
    residual: dict[int, Detections] = {}
    # On a stride, frames between the redaction pass's detections are the ones checked: those
    # are covered by interpolation only, where a face is likeliest to slip through.
    offset = 1 if stride > 1 else 0
    for frame in read_frames(path):
        if (frame.index - offset) % stride:
            continue
        if clock:
            clock.tick("the face check")
        dets = find_faces(faces, frame.image, threshold, min_face)
        checked += 1
        if len(dets):
            residual[frame.index] = dets
            with_faces += 1
            found += len(dets)
            top = int(np.argmax(dets.confidence))
            if best_frame is None or float(dets.confidence[top]) > best:
                best, best_frame = float(dets.confidence[top]), frame.index
                x0, y0, x1, y1 = (float(v) for v in dets.xyxy[top])
                best_box = (x0, y0, x1, y1)
            first = frame.index if first is None else first
    return CheckReport(checked, with_faces, found, best, first, best_frame, best_box), residual


def check_clip(
    path: ClipSource,
    faces: FaceDetector,
    threshold: float,
    stride: int = 1,
    clock: Clock | None = None,
    min_face: float = SMALLEST_FACE,
) -> CheckReport:
    """Runs the face detector over a clip's frames and counts what it finds."""
    return check_frames(path, faces, threshold, stride, clock, min_face)[0]
