"""Temporal cover: the boxes to redact on a frame, from detections on the frames around it.

Detectors miss a face now and then, and the clip redactor may run them only on every n-th frame;
a frame is therefore redacted with (1) every box detected within ``window`` frames either side
(a person standing still, a one-frame miss) and (2) boxes interpolated between the nearest
detected frames before and after it, pairing each box with the nearest one of similar position
(a person walking: the union of two far-apart boxes would leave the path between them bare).

With a ``reach`` the boxes are followed as tracks: a frame where the detector ran and found
nothing is interpolated between the nearest frames within ``reach`` that found something, and
past the first or last such frame the boxes are extrapolated (their motion between the two
nearest detections continued) for up to ``reach`` frames. The person detector found the people
of a real clip on 11 of 81 detected frames (issue 13); a track fills what it missed.

``bodies_under`` gives a body-sized box under each face, so a person whose face was found is
covered even when the person detector never found them.
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


def _overlaps(boxes: F32, classes: NDArray[np.int32], iou: float) -> NDArray[np.intp]:
    """Pairs (i < j, row-major order) of same-class boxes overlapping by ``iou`` or more."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=2)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(axis=1)
    union = area[:, None] + area[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(union > 0, inter / union, 0.0)
    same = classes[:, None] == classes[None, :]
    return np.argwhere(np.triu(same & (ratio >= iou), k=1))


def merge_overlapping(dets: Detections, iou: float = 0.3) -> Detections:
    """Replaces boxes overlapping by ``iou`` or more with their hull (covers at least as much).

    The same face from three neighbouring frames is one box to hide, not three: hiding each box
    costs a resize of its area, and the hull only ever hides more. Pairs merge one at a time,
    the first overlapping pair in index order first, until no two boxes overlap that much.
    """
    boxes = dets.xyxy.astype(np.float32, copy=True)
    scores = dets.confidence.astype(np.float32, copy=True)
    classes = dets.class_id.astype(np.int32, copy=True)
    while len(boxes) > 1:
        pairs = _overlaps(boxes, classes, iou)
        if not len(pairs):
            break
        i, j = (int(v) for v in pairs[0])
        boxes[i, :2] = np.minimum(boxes[i, :2], boxes[j, :2])
        boxes[i, 2:] = np.maximum(boxes[i, 2:], boxes[j, 2:])
        scores[i] = max(scores[i], scores[j])
        boxes = np.delete(boxes, j, axis=0)
        scores = np.delete(scores, j)
        classes = np.delete(classes, j)
    if not len(boxes):
        return Detections.empty()
    return Detections(boxes, scores, classes)


def _track(index: int, found: Mapping[int, Detections]) -> Detections:
    """Boxes on ``index`` interpolated or extrapolated from the nearest frames that found some."""
    before = sorted((k for k in found if k < index), reverse=True)[:2]
    after = sorted(k for k in found if k > index)[:2]
    if before and after:
        b, a = before[0], after[0]
        return interpolate(found[b], found[a], (index - b) / (a - b))
    ends = list(reversed(before)) if len(before) == 2 else after if len(after) == 2 else []
    if not ends:
        return Detections.empty()
    # A t outside [0, 1] continues the motion from ends[0] to ends[1] beyond either end.
    first, second = ends
    return interpolate(found[first], found[second], (index - first) / (second - first))


def cover(
    index: int, detected: Mapping[int, Detections], window: int, reach: int | None = None
) -> Detections:
    """The boxes to redact on frame ``index`` given detections on some frames (by index)."""
    near = [d for k, d in detected.items() if abs(k - index) <= window]
    parts = [Detections(d.xyxy, d.confidence, d.class_id) for d in near]
    if reach is None:
        if index not in detected:
            before = max((k for k in detected if k < index), default=None)
            after = min((k for k in detected if k > index), default=None)
            if before is not None and after is not None:
                t = (index - before) / (after - before)
                parts.append(interpolate(detected[before], detected[after], t))
    elif not len(detected.get(index, Detections.empty())):
        found = {k: d for k, d in detected.items() if len(d) and abs(k - index) <= reach}
        parts.append(_track(index, found))
    return merge_overlapping(Detections.merge(parts))


#: A body under a face: about 3 face widths wide and 7 face heights below it (a standing adult
#: is 7-8 heads tall; shoulders are 2-3 face widths). Generous on purpose: it hides, it is no
#: measurement.
BODY_WIDTHS = 3.0
BODY_HEIGHTS = 7.0


def bodies_under(faces: Detections, class_id: int, size: tuple[int, int]) -> Detections:
    """A body-sized box under each face (class ``class_id``), clipped to ``size`` (w, h)."""
    if not len(faces):
        return Detections.empty()
    xyxy = faces.xyxy
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
    width, height = size
    boxes = np.stack(
        [
            cx - BODY_WIDTHS / 2 * w,
            xyxy[:, 1],
            cx + BODY_WIDTHS / 2 * w,
            xyxy[:, 3] + BODY_HEIGHTS * h,
        ],
        axis=1,
    )
    np.clip(boxes, 0, [width, height, width, height], out=boxes)
    return Detections(
        boxes.astype(np.float32),
        faces.confidence.astype(np.float32),
        np.full(len(faces), class_id, np.int32),
    )
