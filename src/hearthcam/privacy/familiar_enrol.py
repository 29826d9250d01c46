"""Enrolling from a picture: an event's snapshot or a photo the owner uploaded.

The largest face in the picture is taken (at least ``MIN_ENROL_FACE`` pixels wide: a face too
small to describe well would make a poor reference), described, and a JPEG crop around it kept
as "the photo used" (sealed with the descriptor). The models load at the first enrolment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import cv2
import numpy as np

from hearthcam.privacy.familiar import FamiliarError, NewFace
from hearthcam.types import BGRImage
from hearthcam.vision.faces import FaceDetector
from hearthcam.vision.familiar import FaceDescriber

MIN_ENROL_FACE = 40
MAX_PICTURE_SIDE = 4096
CROP_MARGIN = 0.3
PHOTO_SIDE = 160

Models = Callable[[], tuple[FaceDetector, FaceDescriber]]


def decode_picture(data: bytes) -> BGRImage:
    """A JPEG or PNG as a BGR image; FamiliarError for anything else or too large."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FamiliarError("the photo is not a JPEG or PNG picture")
    if max(image.shape[:2]) > MAX_PICTURE_SIDE:
        raise FamiliarError(f"the photo is larger than {MAX_PICTURE_SIDE} pixels")
    return np.asarray(image, np.uint8)


def face_photo(image: BGRImage, box: list[float]) -> bytes:
    """A JPEG of the face with some margin, at most ``PHOTO_SIDE`` pixels."""
    x0, y0, x1, y1 = box
    margin = CROP_MARGIN * max(x1 - x0, y1 - y0)
    h, w = image.shape[:2]
    left, top = max(0, int(x0 - margin)), max(0, int(y0 - margin))
    right, bottom = min(w, int(x1 + margin)), min(h, int(y1 + margin))
    crop = image[top:bottom, left:right]
    scale = min(1.0, PHOTO_SIDE / max(crop.shape[:2]))
    if scale < 1.0:
        crop = np.asarray(
            cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), np.uint8
        )
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise FamiliarError("the face could not be kept as a photo")
    return jpeg.tobytes()


class Enroller:
    """Finds and describes the face to enrol in a picture."""

    def __init__(self, models: Models) -> None:
        self._load = models
        self._models: tuple[FaceDetector, FaceDescriber] | None = None
        self._lock = threading.Lock()

    def face(self, image: BGRImage, source: str) -> NewFace:
        """The picture's largest face, described; FamiliarError when there is none usable."""
        with self._lock:
            if self._models is None:
                self._models = self._load()
            faces, describer = self._models
            found = faces.detect(image, min_face=MIN_ENROL_FACE)
            if not len(found):
                raise FamiliarError("no face was found in the picture")
            widths = found.xyxy[:, 2] - found.xyxy[:, 0]
            best = int(np.argmax(widths))
            if widths[best] < MIN_ENROL_FACE:
                raise FamiliarError(
                    f"the face is too small ({widths[best]:.0f} px; {MIN_ENROL_FACE} needed)"
                )
            box = [float(v) for v in found.xyxy[best]]
            descriptor = describer.describe(image, box)
        return NewFace(descriptor, face_photo(image, box), source)
