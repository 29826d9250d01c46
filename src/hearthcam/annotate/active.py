"""Active learning: which unannotated clips are most worth a human's time.

A clip scores for four reasons, each in 0..1, weighted and summed:

- **uncertainty**: the current model cannot tell (small margin between its two likeliest
  classes, high entropy); with no model, the rules' own doubt (a person score near their
  threshold, an event opened by motion alone, tracks that saw several kinds of object);
- **disagreement**: the model and the rules would decide the alert differently, or the clip's
  tracks disagree about what they saw (person votes and animal votes on one event);
- **under-representation**: night clips while few night clips are labelled, and clips of a class
  the labelled set has little of;
- **diversity**, only when picking a batch: distance in feature space to what is labelled or
  already picked, so one batch is not ten copies of the same scene.

Pure: no store, no model object; callers pass probabilities and counts. The review desk ranks
its queue with it; ``hearthcam bench learning`` measures it against random picking. It lives in
annotate, not learn, because the desk uses it and learn reads annotate's records: imports run
learn -> annotate only (pyproject.toml's import contracts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hearthcam.types import TrackSummary, Verdict

THREAT = "threat"
# What each rules verdict means as a review class (an event with no object is a false alarm).
RULE_CLASS: dict[Verdict, str] = {
    Verdict.THREAT: "threat",
    Verdict.PET: "pet",
    Verdict.VEHICLE: "vehicle",
    Verdict.MOTION: "false_alarm",
    Verdict.FAMILIAR: "benign_person",
}
PERSON_THRESHOLD = 0.5  # RuleVerdict.person_min_score: scores near it are the rules' doubt


@dataclass(frozen=True, slots=True)
class Candidate:
    """What is known of one unannotated clip."""

    key: str
    rule_verdict: Verdict
    rule_score: float
    tracks: tuple[TrackSummary, ...] = ()
    night: bool = False
    proba: Mapping[str, float] | None = None  # the current model's class probabilities
    features: NDArray[np.float64] | None = None  # for the diversity term
    age: float = 0.0  # when it was shared; older wins ties


@dataclass(frozen=True, slots=True)
class Labelled:
    """What the labelled set already has: counts per class, and how many were at night."""

    counts: Mapping[str, int]
    night: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each reason counts (the benchmark's defaults)."""

    uncertainty: float = 1.0
    disagreement: float = 1.2
    rarity: float = 0.4
    night: float = 0.3
    diversity: float = 0.3


@dataclass(frozen=True, slots=True)
class Ranked:
    """A candidate's score and its parts (shown to explain the queue's order)."""

    key: str
    score: float
    uncertainty: float
    disagreement: float
    rarity: float


def model_uncertainty(proba: Mapping[str, float]) -> float:
    """1 - margin between the two likeliest classes, averaged with normalised entropy."""
    p = np.clip(np.array(sorted(proba.values(), reverse=True), dtype=np.float64), 0.0, 1.0)
    if len(p) < 2 or p.sum() <= 0:
        return 0.0
    p = p / p.sum()
    margin = 1.0 - float(p[0] - p[1])
    nz = p[p > 0]
    entropy = float(-(nz * np.log(nz)).sum() / math.log(len(p)))
    return (margin + entropy) / 2


def rule_uncertainty(verdict: Verdict, score: float, tracks: Sequence[TrackSummary]) -> float:
    """The rules' doubt: a threat score near the person threshold, motion-only events, split
    votes."""
    if verdict is Verdict.THREAT:
        doubt = 1.0 - min(1.0, abs(score - PERSON_THRESHOLD) / PERSON_THRESHOLD)
    elif verdict is Verdict.MOTION:
        # Tracks that never counted mean something was nearly seen; none at all is likely light.
        doubt = 0.6 if tracks else 0.3
    else:
        doubt = 0.4
    return max(doubt, track_conflict(tracks))


def track_conflict(tracks: Sequence[TrackSummary]) -> float:
    """How split the tracks' votes are between labels (0: one label only, ->1: even split)."""
    totals: dict[str, float] = {}
    for track in tracks:
        # Stored events keep no per-label votes: a track then counts for its label alone.
        votes = track.votes or ((track.label, track.best_score * track.hits),)
        for label, vote in votes:
            totals[label] = totals.get(label, 0.0) + vote
    whole = sum(totals.values())
    if whole <= 0 or len(totals) < 2:
        return 0.0
    return 1.0 - max(totals.values()) / whole


def disagreement(candidate: Candidate) -> float:
    """Model vs rules on the alert (|P(threat) - rules' alert|), or the tracks among themselves."""
    conflict = track_conflict(candidate.tracks)
    if candidate.proba is None:
        return conflict
    rules_alert = 1.0 if candidate.rule_verdict is Verdict.THREAT else 0.0
    return max(abs(candidate.proba.get(THREAT, 0.0) - rules_alert), conflict)


def likely_class(candidate: Candidate) -> str:
    """The model's likeliest class, else what the rules say."""
    if candidate.proba:
        return max(candidate.proba, key=lambda k: candidate.proba[k] if candidate.proba else 0)
    return RULE_CLASS[candidate.rule_verdict]


def rarity(candidate: Candidate, labelled: Labelled, classes: Sequence[str]) -> float:
    """How under-represented the clip's likely class is in the labelled set (0..1)."""
    if labelled.total == 0:
        return 1.0
    share = labelled.counts.get(likely_class(candidate), 0) / labelled.total
    fair = 1.0 / max(1, len(classes))
    return max(0.0, 1.0 - share / fair) if share < fair else 0.0


def night_need(candidate: Candidate, labelled: Labelled, target: float = 0.3) -> float:
    """1 for a night clip while fewer than ``target`` of the labelled clips are at night."""
    if not candidate.night:
        return 0.0
    share = labelled.night / labelled.total if labelled.total else 0.0
    return max(0.0, 1.0 - share / target)


def score(
    candidate: Candidate, labelled: Labelled, classes: Sequence[str], weights: Weights
) -> Ranked:
    """The candidate's worth without the diversity term."""
    if candidate.proba is not None:
        unsure = model_uncertainty(candidate.proba)
    else:
        unsure = rule_uncertainty(candidate.rule_verdict, candidate.rule_score, candidate.tracks)
    split = disagreement(candidate)
    rare = rarity(candidate, labelled, classes)
    total = (
        weights.uncertainty * unsure
        + weights.disagreement * split
        + weights.rarity * rare
        + weights.night * night_need(candidate, labelled)
    )
    return Ranked(candidate.key, total, unsure, split, rare)


def _distances(
    features: NDArray[np.float64], chosen: list[NDArray[np.float64]], scale: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Each row's distance to its nearest chosen vector (standardised, squashed to 0..1)."""
    if not chosen:
        return np.ones(len(features))
    others = np.stack(chosen) / scale
    d = np.sqrt(((features[:, None, :] / scale - others[None, :, :]) ** 2).sum(-1)).min(1)
    return np.asarray(1.0 - np.exp(-d / math.sqrt(features.shape[1])), dtype=np.float64)


def rank(
    candidates: Sequence[Candidate],
    labelled: Labelled,
    classes: Sequence[str],
    k: int | None = None,
    weights: Weights = Weights(),  # frozen: one shared default is safe
    labelled_features: Sequence[NDArray[np.float64]] = (),
) -> list[Ranked]:
    """The ``k`` (default all) candidates most worth annotating, best first.

    Picked greedily: after each pick the diversity term is recomputed against it. Equal scores
    go to the older clip."""
    base = [score(c, labelled, classes, weights) for c in candidates]
    want = len(candidates) if k is None else min(k, len(candidates))
    has_features = weights.diversity > 0 and all(c.features is not None for c in candidates)
    vectors = [c.features for c in candidates if c.features is not None]
    feats = np.stack(vectors) if has_features and candidates else None
    chosen = list(labelled_features)
    scale = np.ones(1)
    if feats is not None:
        pool = np.concatenate([feats, *(f[None] for f in chosen)]) if chosen else feats
        scale = np.where(pool.std(0) > 0, pool.std(0), 1.0)
    if feats is None:  # no diversity term: a plain sort
        order = sorted(
            range(len(base)), key=lambda i: (-round(base[i].score, 9), candidates[i].age)
        )
        return [base[i] for i in order[:want]]
    left = list(range(len(candidates)))
    out: list[Ranked] = []
    while len(out) < want:
        bonus = weights.diversity * _distances(feats[left], chosen, scale)
        totals = [base[i].score + float(b) for i, b in zip(left, bonus, strict=True)]
        best = max(range(len(left)), key=lambda j: (round(totals[j], 9), -candidates[left[j]].age))
        i = left.pop(best)
        out.append(
            Ranked(
                base[i].key, totals[best], base[i].uncertainty, base[i].disagreement, base[i].rarity
            )
        )
        chosen.append(feats[i])
    return out
