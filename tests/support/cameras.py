"""A camera listener that remembers what the registry told it (what the runtime would do)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearthcam.config import CameraConfig


@dataclass
class ToldCameras:
    """``CameraListener``: every ``camera_changed`` and ``geometry_changed``, in order."""

    cameras: list[tuple[str, CameraConfig | None]] = field(default_factory=list)
    geometries: list[tuple[str, CameraConfig]] = field(default_factory=list)

    def camera_changed(self, name: str, camera: CameraConfig | None) -> None:
        self.cameras.append((name, camera))

    def geometry_changed(self, name: str, camera: CameraConfig) -> None:
        self.geometries.append((name, camera))
