"""Tests for the temporal cover: neighbours' boxes, interpolation, merging (pure)."""

from __future__ import annotations

import numpy as np

from hearthcam.types import Detections
from hearthcam.vision.cover import bodies_under, cover, interpolate, merge_overlapping, pair_boxes


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


def _merge_pairwise(dets: Detections, iou: float) -> list[tuple[list[float], float, int]]:
    """The plain pairwise merge (first overlapping pair in index order, until none is left)."""

    def ratio(a: list[float], b: list[float]) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        return w * h / union if union > 0 else 0.0

    rows = [(list(map(float, b)), float(s), int(c)) for b, s, c in
            zip(dets.xyxy, dets.confidence, dets.class_id, strict=True)]  # fmt: skip
    merged = True
    while merged:
        merged = False
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                if rows[i][2] == rows[j][2] and ratio(rows[i][0], rows[j][0]) >= iou:
                    (a, sa, c), (b, sb, _) = rows[i], rows.pop(j)
                    hull = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    rows[i] = (hull, max(sa, sb), c)
                    merged = True
                    break
            if merged:
                break
    return rows


def test_merging_matches_the_plain_pairwise_merge_on_random_crowds() -> None:
    rng = np.random.default_rng(13)
    for _ in range(300):
        n = int(rng.integers(0, 25))
        corner = rng.uniform(0, 300, (n, 2))
        size = rng.uniform(1, 80, (n, 2))
        dets = Detections(
            np.concatenate([corner, corner + size], axis=1).astype(np.float32),
            rng.uniform(0.3, 1.0, n).astype(np.float32),
            rng.integers(0, 2, n).astype(np.int32),
        )
        got = merge_overlapping(dets, 0.3)
        want = _merge_pairwise(dets, 0.3)
        assert len(got) == len(want)
        for box, score, cls, (wbox, wscore, wcls) in zip(
            got.xyxy, got.confidence, got.class_id, want, strict=True
        ):
            assert np.allclose(box, wbox)
            assert cls == wcls
            assert score == np.float32(wscore)


def test_a_track_is_interpolated_across_frames_where_the_detector_missed() -> None:
    # Found on frames 0 and 12, missed (detected, nothing found) on 3, 6 and 9.
    missed = {3: Detections.empty(), 6: Detections.empty(), 9: Detections.empty()}
    detected = {0: _dets((0, 0, 20, 40)), **missed, 12: _dets((48, 0, 68, 40))}
    assert len(cover(6, detected, window=3)) == 0  # without a reach: bare
    assert _covers(cover(6, detected, window=3, reach=15), (24, 0, 44, 40))


def test_a_track_is_extrapolated_past_its_last_and_first_detection() -> None:
    detected = {0: _dets((0, 0, 20, 40)), 3: _dets((6, 0, 26, 40)), 6: Detections.empty()}
    # Moving 2 px a frame: on frame 9 the box is continued to x 18..38.
    assert _covers(cover(9, detected, window=3, reach=15), (18, 0, 38, 40))
    early = {6: _dets((12, 0, 32, 40)), 9: _dets((18, 0, 38, 40)), 0: Detections.empty()}
    assert _covers(cover(0, early, window=3, reach=15), (0, 0, 20, 40))
    # Beyond the reach nothing is made up.
    assert len(cover(30, detected, window=3, reach=15)) == 0


def test_a_body_box_hangs_under_every_face_clipped_to_the_frame() -> None:
    bodies = bodies_under(_dets((40, 10, 50, 22), (0, 100, 10, 112)), 0, (160, 120))
    np.testing.assert_allclose(bodies.xyxy[0], [30, 10, 60, 22 + 7 * 12])
    np.testing.assert_allclose(bodies.xyxy[1], [0, 100, 20, 120])
    assert len(bodies_under(Detections.empty(), 0, (160, 120))) == 0
