"""The live path's FaceWatch and the familiar verdict, with fakes for the two models."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hearthcam.pipeline.familiar import FamiliarVerdict
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import BGRImage, Detections, Event, Frame, TrackSummary, Verdict
from hearthcam.vision.familiar import DESCRIPTOR_SIZE, Gallery, Match
from hearthcam.vision.familiar_watch import LOOK_EVERY, MAX_LOOKS, FamiliarWatch

PERSON, DOG = 0, 16
SAM = np.zeros(DESCRIPTOR_SIZE, np.float32)
STRANGER = np.ones(DESCRIPTOR_SIZE, np.float32)


class OneFace:
    """Finds one 60 px face at the top left of whatever it is shown."""

    threshold = 0.5

    def detect(
        self, image: BGRImage, threshold: float | None = None, min_face: float | None = None
    ) -> Detections:
        return Detections(
            np.array([[0, 0, 60, 60]], np.float32), np.ones(1, np.float32), np.zeros(1, np.int32)
        )


class ByColumn:
    """Describes a face as Sam's when it is in the left half of the frame, else a stranger's."""

    def __init__(self) -> None:
        self.calls = 0

    def describe(self, image: BGRImage, box: Sequence[float]) -> np.ndarray:
        self.calls += 1
        return SAM if box[0] < image.shape[1] / 2 else STRANGER


def frame(pts: float) -> Frame:
    return Frame("porch", 0, pts, 1_790_000_000.0 + pts, np.zeros((480, 640, 3), np.uint8))


def people(*placed: tuple[int, float, int]) -> Detections:
    """Tracks (tracker id, left edge, class) 200 px tall."""
    boxes = np.array([[x, 100, x + 100, 300] for _, x, _ in placed], np.float32)
    return Detections(
        boxes, np.full(len(placed), 0.9, np.float32),
        np.array([c for *_, c in placed], np.int32),
        tracker_id=np.array([t for t, *_ in placed], np.int64),
    )  # fmt: skip


def track(tid: int, first: float, label: str = "person") -> TrackSummary:
    return TrackSummary(tid, label, 0.9, 0.9, 10, first, first + 2, 0.1, 0.2, frozenset())


def event(*tracks: TrackSummary) -> Event:
    return Event("ev1", "porch", Verdict.THREAT, ("person",), 0.0, 3.0, 0.0, 3.0, 0.9,
                 tracks=tracks)  # fmt: skip


def watch(gallery: Gallery, describer: ByColumn) -> FamiliarWatch:
    return FamiliarWatch(lambda: (OneFace(), describer), lambda _c: gallery)


SAMS = Gallery(("sam",), SAM[None, :])


def test_familiar_only_when_every_person_was_recognised() -> None:
    faces = watch(SAMS, ByColumn())
    faces.look(frame(1.0), people((1, 10, PERSON), (2, 500, PERSON), (3, 20, DOG)))
    both = event(track(1, 1.0), track(2, 1.0), track(3, 1.0, "dog"))
    assert not faces.familiar(both)  # a stranger walks beside Sam
    assert faces.familiar(event(track(1, 1.0), track(3, 1.0, "dog")))
    assert faces.familiar(event(track(1, 1.0)))
    assert faces.take_sightings("ev1") == [Match("sam", 0.0)]  # once per event and person
    assert faces.take_sightings("ev1") == []
    assert not faces.familiar(event(track(3, 1.0, "dog")))  # no person: not familiar


def test_a_track_is_looked_at_when_due_until_recognised_or_given_up() -> None:
    describer = ByColumn()
    faces = watch(SAMS, describer)
    for i in range(40):
        faces.look(frame(1.0 + i * LOOK_EVERY / 2), people((2, 500, PERSON)))
    assert describer.calls == MAX_LOOKS  # every other frame, then given up
    faces.look(frame(30.0), people((1, 10, PERSON)))
    faces.look(frame(31.0), people((1, 10, PERSON)))
    assert describer.calls == MAX_LOOKS + 1  # recognised: not looked at again


def test_a_tracker_id_from_before_a_restart_is_not_recognised() -> None:
    faces = watch(SAMS, ByColumn())
    faces.look(frame(1.0), people((1, 10, PERSON)))
    assert faces.familiar(event(track(1, 1.0)))
    assert not faces.familiar(event(track(1, 0.2)))  # the same id, another track


def test_nobody_enrolled_loads_no_model() -> None:
    def no_models() -> tuple[OneFace, ByColumn]:
        raise AssertionError("models loaded with an empty gallery")

    faces = FamiliarWatch(no_models, lambda _c: Gallery.empty())
    faces.look(frame(1.0), people((1, 10, PERSON)))
    assert faces.looks == 0
    assert not faces.familiar(event(track(1, 1.0)))


def test_the_verdict_makes_only_a_recognised_threat_familiar() -> None:
    faces = watch(SAMS, ByColumn())
    faces.look(frame(1.0), people((1, 10, PERSON)))
    verdict = FamiliarVerdict(RuleVerdict(), faces)
    person, dog = track(1, 1.0), track(3, 1.0, "dog")
    assert verdict.decide([person], event(person))[0] is Verdict.FAMILIAR
    assert verdict.decide([dog], event(dog))[0] is Verdict.PET
    assert verdict.decide([person], None)[0] is Verdict.THREAT
    assert verdict.labels([person]) == RuleVerdict().labels([person])
