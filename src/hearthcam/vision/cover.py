"""Temporal cover: the boxes to redact on a frame, from detections on the frames around it.

Detectors miss a face now and then, and the clip redactor may run them only on every n-th frame;
a frame is therefore redacted with (1) every box detected within ``window`` frames either side
(a person standing still, a one-frame miss) and (2) boxes interpolated between the nearest
detected frames before and after it, pairing each box with the nearest one of similar position
(a person walking: the union of two far-apart boxes would leave the path between them bare).
Pure functions over ``Detections``; the clip redactor feeds them as frames stream past.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from hearthcam.types import Detections

F32 = NDArray[np.float32]


def _centres(xyxy: F32) -> F32:
    out: F32 = ((xyxy[:, :2] + xyxy[:, 2:]) / 2).astype(np.float32)
    return out


def pair_boxes(before: F32, after: F32, reach: float = 2.0) -> list[tuple[int, int]]:
    """Greedy nearest-centre pairs (i in before, j in after) closer than ``reach`` box sides."""
    if not len(before) or not len(after):
        return []
    gap = np.linalg.norm(_centres(before)[:, None, :] - _centres(after)[None, :, :], axis=2)
    sides = np.maximum(
        (before[:, 2:] - before[:, :2]).max(axis=1)[:, None],
        (after[:, 2:] - after[:, :2]).max(axis=1)[None, :],
    )
    pairs = []
    order = np.argsort(gap, axis=None)
    used_i: set[int] = set()
    used_j: set[int] = set()
    for flat in order.tolist():
        i, j = divmod(flat, gap.shape[1])
        if i in used_i or j in used_j or gap[i, j] > reach * max(sides[i, j], 1.0):
            continue
        pairs.append((i, j))
        used_i.add(i)
        used_j.add(j)
    return pairs


def interpolate(before: Detections, after: Detections, t: float) -> Detections:
    """Boxes a fraction ``t`` of the way from paired boxes of ``before`` to ``after``."""
    pairs = pair_boxes(before.xyxy, after.xyxy)
    if not pairs:
        return Detections.empty()
    i, j = (np.array(side, np.intp) for side in zip(*pairs, strict=True))
    xyxy = (1 - t) * before.xyxy[i] + t * after.xyxy[j]
    return Detections(
        xyxy.astype(np.float32),
        np.minimum(before.confidence[i], after.confidence[j]).astype(np.float32),
        before.class_id[i],
    )


def _iou(a: F32, b: F32) -> float:
    inter = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None).prod()
    union = (a[2:] - a[:2]).prod() + (b[2:] - b[:2]).prod() - inter
    return float(inter / union) if union > 0 else 0.0


def merge_overlapping(dets: Detections, iou: float = 0.3) -> Detections:
    """Replaces boxes overlapping by ``iou`` or more with their hull (covers at least as much).

    The same face from three neighbouring frames is one box to hide, not three: hiding each box
    costs a resize of its area, and the hull only ever hides more.
    """
    boxes = [b.copy() for b in dets.xyxy]
    scores = dets.confidence.tolist()
    classes = dets.class_id.tolist()
    merged = True
    while merged:  # a handful of boxes per frame: pairwise merging is cheap
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if classes[i] == classes[j] and _iou(boxes[i], boxes[j]) >= iou:
                    b = boxes.pop(j)
                    boxes[i] = np.concatenate([np.minimum(boxes[i][:2], b[:2]),
                                               np.maximum(boxes[i][2:], b[2:])])  # fmt: skip
                    scores[i] = max(scores[i], scores.pop(j))
                    classes.pop(j)
                    merged = True
                    break
            if merged:
                break
    if not boxes:
        return Detections.empty()
    return Detections(
        np.stack(boxes).astype(np.float32),
        np.array(scores, np.float32),
        np.array(classes, np.int32),
    )


def cover(index: int, detected: Mapping[int, Detections], window: int) -> Detections:
    """The boxes to redact on frame ``index`` given detections on some frames (by index)."""
    near = [d for k, d in detected.items() if abs(k - index) <= window]
    parts = [Detections(d.xyxy, d.confidence, d.class_id) for d in near]
    if index not in detected:
        before = max((k for k in detected if k < index), default=None)
        after = min((k for k in detected if k > index), default=None)
        if before is not None and after is not None:
            t = (index - before) / (after - before)
            parts.append(interpolate(detected[before], detected[after], t))
    return merge_overlapping(Detections.merge(parts))
