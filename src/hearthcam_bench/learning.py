"""Scenario ``learning``: false alerts before and after training on annotated feedback, and
human-viewed seconds with active vs random selection.

Clips come from ``learning_scenes`` (real imagery, labelled by the generator's rules), their
events from the real live path (``learning_events``, cached). Households are split: the model
trains on the train households' annotated events and is measured on the test households at
equal threat recall (``learning_metrics``); the annotation rounds are ``learning_active``'s.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hearthcam.pipeline.detect import Detector
from hearthcam_bench import learning_active as la
from hearthcam_bench import learning_events as le
from hearthcam_bench import learning_metrics as lm
from hearthcam_bench import learning_scenes as ls
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.learning_model import Trainer, default_trainer
from hearthcam_bench.report import Report


@dataclass(frozen=True)
class Setup:
    """The size of one benchmark run."""

    households: int
    clips: int  # per household
    seconds: float  # per clip
    seed_clips: int  # labelled before the first round
    batch: int  # labelled per round
    repeats: int  # seeds of the simulated rounds (medians are reported)
    plan_seed: int = 1


FULL = Setup(households=24, clips=10, seconds=10.0, seed_clips=4, batch=2, repeats=15)
QUICK = Setup(households=6, clips=6, seconds=8.0, seed_clips=4, batch=2, repeats=3)
TARGET_CUT = 0.5  # at least 50 % fewer false alerts at equal threat recall
TARGET_SPEEDUP = 2.0  # active selection: at least 2x fewer human-viewed seconds


def world(split: lm.Split, trainer: Trainer) -> la.World:
    """Features for both parts, and the rules' recall and false alerts on the test part."""
    train, test = split.part(test=False), split.part(test=True)

    def matrix(part: lm.Split) -> np.ndarray:
        return np.array([trainer.features(s.event) for s in part.samples], dtype=np.float64)

    rules = lm.outcome(test, lm.rule_alerts(test))
    return la.World(train, test, matrix(train), matrix(test), rules.recall, rules.per_camera_day)


def _confusion(title: str, truths: list[str], predicted: list[str]) -> Report:
    table = Report(title, ["truth \\ predicted", *lm.CLASSES])
    for name, row in zip(lm.CLASSES, lm.confusion(truths, predicted), strict=True):
        table.add(name, *(str(int(v)) for v in row))
    return table


def before_after(w: la.World, trainer: Trainer) -> list[Report]:
    """The rules vs the model trained on every train-household event."""
    rules = lm.outcome(w.test, lm.rule_alerts(w.test))
    truths = [s.truth for s in w.train.samples]
    model = trainer.fit(w.x_train, truths)
    proba = model.proba(w.x_test, lm.CLASSES)
    p = proba[:, lm.CLASSES.index(lm.THREAT)]
    threshold = lm.threshold_for(w.test, p, rules.recall)
    after = lm.outcome(w.test, p >= threshold, threshold)
    cut = 1 - after.false_alerts / rules.false_alerts if rules.false_alerts else None
    table = Report(
        "learning: false alerts before and after training (test households)",
        ["verdict", "false alerts", "per camera-day", "threat recall", "threshold"],
    )
    for name, o in (("rules (RuleVerdict)", rules), (f"trained ({trainer.name})", after)):
        recall = f"{fmt.pct(100 * o.recall)} ({o.caught}/{o.threat_clips})"
        table.add(
            name, str(o.false_alerts), fmt.num(o.per_camera_day, 3), recall, fmt.num(o.threshold, 3)
        )
    met = None if cut is None else cut >= TARGET_CUT and after.recall >= rules.recall
    table.add(
        "fewer false alerts",
        fmt.pct(None if cut is None else 100 * cut),
        "",
        "",
        f"target >= 50 %: {fmt.verdict(met)}",
    )
    table.notes.append(
        f"{len(w.test.clips)} test clips from {len(w.test.test_households)} households "
        f"({w.test.camera_days} camera-days), {len(w.train.samples)} train events from "
        f"{len(w.train.clips)} clips; the threshold is the highest whose test recall is at least "
        "the rules' (an operating point chosen on the test set)."
    )
    tests = [s.truth for s in w.test.samples]
    return [
        table,
        _confusion("learning: confusion, rules (events)", tests, lm.rule_classes(w.test)),
        _confusion(
            "learning: confusion, trained model (events)", tests, lm.model_classes(proba, threshold)
        ),
    ]


def _median(values: list[float | None]) -> float | None:
    finite = [np.inf if v is None else v for v in values]
    m = float(statistics.median(finite))
    return None if np.isinf(m) else m


def active_vs_random(w: la.World, trainer: Trainer, setup: Setup) -> Report:
    """Median human-viewed seconds to the target false-alert rate, over ``repeats`` seeds."""
    target = w.fallback * (1 - TARGET_CUT)
    table = Report(
        "learning: human-viewed seconds to reach the target false-alert rate",
        ["selection", "median seconds", "worst run", "runs reaching it", "each run (s)"],
    )
    medians: dict[str, float | None] = {}
    for strategy in ("active", "random"):
        runs = [
            la.simulate(w, trainer, strategy, seed, setup.seed_clips, setup.batch, target)
            for seed in range(setup.repeats)
        ]
        reached = [r.reached_at for r in runs]
        medians[strategy] = _median(reached)
        each = ", ".join("-" if v is None else f"{v:.0f}" for v in reached)
        worst = None if None in reached else max(v for v in reached if v is not None)
        table.add(
            strategy,
            fmt.secs(medians[strategy], 0),
            fmt.secs(worst, 0),
            f"{sum(v is not None for v in reached)}/{len(runs)}",
            each,
        )
    a, r = medians["active"], medians["random"]
    speedup = r / a if a and r else None
    table.add(
        "random / active",
        fmt.ratio(speedup),
        "",
        "",
        f"target >= 2x: {fmt.verdict(None if speedup is None else speedup >= 2)}",
    )
    pool = len(w.clips())
    table.notes += [
        f"target: {target:.3f} false alerts per camera-day (half the rules' {w.fallback:.3f}) "
        "at the rules' threat recall; runs that never reach it count as infinite in the median.",
        f"pool: {pool} train clips with events ({pool * setup.seconds:.0f} s); each run starts "
        f"from {setup.seed_clips} random clips (the same seed set for both strategies) and "
        f"labels {setup.batch} a round, retraining each round.",
    ]
    return table


def data_table(split: lm.Split, reused: int) -> Report:
    """How many clips and events of each kind each part has."""
    table = Report(
        "learning: generated clips", ["truth", "train clips", "test clips", "events", "night clips"]
    )
    for name in lm.CLASSES:
        clips = [c for c in split.clips if ls.truth(c).value == name]
        train = [c for c in clips if c.household not in split.test_households]
        events = sum(1 for s in split.samples if s.truth == name)
        night = sum(c.night for c in clips)
        table.add(name, str(len(train)), str(len(clips) - len(train)), str(events), str(night))
    table.notes.append(
        f"{len(split.clips)} clips, {reused} of them from the event cache (generator "
        f"v{ls.GENERATOR_VERSION}); clips the pipeline made no event of have no rows to learn from."
    )
    return table


def evaluate(
    setup: Setup,
    cache: Path,
    work: Path,
    detector: Callable[[], Detector],
    trainer: Trainer,
    progress: le.Progress | None = None,
) -> list[Report]:
    """Every table of the scenario for ``setup``."""
    specs = ls.plan(setup.households, setup.clips, setup.plan_seed, setup.seconds)
    folder = le.cache_dir(cache)
    reused = sum((folder / f"{s.id}-{s.seed}.json").exists() for s in specs)
    events = le.clip_events(specs, cache, work, detector, progress)
    split = lm.split_households(specs, events)
    w = world(split, trainer)
    return [
        data_table(split, reused),
        *before_after(w, trainer),
        active_vs_random(w, trainer, setup),
    ]


def run(ctx: BenchContext) -> list[Report]:
    """The scenario at full size (or QUICK with --quick)."""
    setup = QUICK if ctx.quick else FULL
    with ctx.progress() as bar:
        task = bar.add_task("learning: clips through the live path", total=1.0)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done / total)

        return evaluate(
            setup,
            le.default_cache(),
            ctx.workdir("learning"),
            ctx.detector,
            default_trainer(),
            tick,
        )
