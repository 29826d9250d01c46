"""The live path's familiar faces: the watch the camera pipelines get, over the service.

Galleries are opened (their descriptors unsealed) at most every ``GALLERY_TTL`` seconds per
household, so an enrolment or deletion takes effect within that time without a restart. A
household whose key is locked (password mode, nobody signed in) has no gallery then: its
people stay strangers rather than the camera waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from hearthcam.privacy.familiar import FamiliarFaces
from hearthcam.types import Change, Event, Verdict
from hearthcam.vault.keyring import KeyringError
from hearthcam.vision.faces import CenterFace, FaceDetector
from hearthcam.vision.familiar import DlibDescriber, FaceDescriber, Gallery
from hearthcam.vision.familiar_watch import FamiliarWatch

GALLERY_TTL = 10.0


class Galleries:
    """Each camera's household gallery, looked up and reopened at most every ``ttl`` seconds."""

    def __init__(
        self,
        familiar: FamiliarFaces,
        household_of: Callable[[str], int | None],
        ttl: float = GALLERY_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._familiar = familiar
        self._household_of = household_of
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, Gallery]] = {}
        self._lock = threading.Lock()

    def __call__(self, camera: str) -> Gallery:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(camera)
            if cached is not None and now - cached[0] < self._ttl:
                return cached[1]
            household = self._household_of(camera)
            try:
                gallery = (
                    Gallery.empty() if household is None else self._familiar.gallery(household)
                )
            except KeyringError:  # locked (password mode) or a key gone: no one is known
                gallery = Gallery.empty()
            self._cache[camera] = (now, gallery)
            return gallery


def face_models() -> tuple[FaceDetector, FaceDescriber]:
    """CenterFace (one thread: it runs beside the cameras) and dlib's describer."""
    return CenterFace(threads=1), DlibDescriber()


def live_watch(
    familiar: FamiliarFaces,
    household_of: Callable[[str], int | None],
    models: Callable[[], tuple[FaceDetector, FaceDescriber]] = face_models,
) -> FamiliarWatch:
    """The FaceWatch of every camera pipeline."""
    return FamiliarWatch(models, Galleries(familiar, household_of))


class Sightings:
    """An event listener: writes who a familiar event recognised, once its row exists (the sink
    tells listeners after saving), so a sighting can reference its event and go with it."""

    def __init__(self, watch: FamiliarWatch, familiar: FamiliarFaces) -> None:
        self._watch = watch
        self._familiar = familiar

    def __call__(self, change: Change, event: Event) -> None:
        if event.verdict is not Verdict.FAMILIAR:
            return
        for found in self._watch.take_sightings(event.id):
            self._familiar.record_sighting(event.id, found.person_id, found.distance)
