"""An independent face detector, to count what redaction left: a measuring instrument, not a part.

The share pipeline finds faces with CenterFace and checks its own output with CenterFace again;
a second opinion from the same model shares its blind spots. ``DlibHog`` is dlib's HOG + linear
SVM frontal face detector (``dlib.get_frontal_face_detector()``, from the ``dlib-bin`` wheel,
Boost Software License 1.0; no model file), a different method trained on different data. It
finds frontal faces of about 80 px at upsample 0; each upsample doubles the image, so at the
default upsample 1 the smallest face it resolves is about 40 px (frame pixels). It lives in the
bench package: the product never imports it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from hearthcam.errors import ModelError
from hearthcam.types import BGRImage
from hearthcam.vision.media import read_frames

#: dlib's HOG detector finds faces of about 80 px at upsample 0, 40 px at upsample 1.
SMALLEST_AT_UPSAMPLE = {0: 80, 1: 40, 2: 20}


@dataclass(frozen=True, slots=True)
class FaceHit:
    """One face the independent detector found: frame index, box (x0, y0, x1, y1), score."""

    frame: int
    box: tuple[int, int, int, int]
    score: float

    def describe(self) -> str:
        x0, y0, x1, y1 = self.box
        return f"frame {self.frame} x {x0}-{x1} y {y0}-{y1} ({x1 - x0} px, {self.score:.2f})"


class FaceCounter(Protocol):
    """Finds faces in a BGR frame, independently of the project's own face detector."""

    name: str
    smallest_face: int

    def faces(self, image: BGRImage, frame: int = 0) -> list[FaceHit]:
        """Every face found in ``image``, tagged with ``frame``."""
        ...


class DlibHog:
    """dlib's HOG frontal face detector at ``upsample`` and an SVM score over ``threshold``."""

    def __init__(self, upsample: int = 1, threshold: float = 0.0) -> None:
        try:  # imported here: only the bench needs it, and it is in the dev extra only
            import dlib
        except ImportError as e:
            raise ModelError("dlib is missing: pip install dlib-bin (hearthcam's dev extra)") from e
        self.upsample = upsample
        self.threshold = threshold
        self.smallest_face = SMALLEST_AT_UPSAMPLE.get(upsample, 20)
        self.name = f"dlib {dlib.__version__} HOG frontal, upsample {upsample}"
        self._detector = dlib.get_frontal_face_detector()

    def faces(self, image: BGRImage, frame: int = 0) -> list[FaceHit]:
        rgb = np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        rects, scores, _ = self._detector.run(rgb, self.upsample, self.threshold)
        height, width = image.shape[:2]
        return [
            FaceHit(
                frame,
                (max(0, r.left()), max(0, r.top()), min(width, r.right()), min(height, r.bottom())),
                float(s),
            )
            for r, s in zip(rects, scores, strict=True)
        ]


def clip_faces(counter: FaceCounter, path: Path, stride: int = 1) -> Iterator[FaceHit]:
    """Every face ``counter`` finds on every ``stride``-th frame of the clip at ``path``."""
    for frame in read_frames(path):
        if frame.index % stride == 0:
            yield from counter.faces(frame.image, frame.index)


def save_crops(path: Path, hits: list[FaceHit], folder: Path, margin: float = 0.5) -> list[Path]:
    """Writes each hit's box (with ``margin`` of its size around) as a PNG, for a reader to look."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {h.frame for h in hits}
    written: list[Path] = []
    for frame in read_frames(path):
        if frame.index not in wanted:
            continue
        h, w = frame.image.shape[:2]
        for i, hit in enumerate(x for x in hits if x.frame == frame.index):
            x0, y0, x1, y1 = hit.box
            mx, my = round((x1 - x0) * margin), round((y1 - y0) * margin)
            crop = frame.image[max(0, y0 - my) : min(h, y1 + my), max(0, x0 - mx) : min(w, x1 + mx)]
            out = folder / f"{path.stem}-f{frame.index:04d}-{i}.png"
            cv2.imwrite(str(out), crop)
            written.append(out)
    return written
