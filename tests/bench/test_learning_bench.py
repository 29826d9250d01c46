"""``hearthcam bench learning``: the counting (pure) and the scenario on a tiny configuration."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from hearthcam.config import DetectorConfig
from hearthcam.pipeline.detect import OnnxDetector, load_detector
from hearthcam.types import Event, Verdict
from hearthcam_bench import learning as bl
from hearthcam_bench import learning_events as le
from hearthcam_bench import learning_metrics as lm
from hearthcam_bench import learning_scenes as ls
from hearthcam_bench.learning_model import STANDIN, default_trainer, project_trainer, standin_fit
from hearthcam_bench.main import SCENARIOS, select

A, C = ls.Action, ls.Camera


def spec(n: int, household: str, action: ls.Action, night: bool = False) -> ls.ClipSpec:
    return ls.ClipSpec(f"c{n}", household, C.DOOR, action, night, ls.EPOCH, 10.0, n)


def event(n: int, verdict: Verdict) -> Event:
    return Event(f"e{n}", "cam", verdict, (), 0.0, 5.0, ls.EPOCH, ls.EPOCH + 5, 0.8)


def toy_split() -> lm.Split:
    clips = [
        spec(0, "h0", A.APPROACH),
        spec(1, "h0", A.PASS),
        spec(2, "h0", A.RAMP),
        spec(3, "h0", A.APPROACH),
        spec(4, "h0", A.CAT),
    ]
    events = {
        "c0": [event(0, Verdict.THREAT)],
        "c1": [event(1, Verdict.THREAT), event(2, Verdict.THREAT)],  # a passer-by: 2 false
        "c2": [event(3, Verdict.MOTION)],
        # c3: a threat the pipeline made no event of
        "c4": [event(4, Verdict.PET)],
    }
    return lm.Split(tuple(clips), tuple(lm.samples_of(clips, events)), frozenset({"h0"}))


def test_rules_false_alerts_and_recall_are_counted_per_event_and_per_clip() -> None:
    split = toy_split()
    got = lm.outcome(split, lm.rule_alerts(split))
    assert (got.false_alerts, got.threat_clips, got.caught) == (2, 2, 1)
    assert got.recall == 0.5
    assert got.camera_days == len(ls.Camera) * ls.DAYS
    assert got.per_camera_day == pytest.approx(2 / (len(ls.Camera) * ls.DAYS))


def test_the_threshold_is_the_highest_that_keeps_the_recall() -> None:
    split = toy_split()
    p = np.array([0.7, 0.9, 0.2, 0.1, 0.3])  # c0 (threat) 0.7; the passer-by 0.9 and 0.2
    assert lm.threshold_for(split, p, 0.5) == pytest.approx(0.7)
    alerts = p >= 0.7
    assert lm.outcome(split, alerts).false_alerts == 1
    # Full recall is impossible (c3 has no event): the threshold falls to 0, everything alerts.
    assert lm.threshold_for(split, p, 1.0) == 0.0


def test_households_are_never_in_both_parts() -> None:
    clips = ls.plan(7, 3, seed=5)
    split = lm.split_households(clips, {})
    train, test = split.part(test=False), split.part(test=True)
    assert {c.household for c in train.clips}.isdisjoint({c.household for c in test.clips})
    assert len(train.clips) + len(test.clips) == len(clips)
    assert len(test.test_households) == 2


def test_confusion_and_model_classes() -> None:
    proba = np.array([[0.4, 0.5, 0.1, 0.0, 0.0], [0.1, 0.1, 0.7, 0.0, 0.1]])
    predicted = lm.model_classes(proba, threshold=0.35)
    assert predicted == ["threat", "pet"]
    matrix = lm.confusion(["benign_person", "pet"], predicted)
    assert matrix[lm.CLASSES.index("benign_person"), lm.CLASSES.index("threat")] == 1
    assert matrix.sum() == 2


def test_the_standin_model_learns_a_separable_problem() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 0.3, (30, 2)), rng.normal(3, 0.3, (30, 2))])
    y = ["pet"] * 30 + ["threat"] * 30
    p = standin_fit(x, y).proba(np.array([[0.0, 0.0], [3.0, 3.0]]), lm.CLASSES)
    t, pet = lm.CLASSES.index("threat"), lm.CLASSES.index("pet")
    assert p[0, pet] > 0.9
    assert p[1, t] > 0.9
    assert p[:, lm.CLASSES.index("vehicle")].max() == 0.0  # never seen: never predicted


def test_learning_is_a_bench_scenario() -> None:
    assert "learning" in SCENARIOS
    assert select("learning") == ["learning"]


@pytest.fixture(scope="module")
def detector() -> OnnxDetector:
    return load_detector(DetectorConfig())


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One event cache for both trainers: the clips go through the pipeline once."""
    return tmp_path_factory.mktemp("learning-cache")


@pytest.mark.integration
@pytest.mark.parametrize("which", ["standin", "project"])
def test_the_scenario_on_a_tiny_configuration(
    tmp_path: Path, cache: Path, detector: OnnxDetector, which: str
) -> None:
    trainer = STANDIN if which == "standin" else project_trainer()
    assert trainer is not None  # learn.train and pipeline.features exist now
    tiny = bl.Setup(households=3, clips=4, seconds=6.0, seed_clips=2, batch=2, repeats=2)
    reports = bl.evaluate(tiny, cache, tmp_path / "work", lambda: detector, trainer)
    assert reports[1].rows[1][0] == f"trained ({trainer.name})"
    titles = [r.title for r in reports]
    assert titles[0] == "learning: generated clips"
    assert "before and after" in titles[1]
    assert titles[2:4] == [
        "learning: confusion, rules (events)",
        "learning: confusion, trained model (events)",
    ]
    assert "human-viewed seconds" in titles[4]
    clips = reports[0]
    assert sum(int(r[1]) + int(r[2]) for r in clips.rows) == 12
    assert reports[1].rows[0][0] == "rules (RuleVerdict)"
    assert [r[0] for r in reports[4].rows] == ["active", "random", "random / active"]

    # A second run answers from the cache: no clip goes through the pipeline again.
    def no_detector() -> OnnxDetector:
        raise AssertionError("cached")

    # The rules' confusion matrix holds every test event once.
    specs = ls.plan(tiny.households, tiny.clips, tiny.plan_seed, tiny.seconds)
    events = le.clip_events(specs, cache, tmp_path / "work", no_detector)
    test = lm.split_households(specs, events).part(test=True)
    assert sum(int(v) for r in reports[2].rows for v in r[1:]) == len(test.samples)
    again = bl.evaluate(tiny, cache, tmp_path / "work", no_detector, trainer)
    assert "12 of them from the event cache" in again[0].notes[0]
    assert again[1].rows == reports[1].rows


def test_the_project_trainer_is_used_once_it_exists_with_its_column_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stand-ins for learn.train / pipeline.features (being written beside this benchmark): the
    # adapter must pick them up and put predict_proba's columns in CLASSES order.
    class Fitted:
        classes_ = np.array(["threat", "pet"])

        def predict_proba(self, x: np.ndarray) -> np.ndarray:
            return np.tile([0.8, 0.2], (len(x), 1))

    features = types.ModuleType("hearthcam.pipeline.features")
    features.event_features = lambda event, tz: np.array([event.score])  # type: ignore[attr-defined]
    train = types.ModuleType("hearthcam.learn.train")
    train.fit = lambda x, y: Fitted()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hearthcam.pipeline.features", features)
    monkeypatch.setitem(sys.modules, "hearthcam.learn.train", train)
    trainer = default_trainer()
    assert trainer.name == "learn.train.fit"
    assert trainer.features(event(0, Verdict.PET)).tolist() == [0.8]
    p = trainer.fit(np.zeros((2, 1)), ["threat", "pet"]).proba(np.zeros((1, 1)), lm.CLASSES)
    assert p[0, lm.CLASSES.index("threat")] == 0.8
    assert p[0, lm.CLASSES.index("pet")] == 0.2
    assert p[0].sum() == pytest.approx(1.0)
