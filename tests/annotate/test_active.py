"""annotate.active: the ranking of unannotated clips (pure; no store, no model object)."""

from __future__ import annotations

import numpy as np
import pytest

from hearthcam.annotate import active
from hearthcam.annotate.active import Candidate, Labelled, Weights
from hearthcam.types import TrackSummary, Verdict

CLASSES = ("threat", "benign_person", "pet", "vehicle", "false_alarm")
EMPTY = Labelled({})


def track(votes: dict[str, float], label: str = "person") -> TrackSummary:
    return TrackSummary(
        1, label, 0.7, 0.6, 10, 0.0, 5.0, 0.1, 0.2, frozenset(), tuple(sorted(votes.items()))
    )


def sure(cls: str) -> dict[str, float]:
    return {c: (0.96 if c == cls else 0.01) for c in CLASSES}


def test_model_uncertainty_is_low_when_sure_and_high_when_split() -> None:
    assert active.model_uncertainty(sure("pet")) < 0.15
    split = {c: 0.0 for c in CLASSES} | {"threat": 0.5, "benign_person": 0.5}
    assert active.model_uncertainty(split) > 0.6
    assert active.model_uncertainty({c: 0.2 for c in CLASSES}) == pytest.approx(1.0)


def test_track_conflict_measures_split_votes() -> None:
    assert active.track_conflict([track({"person": 5.0})]) == 0.0
    assert active.track_conflict([track({"person": 3.0}), track({"dog": 3.0}, "dog")]) == 0.5
    assert active.track_conflict([]) == 0.0


def test_rule_uncertainty_peaks_near_the_person_threshold() -> None:
    near = active.rule_uncertainty(Verdict.THREAT, 0.52, [])
    far = active.rule_uncertainty(Verdict.THREAT, 0.95, [])
    assert near > 0.9 > 0.2 > far


def test_disagreement_is_model_vs_rules_on_the_alert() -> None:
    agree = Candidate("a", Verdict.THREAT, 0.8, proba=sure("threat"))
    differ = Candidate("b", Verdict.THREAT, 0.8, proba=sure("benign_person"))
    assert active.disagreement(agree) < 0.1
    assert active.disagreement(differ) > 0.9


def test_an_uncertain_clip_ranks_above_a_sure_one() -> None:
    unsure = {c: 0.0 for c in CLASSES} | {"threat": 0.45, "benign_person": 0.55}
    ranked = active.rank(
        [
            Candidate("sure", Verdict.PET, 0.9, proba=sure("pet")),
            Candidate("unsure", Verdict.MOTION, 0.0, proba=unsure),
        ],
        Labelled({"pet": 3, "benign_person": 3, "threat": 3}),
        CLASSES,
    )
    assert [r.key for r in ranked] == ["unsure", "sure"]


def test_night_counts_while_night_is_under_represented() -> None:
    day = Candidate("day", Verdict.MOTION, 0.0, night=False, age=0.0)
    night = Candidate("night", Verdict.MOTION, 0.0, night=True, age=1.0)
    few = Labelled({"false_alarm": 10}, night=0)
    plenty = Labelled({"false_alarm": 10}, night=5)
    assert [r.key for r in active.rank([day, night], few, CLASSES)] == ["night", "day"]
    # With night well represented the two are equal: the older (day) wins the tie.
    assert [r.key for r in active.rank([day, night], plenty, CLASSES)] == ["day", "night"]


def test_a_class_the_labelled_set_lacks_ranks_higher() -> None:
    pet = Candidate("pet", Verdict.PET, 0.6, age=0.0)
    vehicle = Candidate("vehicle", Verdict.VEHICLE, 0.6, age=1.0)
    labelled = Labelled({"pet": 8, "threat": 4, "false_alarm": 4})
    assert active.rarity(pet, labelled, CLASSES) == 0.0
    assert active.rarity(vehicle, labelled, CLASSES) == 1.0
    assert active.rank([pet, vehicle], labelled, CLASSES)[0].key == "vehicle"


def test_ties_go_to_the_older_clip_and_k_limits_the_answer() -> None:
    clips = [Candidate(f"c{i}", Verdict.MOTION, 0.0, age=float(10 - i)) for i in range(5)]
    ranked = active.rank(clips, EMPTY, CLASSES, k=3)
    assert [r.key for r in ranked] == ["c4", "c3", "c2"]


def test_diversity_spreads_a_batch_over_different_clips() -> None:
    # Three near-identical clips and one different one, all equally uncertain.
    same = [np.array([0.0, 0.0]), np.array([0.01, 0.0]), np.array([0.0, 0.01])]
    other = np.array([5.0, 5.0])
    clips = [
        Candidate(f"same{i}", Verdict.MOTION, 0.0, features=f, age=float(i))
        for i, f in enumerate(same)
    ] + [Candidate("other", Verdict.MOTION, 0.0, features=other, age=9.0)]
    ranked = active.rank(clips, EMPTY, CLASSES, k=2, weights=Weights(diversity=1.0))
    assert {r.key for r in ranked} == {"same0", "other"}
    plain = active.rank(clips, EMPTY, CLASSES, k=2, weights=Weights(diversity=0.0))
    assert [r.key for r in plain] == ["same0", "same1"]


def test_ranking_is_pure_and_repeatable() -> None:
    clips = [Candidate(f"c{i}", Verdict.THREAT, 0.3 + 0.1 * i, age=float(i)) for i in range(6)]
    assert active.rank(clips, EMPTY, CLASSES) == active.rank(clips, EMPTY, CLASSES)


def test_tracks_without_votes_count_for_their_own_label() -> None:
    # Events read back from the store keep no per-label votes.
    person = TrackSummary(1, "person", 0.5, 0.5, 4, 0.0, 1.0, 0.1, 0.1, frozenset(), ())
    dog = TrackSummary(2, "dog", 0.5, 0.5, 4, 0.0, 1.0, 0.1, 0.1, frozenset(), ())
    assert active.track_conflict([person, dog]) == pytest.approx(0.5)
    assert active.track_conflict([person]) == 0.0
