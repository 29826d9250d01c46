"""Tests for the per-frame Redactor (pure: no models)."""

from __future__ import annotations

import numpy as np
import pytest

from hearthcam.types import BGRImage, Detections
from hearthcam.vision.redact import ClipPolicy, Redactor, RedactPolicy, RedactStyle


def _dets(*boxes: tuple[float, float, float, float]) -> Detections:
    n = len(boxes)
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4), np.ones(n, np.float32), np.zeros(n, np.int32)
    )


def _noise(seed: int = 1) -> BGRImage:
    return np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)


@pytest.mark.parametrize("style", list(RedactStyle))
def test_a_face_box_and_its_pad_are_hidden_and_nothing_else(style: RedactStyle) -> None:
    frame = _noise()
    out = Redactor(RedactPolicy(style=style, face_pad=0.25)).redact(
        frame, _dets((40, 40, 80, 80)), Detections.empty()
    )
    assert out is not frame
    assert np.array_equal(frame, _noise())  # the input is untouched
    changed = np.any(out != frame, axis=2)
    ys, xs = np.nonzero(changed)
    assert (xs.min(), ys.min(), xs.max(), ys.max()) >= (30, 30, 70, 70)
    assert xs.min() >= 30
    assert ys.min() >= 30
    assert xs.max() < 90
    assert ys.max() < 90
    # Hidden means hidden: little of the original detail survives inside the box.
    inside = out[42:78, 42:78].astype(np.int16)
    assert np.mean(np.abs(np.diff(inside, axis=1))) < 0.5 * np.mean(
        np.abs(np.diff(frame[42:78, 42:78].astype(np.int16), axis=1))
    )


def test_bodies_are_hidden_by_default_and_can_be_left() -> None:
    frame = _noise()
    body = _dets((10, 10, 60, 110))
    assert np.any(Redactor().redact(frame, Detections.empty(), body) != frame)
    kept = Redactor(RedactPolicy(bodies=False)).redact(frame, Detections.empty(), body)
    assert np.array_equal(kept, frame)


def test_boxes_past_the_frame_edge_are_clipped() -> None:
    frame = _noise()
    out = Redactor().redact(frame, _dets((-20, -20, 30, 30), (150, 100, 400, 400)), _dets())
    assert out.shape == frame.shape
    assert np.any(out[:10, :10] != frame[:10, :10])
    empty = Redactor().redact(frame, _dets((500, 500, 600, 600)), Detections.empty())
    assert np.array_equal(empty, frame)


def test_clip_policy_needs_a_window_that_reaches_the_next_detection() -> None:
    with pytest.raises(ValueError, match="window"):
        ClipPolicy(stride=4, window=1)


def test_a_person_box_at_the_frame_edge_is_hidden_with_a_wider_margin() -> None:
    frame = _noise()
    inside = Redactor().redact(frame, Detections.empty(), _dets((60, 20, 100, 100)))
    at_edge = Redactor().redact(frame, Detections.empty(), _dets((120, 20, 160, 100)))
    # 40 px wide: 10 % padding inside the frame, 60 % once the box touches the right edge.
    assert not np.any(inside[:, :55] != frame[:, :55])
    assert np.any(at_edge[:, 100:110] != frame[:, 100:110])
