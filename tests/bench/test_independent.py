"""The independent face counter (dlib's HOG) on real photos and footage, before and after the
project's real redaction (CenterFace, NanoDet, Redactor)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.types import BGRImage
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.redact import Redactor, RedactPolicy
from hearthcam_bench.independent import DlibHog, FaceHit, clip_faces, save_crops
from hearthcam_bench.redact import carphone_frames, load_models, skimage_photo, write_h264

#: The astronaut's face, as a person would draw its box (x0, y0, x1, y1).
ASTRONAUT_FACE = (170, 70, 270, 175)


def overlaps(hit: FaceHit, box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = hit.box
    return min(x1, box[2]) > max(x0, box[0]) and min(y1, box[3]) > max(y0, box[1])


@pytest.fixture(scope="module")
def counter() -> DlibHog:
    return DlibHog()


@pytest.fixture(scope="module")
def models() -> tuple[CenterFace, OnnxDetector]:
    return load_models(threads=2)


@pytest.fixture(scope="module")
def astronaut() -> BGRImage:
    return skimage_photo("astronaut")


def redacted(image: BGRImage, models: tuple[CenterFace, OnnxDetector], bodies: bool) -> BGRImage:
    faces, people = models
    return Redactor(RedactPolicy(bodies=bodies)).redact(
        image, faces.detect(image), people.detect(image)
    )


def test_it_finds_the_astronauts_face(counter: DlibHog, astronaut: BGRImage) -> None:
    on_face = [h for h in counter.faces(astronaut, frame=7) if overlaps(h, ASTRONAUT_FACE)]
    assert len(on_face) == 1
    assert on_face[0].frame == 7
    assert on_face[0].score > 0.5
    assert 80 <= on_face[0].box[2] - on_face[0].box[0] <= 110


def test_after_redaction_it_finds_no_face(
    counter: DlibHog, astronaut: BGRImage, models: tuple[CenterFace, OnnxDetector]
) -> None:
    assert counter.faces(redacted(astronaut, models, bodies=True)) == []


def test_faces_only_redaction_leaves_no_face_where_the_face_was(
    counter: DlibHog, astronaut: BGRImage, models: tuple[CenterFace, OnnxDetector]
) -> None:
    hits = counter.faces(redacted(astronaut, models, bodies=False))
    # Its one remaining hit at threshold 0 is the mission patch on her sleeve (looked at).
    assert not [h for h in hits if overlaps(h, ASTRONAUT_FACE)]


def test_clip_faces_counts_the_carphone_face_and_crops_it(counter: DlibHog, tmp_path: Path) -> None:
    clip = write_h264(tmp_path / "carphone.mp4", carphone_frames(12), 30)
    hits = list(clip_faces(counter, clip, stride=4))
    assert [h.frame for h in hits] == [0, 4, 8]
    crops = save_crops(clip, hits, tmp_path / "crops")
    assert len(crops) == 3
    crop = cv2.imread(str(crops[0]))
    assert crop is not None
    assert crop.shape[0] > hits[0].box[3] - hits[0].box[1]  # the box with a margin around
    assert "frame 0 x" in hits[0].describe()


def test_it_finds_no_face_in_a_blank_frame(counter: DlibHog) -> None:
    assert counter.faces(np.full((240, 320, 3), 128, np.uint8)) == []
