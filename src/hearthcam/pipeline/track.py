"""The tracker stage: a ByteTrack-style multi-object tracker that gives detections stable ids.

Owns track identity across frames and what each track accumulates for events: class votes,
hits, first/last times, travel and largest box. Pure code: detections and media times in,
detections with ``tracker_id`` out; no I/O, no clocks.

Association follows ByteTrack (Zhang et al., 2022): high-score detections are matched to tracks
first, then low-score ones continue the tracks still unmatched, so an occluded or blurred object
keeps its id instead of being dropped. Matching ignores the class, because the detector flips
between neighbouring classes (cat/dog, car/truck); classes are voted on per track instead.
Motion is a constant-velocity model of the box centre, smoothed per track, which is all the
prediction a few frames per second needs; a Kalman filter would add tuning for no measured gain.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from hearthcam.types import Detections

F64 = NDArray[np.float64]
Pairs = list[tuple[int, int]]

#: How much of a new velocity measurement replaces the old estimate (exponential smoothing).
VELOCITY_ALPHA = 0.6
#: Seconds a lost track is extrapolated at most: people stop behind hedges and cars park, and
#: flying further off would stop them being found again where they reappear.
PREDICT_HORIZON = 1.0


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """A confirmed track as events see it.

    ``travel_px`` is the farthest the box centre has been from where the track began (pixels),
    which, unlike a path length, does not grow with box jitter on a still object; ``travel`` is
    the same divided by the frame diagonal, and ``max_area_ratio`` the largest box over the frame
    area, both None when the tracker was not told the frame size.
    """

    tracker_id: int
    class_id: int
    votes: dict[int, float]
    best_score: float
    mean_score: float
    hits: int
    first_pts: float
    last_pts: float
    history_len: int
    xyxy: tuple[float, float, float, float]
    travel_px: float
    max_area_px: float
    travel: float | None
    max_area_ratio: float | None
    lost: bool


@dataclass(slots=True)
class _Track:
    """Mutable per-track state; ``tracker_id`` stays -1 until the track is confirmed."""

    box: F64
    first_pts: float
    last_pts: float
    tracker_id: int = -1
    velocity: F64 = field(default_factory=lambda: np.zeros(2))
    votes: dict[int, float] = field(default_factory=dict)
    hits: int = 0
    score_sum: float = 0.0
    best_score: float = 0.0
    origin: F64 = field(default_factory=lambda: np.zeros(2))
    travel: float = 0.0
    max_area: float = 0.0
    history: deque[tuple[float, F64]] = field(default_factory=lambda: deque(maxlen=256))

    @property
    def confirmed(self) -> bool:
        return self.tracker_id >= 0

    def predict(self, pts: float) -> F64:
        """The box moved by the estimated velocity to time ``pts``."""
        shift = self.velocity * min(max(pts - self.last_pts, 0.0), PREDICT_HORIZON)
        out: F64 = self.box + np.concatenate([shift, shift])
        return out


def _centre(box: F64) -> F64:
    out: F64 = (box[:2] + box[2:]) / 2
    return out


def iou_matrix(a: F64, b: F64) -> F64:
    """Pairwise IoU of boxes a (n, 4) and b (m, 4), xyxy."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    out: F64 = inter / np.maximum(union, 1e-9)
    return out


def match(iou: F64, min_iou: float) -> Pairs:
    """Optimal track-detection pairs (row, col) from an IoU matrix, dropping those < ``min_iou``."""
    if iou.size == 0:
        return []
    rows, cols = linear_sum_assignment(1.0 - iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]


@dataclass(slots=True)
class _Batch:
    """One update's detections as float arrays, and which track each one continues."""

    boxes: F64
    conf: F64
    class_id: NDArray[np.int32]
    pts: float
    owner: dict[int, _Track] = field(default_factory=dict)

    def unowned(self, rows: NDArray[np.intp]) -> NDArray[np.intp]:
        return np.array([i for i in rows if int(i) not in self.owner], dtype=np.intp)


class Tracker:
    """Gives detections stable ids across frames (ByteTrack-style two-stage association).

    Detections scoring at least ``track_thresh`` start and continue tracks; those between
    ``low_thresh`` and ``track_thresh`` only continue tracks that were seen in the previous
    update. A track is confirmed, and gets its id, after ``min_hits`` matches in consecutive
    updates; a confirmed track unseen for more than ``track_buffer_seconds`` of media time ends.
    ``frame_size`` (width, height), when given, lets summaries normalise travel and area.
    """

    def __init__(
        self,
        track_thresh: float = 0.5,
        match_thresh: float = 0.3,
        track_buffer_seconds: float = 2.0,
        min_hits: int = 2,
        *,
        low_thresh: float = 0.1,
        low_match_thresh: float = 0.5,
        duplicate_iou: float = 0.7,
        frame_size: tuple[int, int] | None = None,
    ) -> None:
        self.track_thresh = track_thresh
        self.match_thresh = match_thresh
        self.track_buffer_seconds = track_buffer_seconds
        self.min_hits = min_hits
        self.low_thresh = low_thresh
        self.low_match_thresh = low_match_thresh
        self.duplicate_iou = duplicate_iou
        self.frame_size = frame_size
        self._tracks: list[_Track] = []
        self._ended: list[TrackInfo] = []
        self._next_id = 1
        self._pts = -math.inf

    def update(self, dets: Detections, pts: float) -> Detections:
        """Matches one frame's detections; returns those on confirmed tracks, ids set."""
        if pts < self._pts:
            # Media time went back (a source reopened): old tracks cannot be continued.
            self._expire(math.inf)
        batch = _Batch(
            dets.xyxy.astype(np.float64).reshape(-1, 4),
            dets.confidence.astype(np.float64),
            dets.class_id,
            pts,
        )
        high = np.flatnonzero(batch.conf >= self.track_thresh)
        low = np.flatnonzero((batch.conf >= self.low_thresh) & (batch.conf < self.track_thresh))

        confirmed = [t for t in self._tracks if t.confirmed]
        left = self._associate(confirmed, high, batch, self.match_thresh)
        # Stage two: weak detections may only continue tracks that were seen last update.
        recent = [t for t in left if t.last_pts >= self._pts]
        self._associate(recent, low, batch, self.low_match_thresh)
        tentative = [t for t in self._tracks if not t.confirmed]
        stale = self._associate(tentative, batch.unowned(high), batch, self.match_thresh)
        # A tentative track must be matched every update until confirmed, as in ByteTrack.
        self._tracks = [t for t in self._tracks if all(t is not s for s in stale)]

        self._start_tracks(batch.unowned(high), batch)
        for track in self._tracks:
            if not track.confirmed and track.hits >= self.min_hits:
                track.tracker_id = self._next_id
                self._next_id += 1
        self._expire(pts)
        self._pts = pts
        return self._output(dets, batch)

    def _associate(
        self, tracks: list[_Track], rows: NDArray[np.intp], batch: _Batch, min_iou: float
    ) -> list[_Track]:
        """Matches tracks to detections ``rows`` and observes the pairs; returns the unmatched."""
        dets = batch.boxes[rows]
        predicted = np.array([t.predict(batch.pts) for t in tracks]).reshape(-1, 4)
        iou = iou_matrix(predicted, dets)
        # A track missed last update may have stopped while unseen (behind a hedge, parked):
        # it may also be found where it was last seen.
        lost = np.array([t.last_pts < self._pts for t in tracks], dtype=bool)
        if lost.any():
            last = np.array([t.box for t in tracks]).reshape(-1, 4)
            iou[lost] = np.maximum(iou[lost], iou_matrix(last[lost], dets))
        pairs = match(iou, min_iou)
        for r, c in pairs:
            self._observe(tracks[r], batch, int(rows[c]))
        matched = {r for r, _ in pairs}
        return [t for k, t in enumerate(tracks) if k not in matched]

    def _observe(self, track: _Track, batch: _Batch, i: int) -> None:
        """Moves a track to detection ``i``: velocity, votes and summary figures."""
        box, score, pts = batch.boxes[i], float(batch.conf[i]), batch.pts
        dt = pts - track.last_pts
        if track.hits and dt > 0:
            measured = (_centre(box) - _centre(track.box)) / dt
            smoothed = VELOCITY_ALPHA * measured + (1 - VELOCITY_ALPHA) * track.velocity
            # The first step has no estimate to smooth against.
            track.velocity = measured if track.hits == 1 else smoothed
        track.box, track.last_pts = box, pts
        track.hits += 1
        class_id = int(batch.class_id[i])
        track.votes[class_id] = track.votes.get(class_id, 0.0) + score
        track.score_sum += score
        track.best_score = max(track.best_score, score)
        track.travel = max(track.travel, float(np.hypot(*(_centre(box) - track.origin))))
        track.max_area = max(track.max_area, float(np.prod(box[2:] - box[:2])))
        track.history.append((pts, box))
        batch.owner[i] = track

    def _start_tracks(self, rows: NDArray[np.intp], batch: _Batch) -> None:
        """Starts tentative tracks from unmatched strong detections, best first."""
        for i in sorted((int(r) for r in rows), key=lambda r: -batch.conf[r]):
            twin = self._twin(i, batch)
            if twin is not None:
                # Class-aware NMS lets one animal through as both "cat" and "dog": the twin box
                # votes for the track already on that object instead of starting another.
                cls = int(batch.class_id[i])
                twin.votes[cls] = twin.votes.get(cls, 0.0) + float(batch.conf[i])
                continue
            track = _Track(box=batch.boxes[i], first_pts=batch.pts, last_pts=batch.pts)
            track.origin = _centre(track.box)
            self._tracks.append(track)
            self._observe(track, batch, i)

    def _twin(self, i: int, batch: _Batch) -> _Track | None:
        """The track of a detection this update that box ``i`` overlaps almost entirely."""
        owned = sorted(batch.owner)
        if not owned:
            return None
        iou = iou_matrix(batch.boxes[i : i + 1], batch.boxes[owned])[0]
        best = int(iou.argmax())
        return batch.owner[owned[best]] if iou[best] >= self.duplicate_iou else None

    def _expire(self, pts: float) -> None:
        """Ends confirmed tracks unseen for longer than the buffer."""
        keep = []
        for track in self._tracks:
            if pts - track.last_pts > self.track_buffer_seconds:
                if track.confirmed:
                    self._ended.append(self._info(track, pts))
            else:
                keep.append(track)
        self._tracks = keep

    def _output(self, dets: Detections, batch: _Batch) -> Detections:
        """The detections on confirmed tracks, in input order, with their tracker ids."""
        rows = np.array(sorted(i for i, t in batch.owner.items() if t.confirmed), dtype=np.intp)
        ids = np.array([batch.owner[int(i)].tracker_id for i in rows], dtype=np.int64)
        picked = dets[rows]
        return Detections(picked.xyxy, picked.confidence, picked.class_id, ids, picked.data)

    def _info(self, track: _Track, pts: float) -> TrackInfo:
        diagonal = area = None
        if self.frame_size is not None:
            w, h = self.frame_size
            diagonal, area = math.hypot(w, h), float(w * h)
        x0, y0, x1, y1 = (float(v) for v in track.box)
        return TrackInfo(
            tracker_id=track.tracker_id,
            class_id=max(track.votes, key=lambda c: track.votes[c]),
            votes=dict(track.votes),
            best_score=track.best_score,
            mean_score=track.score_sum / track.hits,
            hits=track.hits,
            first_pts=track.first_pts,
            last_pts=track.last_pts,
            history_len=len(track.history),
            xyxy=(x0, y0, x1, y1),
            travel_px=track.travel,
            max_area_px=track.max_area,
            travel=None if diagonal is None else track.travel / diagonal,
            max_area_ratio=None if area is None else track.max_area / area,
            lost=track.last_pts < pts,
        )

    def active_tracks(self) -> list[TrackInfo]:
        """Summaries of the confirmed tracks still alive (seen or within the buffer), by id."""
        alive = sorted((t for t in self._tracks if t.confirmed), key=lambda t: t.tracker_id)
        return [self._info(t, self._pts) for t in alive]

    def pop_ended(self) -> list[TrackInfo]:
        """Summaries of the confirmed tracks that ended since the last call (then forgotten)."""
        ended, self._ended = self._ended, []
        return ended

    def label_votes(self, track_id: int) -> dict[int, float]:
        """Accumulated confidence per class id of a live confirmed track (KeyError if none)."""
        for track in self._tracks:
            if track.tracker_id == track_id:
                return dict(track.votes)
        raise KeyError(f"no live track with id {track_id}")
