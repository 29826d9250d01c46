"""The review queue offers the clip most worth a human's time first (annotate.active), not oldest.

Real SQLite store, real share rows and events, real redacted files; the ranking itself is
tested purely in tests/learn/test_active.py.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hearthcam.annotate.desk import ReviewDesk, Scorer
from hearthcam.config import ReviewConfig
from hearthcam.privacy.consent import redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.store.annotations import AnnotationRecord, AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareRecord, ShareStore
from hearthcam.types import Event, TrackSummary, Verdict
from hearthcam.vault.media import PlainMedia
from tests.support.factories import make_h264_segment
from tests.support.store_fixtures import BACKENDS

NOW = 1_790_000_000.0
NOON = dt.datetime(2026, 9, 21, 12, tzinfo=dt.UTC).astimezone().replace(hour=12).timestamp()
NIGHT = dt.datetime.fromtimestamp(NOON).replace(hour=2).timestamp()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each queue test on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""
    return str(request.param)


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(database_url, data_dir=tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("queue") / "clip.mp4"
    make_h264_segment(path, seconds=1.0, fps=10)
    return path


def person(score: float, votes: Mapping[str, float] | None = None) -> TrackSummary:
    return TrackSummary(
        1,
        "person",
        score,
        score,
        8,
        0.0,
        4.0,
        0.05,
        0.2,
        frozenset(),
        tuple(sorted((votes or {"person": score * 8}).items())),
    )


def desk(store: Store, data_dir: Path, scorer: Scorer = lambda event: None) -> ReviewDesk:
    return ReviewDesk(
        AnnotationStore(store),
        ShareStore(store),
        store,
        data_dir,
        PlainMedia(),
        ReviewConfig(),
        scorer=scorer,
    )


def publish(
    store: Store,
    data_dir: Path,
    clip: Path,
    name: str,
    created: float,
    event: Event,
    receipt: dict[str, Any] | None = None,
) -> None:
    """An event, its published share (under ``receipt``), and its redacted copy on disk."""
    store.save_event(event)
    ShareStore(store).add(
        ShareRecord(
            name,
            event.id,
            1,
            1,
            "front",
            ShareStatus.PUBLISHED.value,
            "",
            created,
            created + 86_400,
            created,
            receipt or {},
            "",
            {},
        )
    )
    target = redacted_path(data_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, target)


def event(
    name: str, verdict: Verdict, score: float, tracks: tuple[TrackSummary, ...], wall: float
) -> Event:
    return Event(
        name,
        "front",
        verdict,
        ("person",) if tracks else (),
        0.0,
        4.0,
        wall,
        wall + 4,
        score,
        (),
        tracks,
    )


def order(d: ReviewDesk) -> list[str]:
    return [s.id for s in d._offerable(annotator_id=7)]


def test_without_a_model_the_rules_doubt_comes_first_and_age_breaks_ties(
    store: Store, tmp_path: Path, clip: Path
) -> None:
    sure = event("e-sure", Verdict.THREAT, 0.95, (person(0.95),), NOON)
    doubtful = event("e-doubt", Verdict.THREAT, 0.52, (person(0.52),), NOON)
    twin = event("e-twin", Verdict.THREAT, 0.95, (person(0.95),), NOON)
    publish(store, tmp_path, clip, "s-sure", NOW - 300, sure)  # oldest
    publish(store, tmp_path, clip, "s-doubt", NOW - 100, doubtful)
    publish(store, tmp_path, clip, "s-twin", NOW - 200, twin)
    assert order(desk(store, tmp_path)) == ["s-doubt", "s-sure", "s-twin"]


def test_a_night_clip_and_tracks_that_disagree_rank_above_a_plain_day_clip(
    store: Store, tmp_path: Path, clip: Path
) -> None:
    day = event("e-day", Verdict.MOTION, 0.0, (), NOON)
    night = event("e-night", Verdict.MOTION, 0.0, (), NIGHT)
    dog = TrackSummary(2, "dog", 0.6, 0.6, 8, 0.0, 4.0, 0.05, 0.2, frozenset(), ())
    split = event("e-split", Verdict.PET, 0.6, (person(0.6), dog), NOON)
    publish(store, tmp_path, clip, "s-day", NOW - 300, day)
    publish(store, tmp_path, clip, "s-night", NOW - 200, night)
    publish(store, tmp_path, clip, "s-split", NOW - 100, split)
    assert order(desk(store, tmp_path)) == ["s-split", "s-night", "s-day"]


def test_a_served_models_uncertainty_orders_the_queue(
    store: Store, tmp_path: Path, clip: Path
) -> None:
    for n in range(3):
        e = event(f"e{n}", Verdict.THREAT, 0.9, (person(0.9),), NOON)
        publish(store, tmp_path, clip, f"s{n}", NOW - 300 + n, e)
    sure = {"threat": 0.97, "benign_person": 0.01, "pet": 0.01, "vehicle": 0.0, "false_alarm": 0.01}
    torn = {"threat": 0.5, "benign_person": 0.48, "pet": 0.01, "vehicle": 0.0, "false_alarm": 0.01}
    probabilities = {"e0": sure, "e1": sure, "e2": torn}
    ranked = order(desk(store, tmp_path, scorer=lambda e: probabilities[e.id]))
    assert ranked == ["s2", "s0", "s1"]


def test_classes_annotators_labelled_often_give_way_to_rare_ones(
    store: Store, tmp_path: Path, clip: Path
) -> None:
    pet = event("e-pet", Verdict.PET, 0.7, (), NOON)
    car = event("e-car", Verdict.VEHICLE, 0.7, (), NOON)
    publish(store, tmp_path, clip, "s-pet", NOW - 300, pet)
    publish(store, tmp_path, clip, "s-car", NOW - 200, car)
    assert order(desk(store, tmp_path)) == ["s-pet", "s-car"]  # equal: the older first
    annotations = AnnotationStore(store)
    for n in range(4):
        annotations.add_annotation(AnnotationRecord(0, f"old{n}", f"l{n}", 3, "pet", None, [], NOW))
    assert order(desk(store, tmp_path)) == ["s-car", "s-pet"]


def test_take_leases_the_top_ranked_clip(store: Store, tmp_path: Path, clip: Path) -> None:
    publish(
        store,
        tmp_path,
        clip,
        "s-old",
        NOW - 300,
        event("e-old", Verdict.THREAT, 0.95, (person(0.95),), NOON),
    )
    publish(
        store,
        tmp_path,
        clip,
        "s-new",
        NOW - 100,
        event("e-new", Verdict.THREAT, 0.51, (person(0.51),), NOON),
    )
    lease = desk(store, tmp_path).take(7, "ann", NOW)
    assert lease.share_id == "s-new"


def test_a_clip_shared_with_a_review_hub_is_never_offered_here(
    store: Store, tmp_path: Path, clip: Path
) -> None:
    doubtful = event("e-hub", Verdict.THREAT, 0.51, (person(0.51),), NOON)
    plain = event("e-home", Verdict.THREAT, 0.95, (person(0.95),), NOON)
    to_hub = {"hub": {"address": "http://127.0.0.1:8470", "operator": "Northwind"}}
    publish(store, tmp_path, clip, "s-hub", NOW - 300, doubtful, to_hub)
    publish(store, tmp_path, clip, "s-home", NOW - 100, plain)
    d = desk(store, tmp_path)
    assert order(d) == ["s-home"]
    assert d.take(7, "ann", NOW).share_id == "s-home"
