"""Familiar faces on the live path: the FaceWatch the camera pipelines call.

Only person tracks that make events are looked at (the pipeline passes its confirmed, moving
tracks), and only when the household has enrolled someone (an empty gallery: nothing is done).
Each track is looked at every ``LOOK_EVERY`` media seconds, at most ``MAX_LOOKS`` times, until
its face is recognised: the upper part of the person's box is searched with CenterFace, the
largest face described (dlib) and matched. A track is recognised by its first confident match;
an uncertain one is no match. An event is familiar when every person track in it was recognised
(a stranger walking beside a household member keeps it a threat).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hearthcam.labels import label_of
from hearthcam.types import Detections, Event, Frame
from hearthcam.vision.faces import FaceDetector
from hearthcam.vision.familiar import FaceDescriber, Gallery, Match, match

PERSON = "person"
#: Media seconds between two looks at one track (a look costs about 0.1 s of CPU per face).
LOOK_EVERY = 0.5
#: Looks per track before it is given up on (it stays a stranger).
MAX_LOOKS = 12
#: Faces narrower than this (frame pixels) are not described: too few pixels to be sure.
MIN_FACE = 28
#: The part of a person's box searched for the face: its top, widened a little.
HEAD_PART = 0.5
WIDEN = 0.15
#: A track not seen for this long (media seconds) is forgotten.
FORGET_AFTER = 900.0


@dataclass
class _Look:
    first: float  # media time the track was first seen (tracker ids restart with the tracker)
    seen: float
    last_look: float = -np.inf
    looks: int = 0
    match: Match | None = None


def head_region(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Where in the frame to look for a person's face: the top of their box, widened."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    w, h = x1 - x0, y1 - y0
    left, right = max(0, round(x0 - WIDEN * w)), min(width, round(x1 + WIDEN * w))
    top, bottom = max(0, round(y0 - WIDEN * h)), min(height, round(y0 + HEAD_PART * h))
    return left, top, right, bottom


class FamiliarWatch:
    """Recognises household members' faces on person tracks (a ``FaceWatch``)."""

    def __init__(
        self,
        models: Callable[[], tuple[FaceDetector, FaceDescriber]],
        gallery_of: Callable[[str], Gallery],
    ) -> None:
        # The models load at the first look (someone enrolled and a person in view), not at
        # start: a home that never turns the feature on never pays for them.
        self._load_models = models
        self._models: tuple[FaceDetector, FaceDescriber] | None = None
        self._gallery_of = gallery_of
        self._tracks: dict[tuple[str, int], _Look] = {}
        # Who each familiar event recognised, until ``take_sightings`` (after its row is saved).
        self._sightings: dict[str, dict[str, float]] = {}
        # One camera's look at a time: the models are shared by every camera's thread.
        self._lock = threading.Lock()
        self.looks = 0

    def look(self, frame: Frame, people: Detections) -> None:
        """Looks, when due, at the faces of the person tracks among ``people``."""
        gallery: Gallery | None = None
        with self._lock:
            for i in range(len(people)):
                if label_of(int(people.class_id[i])) != PERSON:
                    continue
                key = (frame.camera, int(people.tracker_id[i]))
                state = self._tracks.setdefault(key, _Look(frame.pts, frame.pts))
                state.seen = frame.pts
                if not self._due(state, frame.pts):
                    continue
                if gallery is None:
                    gallery = self._gallery_of(frame.camera)
                if len(gallery) == 0:
                    break
                state.looks += 1
                state.last_look = frame.pts
                state.match = self._recognise(frame, people.xyxy[i], gallery)
            self._forget(frame)

    def _due(self, state: _Look, pts: float) -> bool:
        return (
            state.match is None and state.looks < MAX_LOOKS and pts - state.last_look >= LOOK_EVERY
        )

    def _recognise(self, frame: Frame, box: np.ndarray, gallery: Gallery) -> Match | None:
        self.looks += 1
        if self._models is None:
            self._models = self._load_models()
        faces, describer = self._models
        left, top, right, bottom = head_region(box, frame.width, frame.height)
        if right - left < MIN_FACE or bottom - top < MIN_FACE:
            return None
        found = faces.detect(frame.image[top:bottom, left:right], min_face=MIN_FACE)
        if not len(found):
            return None
        widths = found.xyxy[:, 2] - found.xyxy[:, 0]
        best = int(np.argmax(widths))
        if widths[best] < MIN_FACE:
            return None
        face = found.xyxy[best] + np.array([left, top, left, top], np.float32)
        return match(gallery, describer.describe(frame.image, face.tolist()))

    def _forget(self, frame: Frame) -> None:
        stale = [
            k for k, s in self._tracks.items()
            if k[0] == frame.camera and not 0 <= frame.pts - s.seen <= FORGET_AFTER
        ]  # fmt: skip
        for key in stale:
            del self._tracks[key]

    def familiar(self, event: Event) -> bool:
        """Whether every person track of the event was confidently recognised."""
        people = [t for t in event.tracks if t.label == PERSON]
        if not people:
            return False
        with self._lock:
            looks = [self._tracks.get((event.camera, t.tracker_id)) for t in people]
            matches: list[Match] = []
            for track, state in zip(people, looks, strict=True):
                # A tracker id from before a restart names another track: it must be this one.
                if state is None or state.match is None or state.first != track.first_pts:
                    return False
                matches.append(state.match)
            seen = self._sightings.setdefault(event.id, {})
            for m in matches:
                seen[m.person_id] = min(m.distance, seen.get(m.person_id, m.distance))
        return True

    def take_sightings(self, event_id: str) -> list[Match]:
        """Who the event recognised so far (each once), forgotten here once taken."""
        with self._lock:
            seen = self._sightings.pop(event_id, {})
        return [Match(person, distance) for person, distance in sorted(seen.items())]
