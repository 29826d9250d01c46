"""A training run over a real SQLite store: annotated shared events in, a promoted model out,
and a withdrawn clip taking its model with it."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from hearthcam.app import open_media
from hearthcam.learn.registry import ModelRegistry, ModelStatus
from hearthcam.learn.retrain import SPLIT_KEY_FILE, TrainingError, split, split_key, train_once
from hearthcam.privacy.consent import Sharing
from hearthcam.store.annotations import AnnotationRecord, AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, ShareStore
from hearthcam.types import Event
from tests.learn.test_train import world as toy_world

NOW = dt.datetime(2026, 11, 30, 12, 0).timestamp()


@dataclass
class Home:
    data: Path
    store: Store
    registry: ModelRegistry
    sharing: Sharing
    shares: list[str]


def annotate(home: Home, events: list[Event], truth: list[str], households: int) -> None:
    """Each event recorded, shared, published and annotated (households round robin)."""
    rng = random.Random(0)
    for i, (event, verdict) in enumerate(zip(events, truth, strict=True)):
        # Spread over a few days of the local clock so events are ordered in time.
        ev = replace(event, id=uuid.uuid4().hex, camera=f"cam{i % households}")
        home.store.save_event(ev)
        share_id = uuid.uuid4().hex
        ShareStore(home.store).add(
            ShareRecord(
                share_id, ev.id, 100 + i % households, 1, ev.camera, "published", "",
                NOW, NOW + 30 * 86400, NOW, {"purpose": "feedback"},
                f"{rng.getrandbits(64):064x}", {},
            )
        )  # fmt: skip
        reason = "light" if verdict == "false_alarm" else None
        AnnotationStore(home.store).add_annotation(
            AnnotationRecord(0, share_id, f"lease-{i}", 9, verdict, reason, [], NOW)
        )
        home.shares.append(share_id)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    data = tmp_path / "data"
    data.mkdir()
    store = Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data)
    registry = ModelRegistry(store, data)
    sharing = Sharing(ShareStore(store), data, listeners=[registry], media=open_media(store, data))
    yield Home(data, store, registry, sharing, [])
    store.close()


def test_too_few_annotations_is_a_clear_error(home: Home) -> None:
    events, truth = toy_world(4, seed=1)
    annotate(home, events[:1], truth[:1], households=1)
    with pytest.raises(TrainingError, match="fewer than two different verdicts"):
        train_once(home.store, home.data, NOW)
    assert home.registry.models() == []


def test_a_run_trains_evaluates_registers_and_promotes_over_the_rules(home: Home) -> None:
    events, truth = toy_world(160, seed=7)
    annotate(home, events, truth, households=5)
    steps: list[str] = []
    outcome = train_once(home.store, home.data, NOW, step=steps.append)
    assert outcome.baseline == "rules"
    assert outcome.train + outcome.test == 160
    assert outcome.test > 0
    assert outcome.split_note.startswith("by household")
    # The rules call every benign passer-by a threat; the model does not, at equal recall.
    assert outcome.baseline_metrics.false_alerts > 0
    assert outcome.candidate_metrics.false_alerts < outcome.baseline_metrics.false_alerts
    assert outcome.candidate_metrics.threat_recall >= outcome.baseline_metrics.threat_recall
    assert outcome.promoted
    served = home.registry.served()
    assert served is not None
    assert served.id == outcome.candidate.id
    assert sorted(served.clips) == sorted(home.shares)
    assert home.registry.file_of(served.id).is_file()
    assert served.metrics["baseline_model"] == "rules"
    assert steps[0] == "gathering annotated events"
    # A second run is compared with the model now served, on the same held-out households.
    again = train_once(home.store, home.data, NOW + 1)
    assert again.baseline == served.id
    assert again.test == outcome.test
    assert not again.promoted  # the same data cannot beat itself
    assert home.registry.served() == served


def test_the_split_is_stable_and_never_mixes_a_household(home: Home) -> None:
    events, truth = toy_world(60, seed=3)
    annotate(home, events, truth, households=6)
    key = split_key(home.data)
    assert (home.data / SPLIT_KEY_FILE).stat().st_mode & 0o777 == 0o600
    from hearthcam.learn.retrain import examples

    items = examples(home.store, home.data, key)
    train, test, _ = split(items, key, 0.3)
    assert {e.clip.household for e in train}.isdisjoint({e.clip.household for e in test})
    assert train
    assert test
    again = split(examples(home.store, home.data, split_key(home.data)), key, 0.3)
    assert [e.clip.share_id for e in again[1]] == [e.clip.share_id for e in test]


def test_one_household_is_split_by_time(home: Home) -> None:
    events, truth = toy_world(40, seed=5)
    timed = [replace(e, wall_start=NOW - 86400 * 40 + i * 86400) for i, e in enumerate(events)]
    annotate(home, timed, truth, households=1)
    key = split_key(home.data)
    from hearthcam.learn.retrain import examples

    train, test, note = split(examples(home.store, home.data, key), key, 0.25)
    assert "by time" in note
    assert len(test) == 10
    assert max(e.event.wall_start for e in train) < min(e.event.wall_start for e in test)


def test_withdrawing_a_clip_retires_its_model_and_the_queued_retrain_leaves_it_out(
    home: Home,
) -> None:
    events, truth = toy_world(160, seed=11)
    annotate(home, events, truth, households=5)
    first = train_once(home.store, home.data, NOW)
    assert first.promoted
    gone = home.shares[0]
    assert home.sharing.withdraw(gone) is not None
    tainted = home.registry.get(first.candidate.id)
    assert tainted is not None
    assert tainted.status is ModelStatus.TAINTED
    assert not home.registry.file_of(first.candidate.id).exists()
    assert home.registry.served() is None  # nothing untainted promoted: the rules serve
    assert len(home.registry.retrains()) == 1
    retrained = train_once(home.store, home.data, NOW + 60)
    assert home.registry.retrains() == []  # the run answered the queue
    assert gone not in retrained.candidate.clips
    assert retrained.baseline == "rules"
    assert retrained.promoted
    for model in home.registry.models():
        if model.status is ModelStatus.PROMOTED:
            assert gone not in model.clips
    served = home.registry.served()
    assert served is not None
    assert gone not in served.clips


def test_an_event_whose_clips_were_shared_one_by_one_is_one_example(home: Home) -> None:
    from hearthcam.learn.retrain import examples

    events, truth = toy_world(6, seed=5)
    annotate(home, events, truth, households=1)
    first = ShareStore(home.store).get(home.shares[0])
    assert first is not None
    # The event's second clip, shared too: its annotator saw the threat the first missed.
    second_id = uuid.uuid4().hex
    ShareStore(home.store).add(replace(first, id=second_id, receipt={"clip": {"part": 2}}))
    AnnotationStore(home.store).add_annotation(
        AnnotationRecord(0, second_id, "lease-x", 9, "threat", None, [], NOW)
    )
    found = examples(home.store, home.data, split_key(home.data))
    assert len(found) == 6
    ofevent = [e for e in found if e.event.id == first.event_id]
    assert [e.verdict for e in ofevent] == ["threat"]
