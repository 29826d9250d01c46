"""Cameras an owner added or edited in the app, stored next to the config's.

The config file holds the cameras the installer wrote; this module holds what owners changed
from the Settings page: a camera they added (its key is made here, ``cam-`` and 8 random hex
digits, so a key never tells one household that another has a camera of that name), or the
display name, stream URLs and on/off switch of any camera. A stored entry overrides the config's
fields it names and keeps the rest (detection, motion, zones, objects) from the config.

``camera_registry.CameraRegistry`` resolves the cameras the runtime runs from the config's and
these entries (an entry that no longer validates is skipped and logged there, never fatal).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from hearthcam.config import CameraConfig, InputConfig
from hearthcam.store.settings import SettingsStore

log = logging.getLogger(__name__)

_PREFIX = "cameras/"
_INDEX = "cameras"


@dataclass(frozen=True, slots=True)
class CameraEntry:
    """What the app stores for one camera: the fields an owner edits."""

    name: str  # display name
    record_url: str | None  # main stream, recorded by copy (None: the detect stream records)
    detect_url: str  # analysed stream (the main stream when the camera has only one)
    enabled: bool = True

    def inputs(self) -> list[InputConfig]:
        """The camera's inputs: one stream with both roles, or a main and a sub-stream."""
        if self.record_url is None or self.record_url == self.detect_url:
            return [InputConfig(path=self.detect_url)]
        return [
            InputConfig(path=self.record_url, roles=["record"]),
            InputConfig(path=self.detect_url, roles=["detect"]),
        ]

    def applied(self, base: CameraConfig | None) -> CameraConfig:
        """The camera config with this entry's fields over ``base`` (a new camera: defaults)."""
        if base is None:
            return CameraConfig(name=self.name, inputs=self.inputs(), enabled=self.enabled)
        inputs = self.inputs()
        records = any("record" in i.roles for i in base.inputs)
        if not records and self.record_url is None:
            # The config chose not to record this camera; renaming it must not start recording.
            inputs = [InputConfig(path=self.detect_url, roles=["detect"])]
        # Through validation again, so a stored pair of URLs still has to make a valid camera.
        return CameraConfig.model_validate(
            base.model_dump() | {"name": self.name, "inputs": inputs, "enabled": self.enabled}
        )

    def to_json(self) -> dict[str, object]:
        """The stored form."""
        return {
            "name": self.name,
            "record_url": self.record_url,
            "detect_url": self.detect_url,
            "enabled": self.enabled,
        }

    @classmethod
    def from_json(cls, value: object) -> CameraEntry | None:
        """The entry from its stored form; None when it is not one."""
        if not isinstance(value, dict):
            return None
        name, record, detect = value.get("name"), value.get("record_url"), value.get("detect_url")
        enabled = value.get("enabled", True)
        if not isinstance(name, str) or not isinstance(detect, str) or not detect:
            return None
        if record is not None and not isinstance(record, str):
            return None
        return cls(name, record, detect, bool(enabled))


def new_camera_key() -> str:
    """A fresh camera key for a camera added in the app."""
    return f"cam-{secrets.token_hex(4)}"


class CameraStore:
    """The app's camera entries over the settings table."""

    def __init__(self, settings: SettingsStore) -> None:
        self._settings = settings

    def keys(self) -> list[str]:
        """Every camera with a stored entry."""
        stored = self._settings.get(_INDEX)
        return [k for k in stored if isinstance(k, str)] if isinstance(stored, list) else []

    def get(self, key: str) -> CameraEntry | None:
        """The stored entry of one camera."""
        return CameraEntry.from_json(self._settings.get(_PREFIX + key))

    def entries(self) -> dict[str, CameraEntry]:
        """Every stored entry that is still readable."""
        found = {}
        for key in self.keys():
            entry = self.get(key)
            if entry is not None:
                found[key] = entry
        return found

    def save(self, key: str, entry: CameraEntry, now: float) -> None:
        """Stores (or replaces) a camera's entry."""
        self._settings.put(_PREFIX + key, entry.to_json(), now)
        keys = self.keys()
        if key not in keys:
            self._settings.put(_INDEX, [*keys, key], now)

    def remove(self, key: str, now: float) -> None:
        """Forgets a camera's entry (a config camera goes back to its config)."""
        self._settings.delete(_PREFIX + key)
        self._settings.put(_INDEX, [k for k in self.keys() if k != key], now)
