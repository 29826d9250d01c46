"""The verdict model's inputs: one fixed-length vector per event, the same live and in training.

The live path (``LearnedVerdict``) and the trainer (``hearthcam.learn.train``) both call
``event_features``, so a model is always judged on exactly what it was trained on. Everything
comes from what the live path already knows about an event: its tracks (class votes, scores,
hits, box size, travel, dwell, zones), its duration, the local time of day and what the rules
say. Nothing here reads pixels: a model trained on annotated feedback needs no frame at run time.

Tracks read back from the store before votes were stored count their whole weight
(``hits * mean_score``) for their own label, as the live path would have voted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import NDArray

from hearthcam.labels import ANIMAL_LABELS, PERSON_LABELS, VEHICLE_LABELS
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import Event, TrackSummary, Verdict

Vector = NDArray[np.float32]

GROUPS: Final = (("person", PERSON_LABELS), ("animal", ANIMAL_LABELS), ("vehicle", VEHICLE_LABELS))
_PER_GROUP: Final = ("vote", "tracks", "best", "hits", "area", "travel", "dwell")
_RULE_VERDICTS: Final = (Verdict.THREAT, Verdict.PET, Verdict.VEHICLE, Verdict.MOTION)

FEATURE_NAMES: Final[tuple[str, ...]] = (
    *(f"{g}_{p}" for g, _ in GROUPS for p in _PER_GROUP),
    "other_vote",
    "tracks",
    "duration",
    "in_zone",
    "hour_sin",
    "hour_cos",
    "night",
    *(f"rules_{v.value}" for v in _RULE_VERDICTS),
)
# Bump when a feature is added, removed or computed differently: a model records the version it
# was trained on and the live path refuses a model of another version (it falls back to rules).
FEATURES_VERSION: Final = 1

_RULES: Final = RuleVerdict()


def _votes(track: TrackSummary) -> tuple[tuple[str, float], ...]:
    return track.votes or ((track.label, track.hits * track.mean_score),)


def _group_features(tracks: Sequence[TrackSummary], labels: frozenset[str]) -> list[float]:
    mine = [t for t in tracks if _RULES.label(t) in labels]
    vote = sum(v for t in tracks for name, v in _votes(t) if name in labels)
    return [
        vote,
        float(len(mine)),
        max((t.best_score for t in mine), default=0.0),
        float(max((t.hits for t in mine), default=0)),
        max((t.max_area_ratio for t in mine), default=0.0),
        max((t.travel for t in mine), default=0.0),
        max((t.last_pts - t.first_pts for t in mine), default=0.0),
    ]


def local_hour(wall: float, tz: dt.tzinfo | None) -> float:
    """The hour of the day (0..24, fractional) at ``wall`` in ``tz`` (None: this machine's)."""
    when = (
        dt.datetime.fromtimestamp(wall, tz) if tz is not None else dt.datetime.fromtimestamp(wall)
    )
    return when.hour + when.minute / 60 + when.second / 3600


def event_features(event: Event, tz: dt.tzinfo | None = None) -> Vector:
    """The feature vector of an event (``FEATURE_NAMES`` order), from its tracks and times."""
    tracks = event.tracks
    total = sum(v for t in tracks for _, v in _votes(t)) or 1.0
    grouped = [x for _, labels in GROUPS for x in _group_features(tracks, labels)]
    # Votes as shares of the event's whole vote: a long event is not more of a person.
    for i in range(len(GROUPS)):
        grouped[i * len(_PER_GROUP)] /= total
    known = PERSON_LABELS | ANIMAL_LABELS | VEHICLE_LABELS
    other = sum(v for t in tracks for name, v in _votes(t) if name not in known) / total
    hour = local_hour(event.wall_start, tz)
    rules, _ = _RULES.decide(tracks)
    values = [
        *grouped,
        other,
        float(len(tracks)),
        max(0.0, event.end - event.start),
        1.0 if event.zones else 0.0,
        math.sin(2 * math.pi * hour / 24),
        math.cos(2 * math.pi * hour / 24),
        1.0 if hour >= 22 or hour < 5 else 0.0,
        *(1.0 if rules is v else 0.0 for v in _RULE_VERDICTS),
    ]
    return np.asarray(values, dtype=np.float32)


def feature_matrix(events: Sequence[Event], tz: dt.tzinfo | None = None) -> NDArray[np.float32]:
    """One row per event."""
    if not events:
        return np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
    return np.stack([event_features(e, tz) for e in events])
