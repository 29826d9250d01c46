"""The two stand-ins the share checks' tests may use: a scripted positive scan (no real
intimate footage can be used) and a redactor that redacts nothing (to prove the check refuses)."""

from __future__ import annotations

from collections.abc import Mapping

from hearthcam.types import BGRImage, Detections
from hearthcam.vision.redact import Redactor


class Positive:
    """A fake scorer that scores every frame as certainly intimate (scripted positive)."""

    name = "scripted"
    thresholds: Mapping[str, float] = {"X": 0.5}

    def score(self, image: BGRImage) -> Mapping[str, float]:
        return {"X": 0.99}


class NoRedaction(Redactor):
    """Leaves every frame as it was."""

    def redact(self, frame: BGRImage, faces: Detections, bodies: Detections) -> BGRImage:
        return frame
