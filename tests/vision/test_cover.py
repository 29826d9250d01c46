"""Tests for the temporal cover: neighbours' boxes, interpolation, merging (pure)."""

from __future__ import annotations

import numpy as np

from hearthcam.types import Detections
from hearthcam.vision.cover import cover, interpolate, merge_overlapping, pair_boxes


def _dets(*boxes: tuple[float, float, float, float]) -> Detections:
    n = len(boxes)
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(n, 0.9, np.float32),
        np.zeros(n, np.int32),
    )


def _covers(dets: Detections, box: tuple[float, float, float, float]) -> bool:
    """Whether one of the boxes contains ``box``."""
    b = np.array(box, np.float32)
    return bool(np.any(np.all(dets.xyxy[:, :2] <= b[:2], 1) & np.all(dets.xyxy[:, 2:] >= b[2:], 1)))


def test_a_missed_frame_is_covered_by_its_neighbours() -> None:
    detected = {0: _dets((10, 10, 30, 30)), 1: Detections.empty(), 2: _dets((11, 10, 31, 30))}
    covered = cover(1, detected, window=1)
    assert _covers(covered, (10.5, 10, 30.5, 30))


def test_boxes_reach_only_window_frames() -> None:
    detected = {0: _dets((10, 10, 30, 30))}
    assert len(cover(2, detected, window=2)) == 1
    assert len(cover(3, detected, window=2)) == 0


def test_a_walking_box_is_interpolated_between_detections() -> None:
    # 40 px per detection step: the union of the two ends leaves the middle bare.
    detected = {0: _dets((0, 0, 20, 20)), 4: _dets((40, 0, 60, 20))}
    mid = cover(2, detected, window=4)
    assert _covers(mid, (20, 0, 40, 20))
    assert _covers(cover(1, detected, window=4), (10, 0, 30, 20))


def test_interpolation_pairs_the_nearest_boxes_only() -> None:
    before = _dets((0, 0, 10, 10), (200, 0, 210, 10))
    after = _dets((205, 0, 215, 10), (4, 0, 14, 10))
    assert sorted(pair_boxes(before.xyxy, after.xyxy)) == [(0, 1), (1, 0)]
    halfway = interpolate(before, after, 0.5)
    np.testing.assert_allclose(np.sort(halfway.xyxy[:, 0]), [2, 202.5])


def test_far_apart_boxes_are_not_paired() -> None:
    assert pair_boxes(_dets((0, 0, 10, 10)).xyxy, _dets((300, 300, 310, 310)).xyxy) == []
    assert len(interpolate(_dets((0, 0, 10, 10)), Detections.empty(), 0.5)) == 0


def test_overlapping_boxes_merge_into_their_hull() -> None:
    merged = merge_overlapping(_dets((0, 0, 10, 10), (1, 1, 11, 11), (50, 50, 60, 60)))
    assert len(merged) == 2
    assert _covers(merged, (0, 0, 11, 11))
    assert _covers(merged, (50, 50, 60, 60))
    assert len(merge_overlapping(Detections.empty())) == 0
