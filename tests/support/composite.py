"""Frames made of real pictures: a real face (scikit-image's astronaut) put into a real empty
scene (vtest.avi's walkway, upscaled) at a chosen size and place, with where it truly is.

The face's ground truth is known because it is pasted: a test can ask whether the pixels of
the face were hidden without trusting the face detector it is testing.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hearthcam import scenes
from hearthcam.types import BGRImage
from hearthcam_bench.redact import skimage_photo
from tests.support.required import require

HD = (1280, 720)
#: The astronaut's face in skimage's 512x512 photo (CenterFace finds it at 0.93 there).
FACE = (181, 58, 270, 178)


@dataclass(frozen=True)
class Placed:
    """A frame with a pasted face, and the face's box (xyxy) clipped to the frame."""

    image: BGRImage
    face: tuple[int, int, int, int]


def face_patch(width: int) -> tuple[BGRImage, tuple[int, int, int, int]]:
    """The astronaut's face with a third of a face of margin, scaled so the face is ``width``
    px wide; the face's box inside the patch."""
    photo = skimage_photo("astronaut")
    x0, y0, x1, y1 = FACE
    mx, my = (x1 - x0) // 3, (y1 - y0) // 3
    crop = photo[y0 - my : y1 + my, x0 - mx : x1 + mx]
    s = width / (x1 - x0)
    patch = np.asarray(cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA), np.uint8)
    return patch, (
        round(mx * s),
        round(my * s),
        round((mx + x1 - x0) * s),
        round((my + y1 - y0) * s),
    )


def background(size: tuple[int, int] = HD) -> BGRImage:
    """vtest.avi's empty walkway (a real fixed-camera scene) at ``size``."""
    require(scenes.VTEST.is_file(), f"{scenes.VTEST} is missing (Debian opencv-doc)")
    return np.asarray(cv2.resize(scenes.empty_walkway(), size), np.uint8)


def paste(image: BGRImage, patch: BGRImage, x: int, y: int) -> BGRImage:
    """``patch`` with its top-left at (x, y) in a copy of ``image``, cut by the frame's edges."""
    out = image.copy()
    h, w = patch.shape[:2]
    X0, Y0 = max(0, x), max(0, y)
    X1, Y1 = min(out.shape[1], x + w), min(out.shape[0], y + h)
    out[Y0:Y1, X0:X1] = patch[Y0 - y : Y1 - y, X0 - x : X1 - x]
    return out


def place_face(image: BGRImage, width: int, x: int, y: int) -> Placed:
    """A face ``width`` px wide whose box starts at (x, y) in a copy of ``image``."""
    patch, (fx0, fy0, fx1, fy1) = face_patch(width)
    out = paste(image, patch, x - fx0, y - fy0)
    H, W = image.shape[:2]
    box = (max(0, x), max(0, y), min(W, x + fx1 - fx0), min(H, y + fy1 - fy0))
    return Placed(out, box)


def at_edge(image: BGRImage, width: int, inside: float, side: str, y: int = 300) -> Placed:
    """A face ``width`` px wide with only ``inside`` of its width inside the frame's ``side``
    ("left" or "right") edge."""
    W = image.shape[1]
    shown = round(inside * width)
    x = W - shown if side == "right" else shown - width
    return place_face(image, width, x, y)
