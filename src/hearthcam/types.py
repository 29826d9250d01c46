"""The currency passed between pipeline stages: frames, motion, detections, tracks, events, clips.

Every stage takes and returns these; no tuples or loose dicts cross a stage boundary. Times are
floats in seconds: ``pts`` is media time since the source opened, ``wall`` is Unix time.

Also the little types shared across layers: ``Change`` and the ``EventListener`` protocol live
here, not in the pipeline module that emits them, so alerts, the web app and the benchmarks can
listen to events without importing the pipeline (pyproject.toml's import contracts).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

BGRImage = NDArray[np.uint8]
GrayImage = NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame of a camera's detect stream (BGR, detect resolution)."""

    camera: str
    index: int
    pts: float
    wall: float
    image: BGRImage

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class MotionResult:
    """What moved in one frame: boxes (xyxy, frame pixels) and the changed fraction of the frame."""

    boxes: NDArray[np.int32]
    area_ratio: float

    @property
    def moving(self) -> bool:
        return len(self.boxes) > 0

    @staticmethod
    def still() -> MotionResult:
        return MotionResult(np.zeros((0, 4), dtype=np.int32), 0.0)


def _empty_data() -> dict[str, NDArray[np.generic]]:
    return {}


@dataclass(frozen=True, slots=True)
class Detections:
    """Columnar detections (field names as in the supervision library).

    ``xyxy`` is (n, 4) float32 in frame pixels, ``confidence`` (n,) float32, ``class_id`` (n,) int32
    (COCO-80 ids), ``tracker_id`` (n,) int64 with -1 for untracked, ``data`` extra per-row columns.
    """

    xyxy: NDArray[np.float32]
    confidence: NDArray[np.float32]
    class_id: NDArray[np.int32]
    tracker_id: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    data: Mapping[str, NDArray[np.generic]] = field(default_factory=_empty_data)

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if len(self.tracker_id) != n:
            object.__setattr__(self, "tracker_id", np.full(n, -1, dtype=np.int64))
        if self.xyxy.shape != (n, 4) or len(self.confidence) != n or len(self.class_id) != n:
            raise ValueError("Detections columns must have the same length and xyxy shape (n, 4)")

    def __len__(self) -> int:
        return len(self.xyxy)

    @staticmethod
    def empty() -> Detections:
        return Detections(
            np.zeros((0, 4), dtype=np.float32),
            np.zeros(0, dtype=np.float32),
            np.zeros(0, dtype=np.int32),
        )

    def __getitem__(self, index: NDArray[np.bool_] | NDArray[np.intp] | slice) -> Detections:
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            self.class_id[index],
            self.tracker_id[index],
            {k: v[index] for k, v in self.data.items()},
        )

    @staticmethod
    def merge(parts: list[Detections]) -> Detections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Detections.empty()
        keys = set.intersection(*(set(p.data) for p in parts))
        return Detections(
            np.concatenate([p.xyxy for p in parts]).astype(np.float32),
            np.concatenate([p.confidence for p in parts]).astype(np.float32),
            np.concatenate([p.class_id for p in parts]).astype(np.int32),
            np.concatenate([p.tracker_id for p in parts]).astype(np.int64),
            {k: np.concatenate([p.data[k] for p in parts]) for k in keys},
        )


class Verdict(enum.StrEnum):
    """What an event was, as the owner cares: only ``threat`` alerts by default."""

    THREAT = "threat"
    PET = "pet"
    VEHICLE = "vehicle"
    MOTION = "motion"
    #: A person the household enrolled, confidently recognised (familiar faces, off by default).
    FAMILIAR = "familiar"


@dataclass(frozen=True, slots=True)
class TrackSummary:
    """One tracked object over an event's life, as the verdict component sees it."""

    tracker_id: int
    label: str
    best_score: float
    mean_score: float
    hits: int
    first_pts: float
    last_pts: float
    max_area_ratio: float
    travel: float
    zones: frozenset[str]
    votes: tuple[tuple[str, float], ...] = ()

    def vote(self, label: str) -> float:
        """Accumulated confidence this track was ``label`` (0 if never)."""
        return next((v for name, v in self.votes if name == label), 0.0)


@dataclass(frozen=True, slots=True)
class Segment:
    """A recorded piece of a camera's main stream (stream copy), as indexed in the store."""

    camera: str
    path: Path
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Event:
    """A finished (or still open) event: what was seen, when, where, and the media made for it.

    ``start``/``end`` are media seconds since the source opened; ``wall_*`` are Unix times.
    An event longer than one clip may be (``record.max_clip``) has its footage in consecutive
    clips: ``clip`` is the first, ``clip_parts`` the ones after it, in order.
    """

    id: str
    camera: str
    verdict: Verdict
    labels: tuple[str, ...]
    start: float
    end: float
    wall_start: float
    wall_end: float
    score: float
    zones: tuple[str, ...] = ()
    tracks: tuple[TrackSummary, ...] = ()
    snapshot: Path | None = None
    clip: Path | None = None
    alert: bool = False
    clip_parts: tuple[Path, ...] = ()

    @property
    def clips(self) -> tuple[Path, ...]:
        """Every clip of the event, in order (none when it has no clip)."""
        return () if self.clip is None else (self.clip, *self.clip_parts)


class Change(enum.Enum):
    """What happened to an event on this frame."""

    STARTED = "started"
    UPDATED = "updated"
    ENDED = "ended"


class EventListener(Protocol):
    """Receives every event change (alerts, the web app, benchmarks subscribe here)."""

    def __call__(self, change: Change, event: Event) -> None:
        """Called on the analysis thread; must return quickly."""
        ...


class FaceWatch(Protocol):
    """Familiar faces on the live path: looks at the faces of person tracks that make events and
    says whether an event's people were all recognised. The camera pipeline calls it (the app
    builds it from ``hearthcam.vision.familiar_watch``); the pipeline never imports vision."""

    def look(self, frame: Frame, people: Detections) -> None:
        """Looks, when due, at the faces of these person tracks (frame pixels, tracker ids)."""
        ...

    def familiar(self, event: Event) -> bool:
        """Whether every person track of ``event`` was confidently recognised."""
        ...
