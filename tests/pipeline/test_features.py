"""Tests of the verdict model's features on hand-built events."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np

from hearthcam.pipeline.features import FEATURE_NAMES, event_features, feature_matrix
from hearthcam.types import Event, Verdict
from tests.pipeline.test_verdict import track

UTC = dt.UTC
NOON = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp()
MIDNIGHT = dt.datetime(2026, 6, 1, 23, 30, tzinfo=UTC).timestamp()


def event(*tracks: object, wall: float = NOON, zones: tuple[str, ...] = ()) -> Event:
    return Event(
        id="e", camera="cam", verdict=Verdict.MOTION, labels=(), start=1.0, end=9.0,
        wall_start=wall, wall_end=wall + 8, score=0.0, zones=zones,
        tracks=tuple(tracks),  # type: ignore[arg-type]
    )  # fmt: skip


def named(vector: np.ndarray, name: str) -> float:
    return float(vector[FEATURE_NAMES.index(name)])


def test_fixed_length_and_names_unique() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert event_features(event(), UTC).shape == (len(FEATURE_NAMES),)
    assert event_features(event(track("person"), track("cat")), UTC).dtype == np.float32


def test_person_event_features() -> None:
    v = event_features(event(track("person", hits=12, best=0.9, travel=0.4)), UTC)
    assert named(v, "person_vote") == 1.0  # all of the event's vote
    assert named(v, "person_tracks") == 1.0
    assert named(v, "person_hits") == 12.0
    assert np.isclose(named(v, "person_best"), 0.9)
    assert np.isclose(named(v, "person_travel"), 0.4)
    assert np.isclose(named(v, "person_dwell"), 12 / 5)
    assert named(v, "animal_tracks") == 0.0
    assert named(v, "rules_threat") == 1.0
    assert named(v, "rules_motion") == 0.0
    assert named(v, "duration") == 8.0


def test_a_cat_that_got_person_votes_counts_as_animal_when_the_rules_say_so() -> None:
    cat = track("person", votes={"person": 1.0, "cat": 6.0})
    v = event_features(event(cat), UTC)
    assert named(v, "animal_tracks") == 1.0
    assert named(v, "person_tracks") == 0.0
    assert np.isclose(named(v, "person_vote") + named(v, "animal_vote"), 1.0)
    assert named(v, "rules_pet") == 1.0


def test_time_of_day_and_zone() -> None:
    day, night = event_features(event(), UTC), event_features(event(wall=MIDNIGHT), UTC)
    assert named(day, "night") == 0.0
    assert named(night, "night") == 1.0
    assert np.isclose(named(day, "hour_cos"), -1.0, atol=1e-6)  # noon
    assert named(event_features(event(zones=("door",)), UTC), "in_zone") == 1.0
    # The same instant is another local hour elsewhere.
    east = dt.timezone(dt.timedelta(hours=11))
    assert named(event_features(event(), east), "night") == 1.0  # noon UTC is 23:00 there


def test_tracks_without_stored_votes_count_for_their_label() -> None:
    voted = track("dog", hits=5, best=0.8)
    bare = replace(voted, votes=())
    assert np.allclose(event_features(event(voted), UTC), event_features(event(bare), UTC))


def test_feature_matrix_rows() -> None:
    m = feature_matrix([event(), event(track("car"))], UTC)
    assert m.shape == (2, len(FEATURE_NAMES))
    assert feature_matrix([], UTC).shape == (0, len(FEATURE_NAMES))
