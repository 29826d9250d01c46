"""Tests of the verdict trainer, the ONNX file it writes and the live verdict that runs it."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import numpy as np
import onnx
import pytest

from hearthcam.learn.evaluate import beats, camera_days, evaluate, rules_predictions
from hearthcam.learn.train import choose_threshold, fit
from hearthcam.pipeline.features import FEATURE_NAMES, feature_matrix
from hearthcam.pipeline.learned import (
    META_FEATURES,
    LearnedVerdict,
    ModelFileError,
    VerdictNet,
    VerdictSlot,
)
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import Event, Verdict
from tests.pipeline.test_features import event
from tests.pipeline.test_verdict import track

UTC = dt.UTC


def at(hour: int, day: int = 1) -> float:
    return dt.datetime(2026, 6, day, hour, 10, tzinfo=UTC).timestamp()


def world(n: int, seed: int) -> tuple[list[Event], list[str]]:
    """People at night or lingering are threats, people passing by day benign; cats are pets;
    person-less flicker is a false alarm. The rules call every person a threat."""
    rng = random.Random(seed)
    events, truth = [], []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            events.append(
                event(track("person", hits=rng.randint(12, 30)), wall=at(rng.choice([23, 1, 3])))
            )
            truth.append("threat")
        elif kind == 1:
            p = track("person", hits=rng.randint(4, 8), travel=rng.uniform(0.4, 0.9))
            events.append(event(p, wall=at(rng.randint(9, 17))))
            truth.append("benign_person")
        elif kind == 2:
            events.append(event(track("cat", hits=rng.randint(3, 20)), wall=at(rng.randint(0, 23))))
            truth.append("pet")
        else:
            events.append(event(wall=at(rng.randint(0, 23))))
            truth.append("false_alarm")
    return events, truth


def test_fit_writes_an_onnx_model_the_live_path_runs() -> None:
    events, truth = world(80, seed=1)
    model = fit(feature_matrix(events, UTC), truth)
    assert set(model.classes) == {"threat", "benign_person", "pet", "false_alarm"}
    assert 0.05 <= model.threshold <= 0.5
    again = VerdictNet.from_bytes(model.payload)  # what the registry stores is what is served
    test_events, test_truth = world(40, seed=2)
    x = feature_matrix(test_events, UTC)
    assert np.allclose(again.proba(x), model.predict_proba(x))
    assert np.allclose(model.predict_proba(x).sum(1), 1.0, atol=1e-4)
    predicted = model.predict(x)
    learned = evaluate(test_truth, predicted, camera_days(test_events))
    rules = evaluate(test_truth, rules_predictions(test_events), camera_days(test_events))
    # The rules alert on every benign passer-by; the model learned the night and the dwell.
    assert rules.false_alerts == 10
    assert rules.threat_recall == 1.0
    assert learned.threat_recall == 1.0
    assert learned.false_alerts < rules.false_alerts
    assert beats(learned, rules)[0]


def test_the_live_verdict_uses_the_event_and_falls_back_without_it() -> None:
    events, truth = world(80, seed=3)
    net = fit(feature_matrix(events, None), truth).net  # live: the box's own time zone
    verdict = LearnedVerdict(net, "m1", RuleVerdict())
    passer = track("person", hits=5, travel=0.7)
    day = dt.datetime(2026, 6, 1, 13, 0).timestamp()  # local noon
    assert verdict.decide([passer])[0] is Verdict.THREAT  # no event: the rules
    judged, confidence = verdict.decide([passer], event(passer, wall=day))
    assert judged is Verdict.MOTION  # a benign person is not alert-worthy
    assert 0.0 < confidence <= 1.0
    assert verdict.labels([passer]) == ("person",)


def test_the_slot_swaps_models_while_in_use() -> None:
    events, truth = world(80, seed=4)
    net = fit(feature_matrix(events, None), truth).net
    slot = VerdictSlot(RuleVerdict())
    passer = track("person", hits=5, travel=0.7)
    seen = event(passer, wall=dt.datetime(2026, 6, 1, 13, 0).timestamp())
    assert slot.decide([passer], seen)[0] is Verdict.THREAT
    assert slot.model_id is None
    slot.use(LearnedVerdict(net, "m1", RuleVerdict()), "m1")
    assert slot.decide([passer], seen)[0] is Verdict.MOTION
    assert slot.model_id == "m1"


def test_broken_or_foreign_model_files_are_refused() -> None:
    with pytest.raises(ModelFileError):
        VerdictNet.from_bytes(b"not onnx")
    events, truth = world(40, seed=5)
    model = onnx.load_from_string(fit(feature_matrix(events, UTC), truth).payload)
    for entry in model.metadata_props:
        if entry.key == META_FEATURES:
            entry.value = "999"
    with pytest.raises(ModelFileError, match="features v999"):
        VerdictNet.from_bytes(model.SerializeToString())


def test_fit_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="features"):
        fit(np.zeros((4, 3)), ["pet", "threat", "pet", "threat"])
    with pytest.raises(ValueError, match="two different"):
        fit(np.zeros((3, len(FEATURE_NAMES))), ["pet"] * 3)


def test_threshold_keeps_the_target_share_of_threats() -> None:
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.1, 0.05])
    threat = np.array([True, True, True, True, False, False])
    t = choose_threshold(p, threat, target=0.75)  # may miss one of four: the 0.2
    assert 0.2 < t <= 0.3
    assert choose_threshold(p, threat, target=1.0) <= 0.2
    assert choose_threshold(np.array([0.99]), np.array([True]), 1.0) == 0.5  # capped


def test_evaluation_counts_and_promotion_rule() -> None:
    truth = ["threat", "threat", "pet", "benign_person", "false_alarm"]
    a = evaluate(truth, ["threat", "threat", "threat", "threat", "false_alarm"], 2.0)
    assert (a.alerts, a.false_alerts, a.threat_recall) == (4, 2, 1.0)
    assert a.false_alerts_per_camera_day == 1.0
    assert a.threat_precision == 0.5
    assert a.confusion["pet"]["threat"] == 1
    b = evaluate(truth, ["threat", "pet", "pet", "benign_person", "false_alarm"], 2.0)
    assert b.false_alerts == 0
    assert b.threat_recall == 0.5
    assert not beats(b, a)[0]  # fewer false alerts, but a missed threat
    c = evaluate(truth, ["threat", "threat", "pet", "threat", "false_alarm"], 2.0)
    assert beats(c, a)[0]
    assert not beats(a, c)[0]
    assert not beats(a, a)[0]
    assert not beats(evaluate([], [], 0.0), a)[0]


def test_camera_days_per_camera() -> None:
    day = 86400.0
    one = event(wall=0.0)
    late = event(wall=3 * day)
    other = replace(event(wall=day), camera="b")
    assert camera_days([one]) == 1.0  # at least a day
    assert camera_days([one, late]) == pytest.approx(3.0 + 8 / day)
    assert camera_days([one, late, other]) == pytest.approx(4.0 + 8 / day)
