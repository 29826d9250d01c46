"""Simulated annotation rounds: how many human-viewed seconds until false alerts reach a target.

A pool of the train households' clips starts unlabelled but for a small random seed set. Each
round a strategy picks ``batch`` clips; a "human" labels them (their ground truth; each clip's
length counts as seconds viewed), the model is retrained on every labelled clip's events and
measured on the test households at equal threat recall. The run stops when the false alerts
per camera-day reach the target, or the pool is empty (target not reached). ``random`` picks
uniformly; ``active`` ranks with ``annotate.active`` using the current model's probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from hearthcam.annotate import active
from hearthcam.types import TrackSummary, Verdict
from hearthcam_bench import learning_metrics as lm
from hearthcam_bench.learning_model import Matrix, Model, Trainer


@dataclass(frozen=True)
class World:
    """The train pool and the test set, with features computed once."""

    train: lm.Split
    test: lm.Split
    x_train: Matrix
    x_test: Matrix
    recall: float  # the rules' threat recall on the test set: the model must match it
    fallback: float  # the rules' false alerts per camera-day: before any model exists

    def clips(self) -> dict[str, list[int]]:
        """Train clips that made events, with their sample rows."""
        rows: dict[str, list[int]] = {}
        for i, s in enumerate(self.train.samples):
            rows.setdefault(s.clip.id, []).append(i)
        return rows


@dataclass
class Run:
    """One simulated labelling run: seconds viewed and false alerts after each round."""

    seconds: list[float] = field(default_factory=list)
    false_alerts: list[float] = field(default_factory=list)
    reached_at: float | None = None


def measure(world: World, rows: Sequence[int], trainer: Trainer) -> tuple[float, Model | None]:
    """False alerts per camera-day of a model trained on these sample rows (rules if none)."""
    truths = [world.train.samples[i].truth for i in rows]
    if lm.THREAT not in truths or len(set(truths)) < 2:
        return world.fallback, None  # nothing to learn a threat from yet: the rules stay
    model = trainer.fit(world.x_train[list(rows)], truths)
    p = model.proba(world.x_test, lm.CLASSES)[:, lm.CLASSES.index(lm.THREAT)]
    threshold = lm.threshold_for(world.test, p, world.recall)
    return lm.outcome(world.test, p >= threshold, threshold).per_camera_day, model


def _candidates(
    world: World, clips: dict[str, list[int]], keys: Sequence[str], model: Model | None
) -> list[active.Candidate]:
    out = []
    proba = model.proba(world.x_train, lm.CLASSES) if model is not None else None
    t = lm.CLASSES.index(lm.THREAT)
    for age, key in enumerate(keys):
        rows = clips[key]
        events = [world.train.samples[i].event for i in rows]
        # The clip is judged by its most alarming event, as the alert would be.
        lead = max(rows, key=lambda i: proba[i, t]) if proba is not None else rows[0]
        threat = any(e.verdict is Verdict.THREAT for e in events)
        tracks: tuple[TrackSummary, ...] = tuple(tr for e in events for tr in e.tracks)
        out.append(
            active.Candidate(
                key=key,
                rule_verdict=Verdict.THREAT if threat else events[0].verdict,
                rule_score=max(e.score for e in events),
                tracks=tracks,
                night=world.train.samples[rows[0]].clip.night,
                proba=None if proba is None else dict(zip(lm.CLASSES, proba[lead], strict=True)),
                features=world.x_train[lead],
                age=float(age),
            )
        )
    return out


def _labelled(world: World, clips: dict[str, list[int]], keys: Sequence[str]) -> active.Labelled:
    counts: dict[str, int] = {}
    night = 0
    for key in keys:
        sample = world.train.samples[clips[key][0]]
        counts[sample.truth] = counts.get(sample.truth, 0) + 1
        night += sample.clip.night
    return active.Labelled(counts, night)


def simulate(
    world: World,
    trainer: Trainer,
    strategy: str,
    seed: int,
    seed_clips: int,
    batch: int,
    target: float,
) -> Run:
    """One run of ``strategy`` ("active" or "random") from the seed set drawn with ``seed``."""
    clips = world.clips()
    rng = np.random.default_rng(seed)
    order = sorted(clips)
    labelled = [order[i] for i in rng.choice(len(order), min(seed_clips, len(order)), False)]
    seconds = {s.clip.id: s.clip.seconds for s in world.train.samples}
    run = Run()
    while True:
        rows = [i for k in labelled for i in clips[k]]
        fa, model = measure(world, rows, trainer)
        run.seconds.append(sum(seconds[k] for k in labelled))
        run.false_alerts.append(fa)
        left = [k for k in order if k not in set(labelled)]
        if fa <= target:
            run.reached_at = run.seconds[-1]
            return run
        if not left:
            return run
        if strategy == "random":
            picks = [left[i] for i in rng.choice(len(left), min(batch, len(left)), False)]
        else:
            ranked = active.rank(
                _candidates(world, clips, left, model),
                _labelled(world, clips, labelled),
                lm.CLASSES,
                k=batch,
                labelled_features=[world.x_train[clips[k][0]] for k in labelled],
            )
            picks = [r.key for r in ranked]
        labelled += picks
