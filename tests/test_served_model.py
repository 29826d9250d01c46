"""The live verdict follows the registry: the served model at start, promote / rollback /
withdrawal while running, the rules when there is none or its file is broken."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pytest

from hearthcam import app
from hearthcam.config import parse_config
from hearthcam.learn.retrain import Outcome, TrainingError, train_once
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.pipeline.learned import LearnedVerdict, VerdictSlot
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.served_model import ModelWatcher, served_verdict
from hearthcam.types import Verdict
from tests.learn.test_retrain import NOW, Home, annotate, home
from tests.learn.test_train import world
from tests.pipeline.test_features import event
from tests.pipeline.test_verdict import track

__all__ = ["home"]

PASSER = track("person", hits=5, travel=0.7)
NOON = event(PASSER, wall=dt.datetime(2026, 6, 1, 13, 0).timestamp())  # local time


def trained(home: Home) -> str:
    events, truth = world(120, seed=9)
    annotate(home, events, truth, households=5)
    outcome = train_once(home.store, home.data, NOW)
    assert outcome.promoted
    return outcome.candidate.id


def test_no_model_means_the_rules(home: Home) -> None:
    slot = served_verdict(home.store, home.data)
    assert slot.model_id is None
    assert slot.decide([PASSER], NOON)[0] is Verdict.THREAT


def test_the_served_model_judges_live_events(home: Home) -> None:
    model_id = trained(home)
    slot = served_verdict(home.store, home.data)
    assert slot.model_id == model_id
    assert slot.decide([PASSER], NOON)[0] is Verdict.MOTION  # a passer-by by day: benign


def test_the_runtime_is_built_with_the_served_model(home: Home) -> None:
    model_id = trained(home)
    config = parse_config({"data_dir": str(home.data)})
    runtime = app.build(config, detector=ScriptedDetector([]))
    try:
        assert runtime.parts is not None
        assert isinstance(runtime.parts.verdict, VerdictSlot)
        assert runtime.parts.verdict.model_id == model_id
        assert runtime.models is not None
        assert runtime.models.slot is runtime.parts.verdict  # what start() keeps current
        runtime.start(retention=False)
        assert any(t.name == "models" for t in runtime.threads)
    finally:
        runtime.close()


def test_a_broken_model_file_falls_back_to_the_rules(
    home: Home, caplog: pytest.LogCaptureFixture
) -> None:
    model_id = trained(home)
    home.registry.file_of(model_id).write_bytes(b"garbage")
    # On this module's logger: other tests (bench) leave the "hearthcam" logger at ERROR.
    with caplog.at_level(logging.WARNING, logger="hearthcam.served_model"):
        slot = served_verdict(home.store, home.data)
    assert slot.model_id is None
    assert "cannot be used" in caplog.text


def test_the_watcher_follows_rollback_promote_and_withdrawal(home: Home) -> None:
    model_id = trained(home)
    slot = VerdictSlot(RuleVerdict())
    watcher = ModelWatcher(slot, home.store, home.data, retrain=True)
    assert watcher.check()
    assert slot.model_id == model_id
    assert not watcher.check()  # nothing changed
    home.registry.rollback(NOW + 1)
    assert watcher.check()
    assert slot.model_id is None
    home.registry.promote(model_id, NOW + 2)
    watcher.check()
    assert slot.model_id == model_id
    # The owner withdraws a clip the model was trained on: the model is tainted, the slot
    # leaves it, and the queued retrain makes a model without the clip.
    gone = home.shares[3]
    home.sharing.listeners = [*home.sharing.listeners, watcher]
    assert home.sharing.withdraw(gone) is not None
    watcher.check()
    assert slot.model_id is None
    assert slot.decide([PASSER], NOON)[0] is Verdict.THREAT  # the rules again
    assert watcher.retrain_if_queued(NOW + 3)
    watcher.check()
    served = home.registry.served()
    assert served is not None
    assert slot.model_id == served.id != model_id
    assert gone not in served.clips
    assert isinstance(slot._current, LearnedVerdict)


def test_the_watcher_thread_stops_with_the_runtime(home: Home) -> None:
    slot = VerdictSlot(RuleVerdict())
    watcher = ModelWatcher(slot, home.store, home.data, interval=3600)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop,))
    thread.start()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()  # it does not wait out its hour


def test_the_review_queue_is_ranked_by_the_served_model(home: Home) -> None:
    model_id = trained(home)
    config = parse_config({"data_dir": str(home.data)})
    runtime = app.build(config, detector=ScriptedDetector([]))
    try:
        slot = runtime.parts.verdict if runtime.parts else None
        assert isinstance(slot, VerdictSlot)
        assert slot.model_id == model_id
        p = slot.probabilities(NOON)
        assert p is not None
        assert set(p) == {"threat", "benign_person", "pet", "false_alarm"}
        assert max(p, key=lambda c: p[c]) == "benign_person"
        desk = app.review_desk(runtime)
        assert desk._scorer(NOON) == p
        slot.use(RuleVerdict(), None)
        assert slot.probabilities(NOON) is None
    finally:
        runtime.close()


def test_a_queued_retrain_goes_to_the_watchers_trainer(home: Home) -> None:
    """With the Ray engine the watcher's trainer is a cluster's (hearthcam.cluster.training):
    the queued retrain goes there, not to train_once in this process; a refusal is retried
    later, as a local one is."""
    trained(home)
    asked: list[float] = []

    def trainer(now: float, **_: object) -> Outcome:
        asked.append(now)
        if len(asked) == 1:
            raise TrainingError("too few annotations on the cluster")
        return train_once(home.store, home.data, now)

    watcher = ModelWatcher(
        VerdictSlot(RuleVerdict()), home.store, home.data, retrain=True, retry=60, trainer=trainer
    )
    home.sharing.listeners = [*home.sharing.listeners, watcher]
    assert home.sharing.withdraw(home.shares[0]) is not None  # queues a retrain
    assert not watcher.retrain_if_queued(NOW + 3)  # refused: tried again after ``retry``
    assert not watcher.retrain_if_queued(NOW + 4)
    assert watcher.retrain_if_queued(NOW + 64)
    assert asked == [NOW + 3, NOW + 64]
    assert home.registry.retrains() == []  # answered
