"""The hub's learning question: one verdict model on every home's annotations, or each home alone.

Households, clips and events are the learning benchmark's (``learning_scenes`` plans them,
``learning_events`` runs each through the real live path, cached), with more clips per
household so each has its own train and test days. Every household annotates what its cameras
saw on the first ``train_days`` of the week and is measured on the rest. For each household in
turn (leave-one-household-out): **alone** trains ``learn.train.fit`` on its own annotations
only (a household with fewer than two verdicts among them cannot train and keeps the rules);
**pooled** trains on every *other* household's annotations, as a hub would pool them, and never
sees this household. Both are measured on this household's test days at the rules' threat recall
there (``learning_metrics``: the highest threshold keeping that recall). The model is fitted here
with the bench's trainer, not by the hub's own training (``hub.training``, ``hub train``), so
this measures the learning question, not the hub service.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hearthcam.pipeline.detect import Detector
from hearthcam.types import Event
from hearthcam_bench import learning_events as le
from hearthcam_bench import learning_metrics as lm
from hearthcam_bench import learning_scenes as ls
from hearthcam_bench import report as fmt
from hearthcam_bench.learning_model import Trainer, default_trainer
from hearthcam_bench.report import Report

Scores = NDArray[np.float64]


@dataclass(frozen=True)
class PoolSetup:
    """How many households, clips each, seconds a clip, and the days annotated for training."""

    households: int
    clips: int
    seconds: float
    train_days: int = 4  # of ls.DAYS (7): the rest are each household's test days
    plan_seed: int = 16


FULL = PoolSetup(households=8, clips=24, seconds=8.0)
QUICK = PoolSetup(households=3, clips=6, seconds=5.0)


@dataclass(frozen=True)
class HomeResult:
    """One household's test days under the rules, its own model and the pooled one."""

    household: str
    test: lm.Split
    rules: lm.Outcome
    alone: lm.Outcome
    alone_how: str
    pooled: lm.Outcome
    own_events: int
    pooled_events: int


def _day(clip: ls.ClipSpec) -> int:
    return int((clip.wall_start - ls.EPOCH) // 86_400)


def _part(clips: Sequence[ls.ClipSpec], events: dict[str, list[Event]]) -> lm.Split:
    return lm.Split(tuple(clips), tuple(lm.samples_of(clips, events)), frozenset())


def _scores(test: lm.Split, train: lm.Split, trainer: Trainer) -> Scores:
    """P(threat) of each test event by the model trained on ``train``; where ``train`` has
    fewer than two verdicts no model can be fitted and the rules stay (1 where they alert)."""
    if len({s.truth for s in train.samples}) < 2:
        return lm.rule_alerts(test).astype(np.float64)
    truths = [s.truth for s in train.samples]
    x_train = np.array([trainer.features(s.event) for s in train.samples], dtype=np.float64)
    model = trainer.fit(x_train, truths)
    if not test.samples:
        return np.zeros(0, dtype=np.float64)
    x_test = np.array([trainer.features(s.event) for s in test.samples], dtype=np.float64)
    return model.proba(x_test, lm.CLASSES)[:, lm.CLASSES.index(lm.THREAT)]


def compare(
    specs: Sequence[ls.ClipSpec], events: dict[str, list[Event]], setup: PoolSetup, trainer: Trainer
) -> tuple[list[HomeResult], float, float]:
    """Every household held out in turn: rules, alone and pooled on its test days; with the
    alone and pooled thresholds (one each, at the rules' recall over every test clip)."""
    households = sorted({c.household for c in specs})
    days = len(ls.Camera) * (ls.DAYS - setup.train_days)
    annotated = [c for c in specs if _day(c) < setup.train_days]
    tests, own, others, alone_p, pooled_p = [], [], [], [], []
    for home in households:
        held = [c for c in specs if c.household == home and _day(c) >= setup.train_days]
        tests.append(_part(held, events))
        own.append(_part([c for c in annotated if c.household == home], events))
        others.append(_part([c for c in annotated if c.household != home], events))
        alone_p.append(_scores(tests[-1], own[-1], trainer))
        pooled_p.append(_scores(tests[-1], others[-1], trainer))
    every = lm.Split(
        tuple(c for t in tests for c in t.clips), tuple(s for t in tests for s in t.samples),
        frozenset(),
    )  # fmt: skip
    recall = lm.outcome(every, lm.rule_alerts(every)).recall
    alone_t = lm.threshold_for(every, np.concatenate(alone_p), recall)
    pooled_t = lm.threshold_for(every, np.concatenate(pooled_p), recall)
    results = []
    for home, test, mine, theirs, a, p in zip(
        households, tests, own, others, alone_p, pooled_p, strict=True
    ):
        trainable = len({s.truth for s in mine.samples}) >= 2
        results.append(
            HomeResult(
                home, test, replace(lm.outcome(test, lm.rule_alerts(test)), camera_days=days),
                replace(lm.outcome(test, a >= alone_t, alone_t), camera_days=days),
                "own model" if trainable else "rules (cannot train)",
                replace(lm.outcome(test, p >= pooled_t, pooled_t), camera_days=days),
                len(mine.samples), len(theirs.samples),
            )
        )  # fmt: skip
    return results, alone_t, pooled_t


def _cell(o: lm.Outcome) -> str:
    return f"{o.false_alerts} ({fmt.num(o.per_camera_day, 3)})"


def table(
    compared: tuple[list[HomeResult], float, float], setup: PoolSetup, trainer: Trainer
) -> Report:
    results, alone_t, pooled_t = compared
    report = Report(
        "hub: pooled at a hub vs each home alone (false alerts (per camera-day) on held-out days)",
        ["household", "test clips (threats)", "threats caught rules/alone/pooled", "rules",
         "alone", "alone trained on", "pooled", "pooled trained on"],
    )  # fmt: skip
    for r in results:
        catches = f"{r.rules.caught}/{r.alone.caught}/{r.pooled.caught}"
        report.add(
            r.household, f"{len(r.test.clips)} ({r.rules.threat_clips})", catches,
            _cell(r.rules), _cell(r.alone), f"{r.own_events} events, {r.alone_how}",
            _cell(r.pooled), f"{r.pooled_events} events (other homes)",
        )  # fmt: skip

    def median(pick: Callable[[HomeResult], lm.Outcome]) -> str:
        return fmt.num(statistics.median(pick(r).per_camera_day for r in results), 3)

    def total(pick: Callable[[HomeResult], lm.Outcome]) -> str:
        false = sum(pick(r).false_alerts for r in results)
        return f"{false} ({fmt.num(false / sum(pick(r).camera_days for r in results), 3)})"

    def caught(pick: Callable[[HomeResult], lm.Outcome]) -> int:
        return sum(pick(r).caught for r in results)

    threats = sum(r.rules.threat_clips for r in results)
    every = f"{caught(lambda r: r.rules)}/{caught(lambda r: r.alone)}/{caught(lambda r: r.pooled)}"
    report.add("median per camera-day", "", "", median(lambda r: r.rules),
               median(lambda r: r.alone), "", median(lambda r: r.pooled), "")  # fmt: skip
    report.add("all households", f"{sum(len(r.test.clips) for r in results)} ({threats})",
               every, total(lambda r: r.rules), total(lambda r: r.alone), "",
               total(lambda r: r.pooled), "")  # fmt: skip
    cannot = sum(r.alone_how != "own model" for r in results)
    days = len(ls.Camera) * (ls.DAYS - setup.train_days)
    report.notes += [
        "Measures the learning question, not the hub service: the model is fitted in this "
        "process, not by the hub's own training (hub.training, `hub train`).",
        f"The smallest honest version: {setup.households} simulated households x {setup.clips} "
        f"clips of {setup.seconds:g} s (the learning benchmark's generator, plan seed "
        f"{setup.plan_seed}: real footage and composited cut-outs, events from the real live "
        f"path); each household annotates its first {setup.train_days} of {ls.DAYS} days and "
        f"is measured on the other {ls.DAYS - setup.train_days} ({len(ls.Camera)} cameras, "
        f"{days} camera-days each).",
        f"Model: {trainer.name}. Alone: the household's own annotated events only "
        f"({cannot} of {len(results)} households had fewer than two verdicts, cannot train and "
        "keep the rules). Pooled: every other household's annotated events "
        "(leave-one-household-out: the pooled model never saw the household it is measured on).",
        "Equal threat recall: alone and pooled each get one threshold (alone "
        f"{alone_t:.3f}, pooled {pooled_t:.3f}), the highest whose recall over every "
        "household's test clips together is at least the rules' there, as in the learning "
        "benchmark (an operating point chosen on the test clips); per household the catches "
        "can differ, the column says by how much.",
        "The simulated households share the same three backgrounds and the same mix of "
        "happenings; real homes differ more from each other, which here favours pooling.",
    ]
    return report


def evaluate(
    setup: PoolSetup,
    cache: Path,
    work: Path,
    detector: Callable[[], Detector],
    progress: le.Progress | None = None,
    trainer: Trainer | None = None,
) -> list[Report]:
    """The pooled-vs-alone table for ``setup`` (events from ``cache`` where there)."""
    specs = ls.plan(setup.households, setup.clips, setup.plan_seed, setup.seconds)
    events = le.clip_events(specs, cache, work, detector, progress)
    chosen = trainer or default_trainer()
    return [table(compare(specs, events, setup, chosen), setup, chosen)]
