"""Zones: named polygons on a camera's frame, and which of them each detection stands in."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam.config import ZoneConfig
from hearthcam.labels import label_of
from hearthcam.types import Detections


@dataclass(frozen=True)
class Zone:
    """A polygon in frame pixels, optionally limited to some labels."""

    name: str
    polygon: NDArray[np.float32]
    objects: frozenset[str]

    def contains(self, x: float, y: float) -> bool:
        """True if the point lies inside or on the edge of the polygon."""
        return cv2.pointPolygonTest(self.polygon, (x, y), False) >= 0


def build_zones(zones: dict[str, ZoneConfig], width: int, height: int) -> list[Zone]:
    """Scales configured zones (relative coordinates) to a frame size."""
    scale = np.array([width - 1, height - 1], dtype=np.float32)
    return [
        Zone(name, np.array(z.coordinates.points, dtype=np.float32) * scale, frozenset(z.objects))
        for name, z in zones.items()
    ]


def zones_hit(zones: list[Zone], detections: Detections) -> list[frozenset[str]]:
    """For each detection, the zones its bottom centre (where it stands) is in."""
    result: list[frozenset[str]] = []
    for box, class_id in zip(detections.xyxy, detections.class_id, strict=True):
        foot_x, foot_y = float(box[0] + box[2]) / 2, float(box[3])
        label = label_of(int(class_id))
        result.append(
            frozenset(
                z.name
                for z in zones
                if (not z.objects or label in z.objects) and z.contains(foot_x, foot_y)
            )
        )
    return result
