"""Tests for the tracker with synthetic detections: ids, ByteTrack stages, votes, summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hearthcam.pipeline.track import Tracker, iou_matrix, match
from hearthcam.types import Detections

FPS = 5.0
CAT, DOG = 15, 16


def _dets(*rows: tuple[float, ...]) -> Detections:
    """Detections from (x0, y0, x1, y1, score, class) rows."""
    table = np.array(rows, np.float64).reshape(-1, 6)
    return Detections(
        table[:, :4].astype(np.float32),
        table[:, 4].astype(np.float32),
        table[:, 5].astype(np.int32),
    )


def _box(x: float, y: float = 100.0, w: float = 40.0, h: float = 80.0) -> tuple[float, ...]:
    return (x, y, x + w, y + h)


def _one(x: float, score: float = 0.9, cls: int = 0, y: float = 100.0) -> Detections:
    x0, y0, x1, y1 = _box(x, y)
    return _dets((x0, y0, x1, y1, score, cls))


def _pts(i: int) -> float:
    return i / FPS


def test_iou_and_match_helpers() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float64)
    b = np.array([[25, 20, 35, 30], [0, 0, 10, 5]], np.float64)
    iou = iou_matrix(a, b)
    np.testing.assert_allclose(iou, [[0, 0.5], [50 / 150, 0]])
    assert match(iou, 0.3) == [(0, 1), (1, 0)]
    assert match(iou, 0.4) == [(0, 1)]
    assert match(iou_matrix(a, b[:0]), 0.3) == []


def test_one_moving_object_keeps_one_id() -> None:
    tracker = Tracker()
    ids = []
    for i in range(30):
        out = tracker.update(_one(10 + 12 * i), _pts(i))
        ids.append(out.tracker_id.tolist())
    assert ids[0] == []  # tentative until min_hits
    assert all(frame == [1] for frame in ids[1:])
    (info,) = tracker.active_tracks()
    assert info.hits == 30
    assert info.first_pts == 0.0
    assert info.last_pts == pytest.approx(_pts(29))
    assert info.travel_px == pytest.approx(12 * 29)
    assert info.travel is None


def test_two_crossing_objects_keep_distinct_ids() -> None:
    tracker = Tracker()
    rightward: list[int] = []
    leftward: list[int] = []
    for i in range(30):
        a, b = 20 + 15 * i, 455 - 15 * i  # they pass each other around frame 14
        out = tracker.update(_dets((*_box(a, 100), 0.9, 0), (*_box(b, 110), 0.8, 0)), _pts(i))
        for box, tid in zip(out.xyxy, out.tracker_id, strict=True):
            (rightward if abs(box[0] - a) < 1 else leftward).append(int(tid))
    assert len(rightward) == len(leftward) == 29
    assert set(rightward) == {1}
    assert set(leftward) == {2}


def test_missed_frames_keep_the_id_thanks_to_prediction() -> None:
    tracker = Tracker()
    ids = []
    for i in range(20):
        # 40 px wide, 10 px per frame: after two dropped frames the box is 30 px on (IoU 0.14
        # with the last one seen), so only the predicted position can match it.
        dets = Detections.empty() if i in (10, 11) else _one(10 + 10 * i)
        ids.append(tracker.update(dets, _pts(i)).tracker_id.tolist())
    assert ids[10] == ids[11] == []
    assert all(frame == [1] for k, frame in enumerate(ids[1:], 1) if k not in (10, 11))
    assert tracker.active_tracks()[0].hits == 18


def test_low_score_detections_continue_a_track_but_start_none() -> None:
    tracker = Tracker(track_thresh=0.5)
    for i in range(3):
        tracker.update(_one(10 + 5 * i, 0.8), _pts(i))
    for i in range(3, 8):
        # A blurred person (0.3) and an unrelated weak box far away.
        out = tracker.update(_dets((*_box(10 + 5 * i), 0.3, 0), (*_box(500), 0.3, 0)), _pts(i))
        assert out.tracker_id.tolist() == [1]
        assert out.confidence.tolist() == pytest.approx([0.3])
    assert [t.tracker_id for t in tracker.active_tracks()] == [1]


def test_low_score_detections_do_not_revive_a_lost_track() -> None:
    tracker = Tracker()
    for i in range(3):
        tracker.update(_one(10), _pts(i))
    tracker.update(Detections.empty(), _pts(3))
    assert len(tracker.update(_one(10, 0.3), _pts(4))) == 0
    assert tracker.update(_one(10, 0.9), _pts(5)).tracker_id.tolist() == [1]


def test_track_ends_after_the_buffer_and_a_return_gets_a_new_id() -> None:
    tracker = Tracker(track_buffer_seconds=2.0, frame_size=(640, 360))
    for i in range(5):
        tracker.update(_one(10 + 10 * i), _pts(i))
    tracker.update(Detections.empty(), 2.5)  # 1.7 s after the last sighting
    (info,) = tracker.active_tracks()
    assert info.lost
    assert tracker.pop_ended() == []

    tracker.update(Detections.empty(), 3.0)  # 2.2 s: gone
    assert tracker.active_tracks() == []
    (ended,) = tracker.pop_ended()
    assert ended.tracker_id == 1
    assert ended.hits == 5
    assert ended.travel == pytest.approx(40 / math.hypot(640, 360))
    assert ended.max_area_ratio == pytest.approx(40 * 80 / (640 * 360))
    assert tracker.pop_ended() == []
    with pytest.raises(KeyError):
        tracker.label_votes(1)

    tracker.update(_one(10), 3.2)
    assert tracker.update(_one(10), 3.4).tracker_id.tolist() == [2]


def test_class_flips_keep_the_id_and_are_voted() -> None:
    tracker = Tracker()
    classes = [CAT, CAT, DOG, CAT, DOG, CAT, CAT]
    for i, cls in enumerate(classes):
        out = tracker.update(_one(10 + 8 * i, 0.6, cls), _pts(i))
    assert out.tracker_id.tolist() == [1]
    assert out.class_id.tolist() == [CAT]  # the detection's own class is passed through
    votes = tracker.label_votes(1)
    assert votes == pytest.approx({CAT: 0.6 * 5, DOG: 0.6 * 2})
    (info,) = tracker.active_tracks()
    assert info.class_id == CAT
    assert info.votes == votes


def test_a_twin_box_of_another_class_votes_instead_of_tracking() -> None:
    tracker = Tracker()
    for i in range(4):
        x0, y0, x1, y1 = _box(10 + 5 * i)
        out = tracker.update(
            _dets((x0, y0, x1, y1, 0.7, CAT), (x0 + 1, y0, x1 + 1, y1, 0.6, DOG)), _pts(i)
        )
    assert out.tracker_id.tolist() == [1]
    assert tracker.label_votes(1) == pytest.approx({CAT: 2.8, DOG: 2.4})


def test_one_frame_glitches_never_get_an_id() -> None:
    tracker = Tracker(min_hits=2)
    tracker.update(_one(300), 0.0)
    for i in range(1, 6):
        out = tracker.update(_one(10 + 5 * i), _pts(i))
    assert out.tracker_id.tolist() == [1]  # ids count confirmed tracks only


def test_min_hits_one_confirms_at_once() -> None:
    tracker = Tracker(min_hits=1)
    assert tracker.update(_one(10), 0.0).tracker_id.tolist() == [1]


def test_output_keeps_input_order_and_data_columns() -> None:
    tracker = Tracker()
    base = _dets((*_box(10), 0.9, 0), (*_box(300), 0.2, 0), (*_box(600), 0.8, 2))
    dets = Detections(
        base.xyxy, base.confidence, base.class_id, data={"zone": np.array([1, 2, 3], np.int64)}
    )
    tracker.update(dets, 0.0)
    out = tracker.update(dets, 0.2)
    assert out.class_id.tolist() == [0, 2]
    assert out.tracker_id.tolist() == [1, 2]
    assert out.data["zone"].tolist() == [1, 3]
    assert out.tracker_id.dtype == np.int64


def test_summaries_of_a_still_object() -> None:
    tracker = Tracker(frame_size=(640, 360))
    rng = np.random.default_rng(0)
    for i in range(10):
        jitter = rng.normal(0, 1.0, 4)
        x0, y0, x1, y1 = np.add(_box(200), jitter)
        tracker.update(_dets((x0, y0, x1, y1, 0.5 + i / 100, 0)), _pts(i))
    (info,) = tracker.active_tracks()
    assert info.travel is not None
    assert info.travel < 0.01  # jitter is not travel
    assert info.best_score == pytest.approx(0.59)
    assert info.mean_score == pytest.approx(0.545)
    assert info.history_len == 10
    assert not info.lost
    assert info.xyxy[0] == pytest.approx(200, abs=4)


def test_time_going_back_ends_every_track() -> None:
    tracker = Tracker()
    for i in range(3):
        tracker.update(_one(10), 10 + _pts(i))
    tracker.update(_one(10), 0.0)  # the source was reopened
    assert [t.tracker_id for t in tracker.pop_ended()] == [1]
    assert tracker.update(_one(10), 0.2).tracker_id.tolist() == [2]


def test_a_stopped_object_is_found_where_it_reappears() -> None:
    tracker = Tracker(track_buffer_seconds=3.0)
    for i in range(6):
        tracker.update(_one(10 + 20 * i), _pts(i))  # walking right at 100 px/s
    for i in range(6, 16):
        tracker.update(Detections.empty(), _pts(i))  # hidden for 2 s, stopped at x=110
    assert tracker.update(_one(110), _pts(16)).tracker_id.tolist() == [1]
