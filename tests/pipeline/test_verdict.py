"""Tests of the rule verdict on hand-built track summaries."""

from __future__ import annotations

import pytest

from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import TrackSummary, Verdict


def track(
    label: str,
    *,
    hits: int = 10,
    best: float = 0.8,
    travel: float = 0.2,
    votes: dict[str, float] | None = None,
    tracker_id: int = 1,
) -> TrackSummary:
    """A track seen ``hits`` times; by default every vote went to ``label``."""
    all_votes = votes if votes is not None else {label: best * hits}
    return TrackSummary(
        tracker_id=tracker_id,
        label=label,
        best_score=best,
        mean_score=best * 0.9,
        hits=hits,
        first_pts=0.0,
        last_pts=hits / 5,
        max_area_ratio=0.05,
        travel=travel,
        zones=frozenset(),
        votes=tuple(sorted(all_votes.items())),
    )


RULES = RuleVerdict()


def test_no_tracks_is_motion() -> None:
    assert RULES.decide([]) == (Verdict.MOTION, 0.0)
    assert RULES.labels([]) == ()


def test_person_is_a_threat_with_its_best_score() -> None:
    assert RULES.decide([track("person", best=0.83)]) == (Verdict.THREAT, 0.83)


@pytest.mark.parametrize("label", ["cat", "dog", "bird", "horse"])
def test_animals_are_pets(label: str) -> None:
    assert RULES.decide([track(label, best=0.7)]) == (Verdict.PET, 0.7)


def test_person_with_strong_cat_votes_is_a_pet_not_a_threat() -> None:
    # The detector flickered between person and cat on a cat: person won the vote count, but
    # not by the margin the rules demand before calling anything a person.
    cat_like = track("person", hits=12, best=0.7, votes={"person": 5.0, "cat": 4.0})
    verdict, _ = RULES.decide([cat_like])
    assert verdict is Verdict.PET
    assert RULES.label(cat_like) == "cat"
    assert RULES.labels([cat_like]) == ("cat",)


def test_person_is_kept_when_it_beats_animals_by_the_margin() -> None:
    clear = track("person", votes={"person": 8.0, "dog": 4.0})
    assert RULES.label(clear) == "person"
    assert RULES.decide([clear])[0] is Verdict.THREAT
    unclear = track("person", votes={"person": 7.9, "dog": 4.0})
    assert RULES.decide([unclear])[0] is Verdict.PET


def test_the_strongest_animal_vote_is_the_relabel() -> None:
    mixed = track("person", votes={"person": 5.0, "cat": 1.0, "dog": 3.0})
    assert RULES.label(mixed) == "dog"


def test_non_animal_votes_do_not_demote_a_person() -> None:
    # A backpack or chair vote says nothing about whether a person is really an animal.
    carrying = track("person", votes={"person": 5.0, "backpack": 5.0, "chair": 4.0})
    assert RULES.decide([carrying])[0] is Verdict.THREAT


@pytest.mark.parametrize("hits", [1, 2])
def test_person_seen_too_few_times_is_not_a_threat(hits: int) -> None:
    verdict, score = RULES.decide([track("person", hits=hits)])
    assert verdict is Verdict.MOTION
    assert score == 0.0


def test_person_seen_exactly_min_hits_is_a_threat() -> None:
    assert RULES.decide([track("person", hits=3)])[0] is Verdict.THREAT


def test_unsure_person_is_not_a_threat() -> None:
    assert RULES.decide([track("person", best=0.45)])[0] is Verdict.MOTION


def test_thresholds_are_configurable() -> None:
    eager = RuleVerdict(person_min_hits=1, person_min_score=0.3)
    assert eager.decide([track("person", hits=1, best=0.35)])[0] is Verdict.THREAT


def test_parked_car_is_motion() -> None:
    assert RULES.decide([track("car", travel=0.0, best=0.95)]) == (Verdict.MOTION, 0.0)


def test_car_jitter_below_min_travel_is_motion() -> None:
    assert RULES.decide([track("car", travel=0.02)])[0] is Verdict.MOTION


@pytest.mark.parametrize("label", ["car", "truck", "motorcycle", "bicycle", "bus"])
def test_moving_vehicle_is_vehicle(label: str) -> None:
    assert RULES.decide([track(label, travel=0.1, best=0.66)]) == (Verdict.VEHICLE, 0.66)


def test_person_beats_everything() -> None:
    tracks = [
        track("dog", best=0.95, tracker_id=1),
        track("car", best=0.99, tracker_id=2),
        track("person", best=0.6, tracker_id=3),
        track("person", best=0.75, tracker_id=4),
    ]
    assert RULES.decide(tracks) == (Verdict.THREAT, 0.75)


def test_pet_beats_vehicle() -> None:
    tracks = [track("car", best=0.9, tracker_id=1), track("cat", best=0.6, tracker_id=2)]
    assert RULES.decide(tracks) == (Verdict.PET, 0.6)


def test_animal_seen_once_is_not_a_pet() -> None:
    assert RULES.decide([track("dog", hits=1)])[0] is Verdict.MOTION


def test_other_objects_are_motion() -> None:
    assert RULES.decide([track("umbrella"), track("chair", tracker_id=2)])[0] is Verdict.MOTION


def test_labels_are_distinct_sorted_and_skip_glimpses() -> None:
    tracks = [
        track("person", tracker_id=1),
        track("dog", tracker_id=2),
        track("person", tracker_id=3),
        track("car", hits=1, tracker_id=4),
        track("cat", tracker_id=5),
    ]
    assert RULES.labels(tracks) == ("cat", "dog", "person")
