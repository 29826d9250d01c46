"""Judging verdict models on held-out households, and the rule that decides promotion.

*Alert-worthy* is a threat: the default alert rule alerts on threats only, so a **false alert**
is an event called a threat that the annotator said was anything else, and **threat recall**
is the share of the annotators' threats that were called threats.

**Camera-days.** Annotated events are a sample of what the cameras recorded, so false alerts
per camera-day here are per camera-day *of annotated footage*: for each held-out camera, the days
from its first to its last annotated event, at least one. On the benchmark, where every event
is labelled, it is the real rate.

**Promotion.** A candidate is promoted only if, on the same held-out split, it keeps at least
the current model's threat recall and has fewer false alerts, or it has more recall and no more
false alerts. The current model is the served one, or the rules when none is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hearthcam.annotate.workbench import ReviewVerdict
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import Event, Verdict

CLASSES: Final[tuple[str, ...]] = tuple(v.value for v in ReviewVerdict)
THREAT: Final = ReviewVerdict.THREAT.value
DAY: Final = 86400.0

# What the rules' live verdicts say in the annotators' terms (the rules never say benign).
RULES_AS_REVIEW: Final[dict[Verdict, str]] = {
    Verdict.THREAT: ReviewVerdict.THREAT.value,
    Verdict.PET: ReviewVerdict.PET.value,
    Verdict.VEHICLE: ReviewVerdict.VEHICLE.value,
    Verdict.MOTION: ReviewVerdict.FALSE_ALARM.value,
    Verdict.FAMILIAR: ReviewVerdict.BENIGN_PERSON.value,
}


@dataclass(frozen=True)
class Metrics:
    """One model on one split."""

    events: int
    threats: int
    alerts: int
    false_alerts: int
    camera_days: float
    threat_precision: float
    threat_recall: float
    confusion: dict[str, dict[str, int]]  # truth -> predicted -> count

    @property
    def false_alerts_per_camera_day(self) -> float:
        return self.false_alerts / self.camera_days if self.camera_days else 0.0

    def as_dict(self) -> dict[str, Any]:
        """For the registry's metrics column."""
        return {
            "events": self.events, "threats": self.threats, "alerts": self.alerts,
            "false_alerts": self.false_alerts, "camera_days": round(self.camera_days, 3),
            "false_alerts_per_camera_day": round(self.false_alerts_per_camera_day, 4),
            "threat_precision": round(self.threat_precision, 4),
            "threat_recall": round(self.threat_recall, 4), "confusion": self.confusion,
        }  # fmt: skip


def camera_days(events: Iterable[Event]) -> float:
    """Per camera, the days from its first to its last event (at least one), summed."""
    spans: dict[str, tuple[float, float]] = {}
    for event in events:
        lo, hi = spans.get(event.camera, (event.wall_start, event.wall_end))
        spans[event.camera] = (min(lo, event.wall_start), max(hi, event.wall_end))
    return sum(max(1.0, (hi - lo) / DAY) for lo, hi in spans.values())


def evaluate(truth: Sequence[str], predicted: Sequence[str], days: float) -> Metrics:
    """The metrics of ``predicted`` verdicts against the annotators' ``truth``."""
    if len(truth) != len(predicted):
        raise ValueError("one prediction per true verdict")
    confusion = {t: dict.fromkeys(CLASSES, 0) for t in CLASSES}
    for t, p in zip(truth, predicted, strict=True):
        confusion[t][p] += 1
    threats = sum(t == THREAT for t in truth)
    alerts = sum(p == THREAT for p in predicted)
    hits = sum(t == THREAT and p == THREAT for t, p in zip(truth, predicted, strict=True))
    return Metrics(
        events=len(truth), threats=threats, alerts=alerts, false_alerts=alerts - hits,
        camera_days=days, threat_precision=hits / alerts if alerts else 1.0,
        threat_recall=hits / threats if threats else 1.0, confusion=confusion,
    )  # fmt: skip


def rules_predictions(events: Sequence[Event], rules: RuleVerdict | None = None) -> list[str]:
    """What the rules say of each event, in the annotators' terms."""
    judge = rules or RuleVerdict()
    return [RULES_AS_REVIEW[judge.decide(e.tracks)[0]] for e in events]


def beats(candidate: Metrics, current: Metrics) -> tuple[bool, str]:
    """Whether the candidate may replace the current model, and why in words."""
    if candidate.events == 0:
        return False, "no held-out events to compare on"
    c, o = candidate, current
    if c.threat_recall < o.threat_recall:
        return False, f"threat recall {c.threat_recall:.2f} < {o.threat_recall:.2f}"
    if c.false_alerts < o.false_alerts:
        return True, f"false alerts {c.false_alerts} < {o.false_alerts} at ≥ threat recall"
    if c.threat_recall > o.threat_recall and c.false_alerts <= o.false_alerts:
        return True, f"threat recall {c.threat_recall:.2f} > {o.threat_recall:.2f}"
    return False, f"no better: {c.false_alerts} false alerts vs {o.false_alerts}"
