"""The one list of cameras a hearthcam runs: the config file's and the app's, resolved alike.

A camera comes from the config file, from the app (an owner added it in Settings), or from both
(the app changed a config camera's name, streams or switch). Whatever its origin it resolves the
same way (``resolve``): the config's camera, else the defaults; the app's entry over it (inputs,
name, enabled); the masks and zones an owner drew; and its objects spelled out (its own, else
the config's), so no reader needs to know where a camera came from.

The registry is pure and in memory: the web routes store entries and drawings (``store.cameras``,
``store.settings``) and then tell the registry, which tells its listeners (the runtime, which
starts, restarts or stops that one camera). Readers see a whole, unchanging dict at each use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Protocol

from pydantic import ValidationError

from hearthcam.config import CameraConfig, Config
from hearthcam.store.cameras import CameraEntry, CameraStore
from hearthcam.store.settings import CameraGeometry, SettingsStore, camera_geometry

log = logging.getLogger(__name__)


class CameraListener(Protocol):
    """Told of each change to the registry, on the thread that made it."""

    def camera_changed(self, name: str, camera: CameraConfig | None) -> None:
        """``name`` now runs as ``camera`` (a switched-off one stops); None: it was removed."""

    def geometry_changed(self, name: str, camera: CameraConfig) -> None:
        """``name`` has new masks and zones (``camera``'s); nothing else changed."""


def resolve(
    config: Config,
    name: str,
    entry: CameraEntry | None,
    drawn: CameraGeometry | None,
) -> CameraConfig | None:
    """One camera as it runs: the config's (else defaults) with the app's entry and drawing
    over it. None when it is in neither. Raises ValidationError when the entry does not make a
    valid camera."""
    base = config.cameras.get(name)
    if entry is not None:
        base = entry.applied(base)
    if base is None:
        return None
    if drawn is not None:
        base = drawn.applied(base)
    return base.model_copy(update={"objects": base.objects_or(config.objects)})


class CameraRegistry(Mapping[str, CameraConfig]):
    """Camera name -> the camera as it runs now; changed by ``put``, ``draw`` and ``remove``."""

    def __init__(
        self,
        config: Config,
        entries: Mapping[str, CameraEntry] | None = None,
        drawn: Mapping[str, CameraGeometry] | None = None,
    ) -> None:
        self._config = config
        self._entries: dict[str, CameraEntry] = dict(entries or {})
        self._drawn: dict[str, CameraGeometry] = dict(drawn or {})
        self._listeners: list[CameraListener] = []
        # Writers take the lock and replace ``_now`` whole; readers never lock.
        self._lock = threading.RLock()
        self._now: dict[str, CameraConfig] = {}
        for key in dict.fromkeys([*config.cameras, *self._entries]):
            camera = self._resolve_or_skip(key)
            if camera is not None:
                self._now[key] = camera

    @classmethod
    def load(cls, config: Config, settings: SettingsStore) -> CameraRegistry:
        """The registry of the config and what the app stored (entries and drawings)."""
        entries = CameraStore(settings).entries()
        drawn = {}
        for name in {*config.cameras, *entries}:
            geometry = camera_geometry(settings, name)
            if geometry is not None:
                drawn[name] = geometry
        return cls(config, entries, drawn)

    def __getitem__(self, name: str) -> CameraConfig:
        return self._now[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now)

    def __len__(self) -> int:
        return len(self._now)

    def subscribe(self, listener: CameraListener) -> None:
        """Tells ``listener`` of every later change."""
        with self._lock:
            self._listeners.append(listener)

    def from_config(self, name: str) -> bool:
        """Whether the config file names the camera (it can be switched off, not removed)."""
        return name in self._config.cameras

    def geometry(self, name: str) -> CameraGeometry:
        """The masks and zones the camera uses (what was drawn for one it no longer runs)."""
        camera = self._now.get(name)
        if camera is not None:
            return CameraGeometry.of(camera)
        return self._drawn.get(name) or CameraGeometry([], {})

    def with_entry(self, name: str, entry: CameraEntry) -> CameraConfig:
        """What ``name`` would run as with ``entry``; changes nothing. Raises ValidationError."""
        camera = resolve(self._config, name, entry, self._drawn.get(name))
        assert camera is not None  # an entry always makes a camera
        return camera

    def put(self, name: str, entry: CameraEntry) -> CameraConfig:
        """Adds or changes a camera from the app; its listeners restart it. Raises
        ValidationError (and changes nothing) when the entry does not make a valid camera."""
        with self._lock:
            camera = self.with_entry(name, entry)
            self._entries[name] = entry
            self._now = {**self._now, name: camera}
            for listener in self._listeners:
                listener.camera_changed(name, camera)
        return camera

    def draw(self, name: str, geometry: CameraGeometry) -> CameraConfig | None:
        """Gives a camera new masks and zones; its pipeline takes them without a restart.
        None (nobody told) when the camera is in neither the config nor the app."""
        with self._lock:
            self._drawn[name] = geometry
            current = self._now.get(name)
            if current is None:
                return None
            camera = geometry.applied(current)
            self._now = {**self._now, name: camera}
            for listener in self._listeners:
                listener.geometry_changed(name, camera)
        return camera

    def remove(self, name: str) -> None:
        """Forgets what the app set for a camera: one from the app is gone (and stops), one
        from the config runs as the config says."""
        with self._lock:
            self._entries.pop(name, None)
            self._drawn.pop(name, None)
            camera = self._resolve_or_skip(name)
            now = {k: v for k, v in self._now.items() if k != name}
            if camera is not None:
                now[name] = camera
            self._now = now
            for listener in self._listeners:
                listener.camera_changed(name, camera)

    def _resolve_or_skip(self, name: str) -> CameraConfig | None:
        # A stored entry that no longer validates (an older shape, a hand edit) must not stop
        # the others: the camera runs as the config says, or not at all.
        try:
            return resolve(self._config, name, self._entries.get(name), self._drawn.get(name))
        except ValidationError as error:
            log.warning("camera %s: stored settings are not valid, skipped: %s", name, error)
            self._entries.pop(name, None)
            return resolve(self._config, name, None, self._drawn.get(name))
