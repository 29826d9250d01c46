"""What the learning benchmark counts: false alerts per camera-day and threat recall.

Pure functions over a ``Split`` of labelled events. An *alert* is an event the verdict would
push to the owner (rules: their verdict is threat; a model: P(threat) over a threshold). A
*false alert* is an alerting event from a clip whose ground truth is not a threat. *Threat
recall* is per clip: the share of threat clips with at least one alerting event (a threat
clip the pipeline made no event of counts as missed by both). "At equal threat recall" means
the model's threshold is the highest one whose recall on the test households is at least the
rules' recall there: an operating point picked on the test set, as one compares two detectors
at the same recall; the docs say so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hearthcam.annotate.active import RULE_CLASS
from hearthcam.annotate.workbench import ReviewVerdict
from hearthcam.types import Event, Verdict
from hearthcam_bench import learning_scenes as ls

CLASSES: tuple[str, ...] = tuple(v.value for v in ReviewVerdict)
THREAT = ReviewVerdict.THREAT.value


@dataclass(frozen=True)
class Sample:
    """One event of a generated clip, with the clip's ground truth."""

    clip: ls.ClipSpec
    event: Event
    truth: str


@dataclass(frozen=True)
class Split:
    """Clips and their events, with the households held out for testing."""

    clips: tuple[ls.ClipSpec, ...]
    samples: tuple[Sample, ...]
    test_households: frozenset[str]

    def part(self, test: bool) -> Split:
        """Only the test (or only the train) households."""
        clips = tuple(c for c in self.clips if (c.household in self.test_households) == test)
        keep = {c.id for c in clips}
        samples = tuple(s for s in self.samples if s.clip.id in keep)
        return Split(clips, samples, self.test_households)

    @property
    def camera_days(self) -> int:
        """Every camera of every household here, over the plan's days."""
        return len({c.household for c in self.clips}) * len(ls.Camera) * ls.DAYS


def samples_of(clips: Sequence[ls.ClipSpec], events: Mapping[str, list[Event]]) -> list[Sample]:
    """Every event of every clip, labelled with its clip's truth."""
    return [Sample(c, e, ls.truth(c).value) for c in clips for e in events.get(c.id, [])]


def split_households(
    clips: Sequence[ls.ClipSpec], events: Mapping[str, list[Event]], share: float = 1 / 3
) -> Split:
    """Holds out every third household (at least one): no household is in both parts."""
    households = sorted({c.household for c in clips})
    every = max(2, round(1 / share))
    test = frozenset(h for i, h in enumerate(households) if i % every == every - 1)
    return Split(tuple(clips), tuple(samples_of(clips, events)), test or frozenset(households[-1:]))


@dataclass(frozen=True)
class Outcome:
    """False alerts and recall of one verdict on one set of clips."""

    false_alerts: int
    camera_days: int
    threat_clips: int
    caught: int
    threshold: float | None = None

    @property
    def per_camera_day(self) -> float:
        return self.false_alerts / self.camera_days if self.camera_days else 0.0

    @property
    def recall(self) -> float:
        return self.caught / self.threat_clips if self.threat_clips else 1.0


def outcome(split: Split, alerts: NDArray[np.bool_], threshold: float | None = None) -> Outcome:
    """Counts for per-sample alert decisions (in ``split.samples`` order)."""
    truths = np.array([s.truth for s in split.samples])
    false = int((alerts & (truths != THREAT)).sum())
    threat_clips = {c.id for c in split.clips if ls.truth(c).value == THREAT}
    caught = {s.clip.id for s, a in zip(split.samples, alerts, strict=True) if a} & threat_clips
    return Outcome(false, split.camera_days, len(threat_clips), len(caught), threshold)


def rule_alerts(split: Split) -> NDArray[np.bool_]:
    """Which events RuleVerdict made threats (the verdict the live path stored)."""
    return np.array([s.event.verdict is Verdict.THREAT for s in split.samples], dtype=bool)


def threshold_for(split: Split, p_threat: NDArray[np.float64], recall: float) -> float:
    """The highest threshold whose clip-level threat recall is at least ``recall``."""
    best: dict[str, float] = {c.id: -1.0 for c in split.clips if ls.truth(c).value == THREAT}
    for s, p in zip(split.samples, p_threat, strict=True):
        if s.clip.id in best:
            best[s.clip.id] = max(best[s.clip.id], float(p))
    if not best:
        return 1.0
    ranked = sorted(best.values(), reverse=True)
    need = max(1, int(np.ceil(recall * len(ranked) - 1e-9)))
    # A clip with no event (-1) can never be caught: the threshold stays a probability.
    return max(0.0, ranked[need - 1])


def confusion(truths: Sequence[str], predicted: Sequence[str]) -> NDArray[np.int64]:
    """Counts, rows = truth, columns = prediction, in CLASSES order."""
    matrix = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    for t, p in zip(truths, predicted, strict=True):
        matrix[CLASSES.index(t), CLASSES.index(p)] += 1
    return matrix


def rule_classes(split: Split) -> list[str]:
    """What the rules called each event, as review classes (motion is a false alarm)."""
    return [RULE_CLASS[s.event.verdict] for s in split.samples]


def model_classes(proba: NDArray[np.float64], threshold: float) -> list[str]:
    """Threat when P(threat) reaches the threshold, else the likeliest other class."""
    t = CLASSES.index(THREAT)
    others = proba.copy()
    others[:, t] = -1.0
    return [
        THREAT if row[t] >= threshold else CLASSES[int(np.argmax(o))]
        for row, o in zip(proba, others, strict=True)
    ]
