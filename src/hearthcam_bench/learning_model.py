"""The verdict model the learning benchmark trains: the project's own, or a stand-in until then.

The benchmark must train exactly what ``hearthcam train`` trains: ``learn.train.fit`` over
``pipeline.features.event_features``. Those are being written beside this benchmark; until they
exist this module falls back to a *stand-in* (a small multinomial logistic regression in NumPy
over a handful of track features) and says so in every table (``Trainer.name``). The stand-in
is not meant to ship: it exists so the benchmark's plumbing can be measured and tested now.
"""

from __future__ import annotations

import datetime as dt
import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hearthcam.labels import ANIMAL_LABELS, PERSON_LABELS, VEHICLE_LABELS
from hearthcam.types import Event

Matrix = NDArray[np.float64]


class Model(Protocol):
    """A trained verdict model: class probabilities for feature rows."""

    def proba(self, x: Matrix, classes: Sequence[str]) -> Matrix:
        """(n, len(classes)) probabilities, columns in ``classes`` order (0 for unseen ones)."""
        ...


@dataclass(frozen=True)
class Trainer:
    """Features and a fit function, with the name the tables show."""

    name: str
    features: Callable[[Event], NDArray[np.float64]]
    fit: Callable[[Matrix, Sequence[str]], Model]


# --- the stand-in ------------------------------------------------------------------------------


def standin_features(event: Event) -> NDArray[np.float64]:
    """Hour of day, duration, per-kind vote shares, best scores, size, travel, dwell, door."""
    hour = dt.datetime.fromtimestamp(event.wall_start, dt.UTC).hour
    votes: dict[str, float] = {}
    for track in event.tracks:
        for label, vote in track.votes:
            votes[label] = votes.get(label, 0.0) + vote
    whole = sum(votes.values()) or 1.0

    def share(labels: frozenset[str]) -> float:
        return sum(v for k, v in votes.items() if k in labels) / whole

    people = [t for t in event.tracks if t.label in PERSON_LABELS]
    tracks = event.tracks
    return np.array(
        [
            math.sin(2 * math.pi * hour / 24),
            math.cos(2 * math.pi * hour / 24),
            1.0 if hour >= 22 or hour < 5 else 0.0,
            event.end - event.start,
            float(len(tracks)),
            share(PERSON_LABELS),
            share(ANIMAL_LABELS),
            share(VEHICLE_LABELS),
            max((t.best_score for t in people), default=0.0),
            float(max((t.hits for t in tracks), default=0)),
            max((t.max_area_ratio for t in tracks), default=0.0),
            max((t.travel for t in tracks), default=0.0),
            max((t.last_pts - t.first_pts for t in tracks), default=0.0),
            1.0 if "door" in event.zones else 0.0,
        ]
    )


@dataclass(frozen=True)
class _Softmax:
    mean: Matrix
    scale: Matrix
    weights: Matrix
    seen: tuple[str, ...]

    def proba(self, x: Matrix, classes: Sequence[str]) -> Matrix:
        z = np.hstack([(x - self.mean) / self.scale, np.ones((len(x), 1))]) @ self.weights
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        out = np.zeros((len(x), len(classes)))
        for j, name in enumerate(self.seen):
            out[:, list(classes).index(name)] = p[:, j]
        return out


def standin_fit(x: Matrix, y: Sequence[str], steps: int = 400, l2: float = 1e-2) -> Model:
    """Multinomial logistic regression by gradient descent (standardised inputs, L2)."""
    seen = tuple(sorted(set(y)))
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    xs = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    target = np.array([[1.0 if label == c else 0.0 for c in seen] for label in y])
    w = np.zeros((xs.shape[1], len(seen)))
    for _ in range(steps):
        z = xs @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= 0.5 * (xs.T @ (p - target) / len(xs) + l2 * w)
    return _Softmax(mean, scale, w, seen)


STANDIN = Trainer("stand-in (NumPy logistic regression)", standin_features, standin_fit)


# --- the project's own -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Project:
    trained: Any
    classes: tuple[str, ...]

    def proba(self, x: Matrix, classes: Sequence[str]) -> Matrix:
        p = np.asarray(self.trained.predict_proba(x), dtype=np.float64)
        out = np.zeros((len(x), len(classes)))
        for j, name in enumerate(self.classes):
            out[:, list(classes).index(name)] = p[:, j]
        return out


def project_trainer() -> Trainer | None:
    """``learn.train.fit`` over ``pipeline.features.event_features``, once both exist."""
    try:
        features = importlib.import_module("hearthcam.pipeline.features")
        train = importlib.import_module("hearthcam.learn.train")
    except ImportError:
        return None

    def feats(event: Event) -> NDArray[np.float64]:
        return np.asarray(features.event_features(event, dt.UTC), dtype=np.float64)

    def fit(x: Matrix, y: Sequence[str]) -> Model:
        trained = train.fit(x, list(y))
        # The column order of predict_proba: the model's own if it says (sklearn: classes_).
        classes = next(
            (
                list(c)
                for c in (getattr(trained, n, None) for n in ("classes", "classes_"))
                if c is not None
            ),
            sorted(set(y)),
        )
        return _Project(trained, tuple(str(c) for c in classes))

    return Trainer("learn.train.fit", feats, fit)


def default_trainer() -> Trainer:
    """The project's trainer when it exists, else the stand-in."""
    return project_trainer() or STANDIN
