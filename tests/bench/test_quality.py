"""The quality benchmark's scoring on hand-made events, and its truth file against the footage."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from hearthcam.config import Config
from hearthcam.pipeline.source import probe
from hearthcam.types import Event, Verdict
from hearthcam_bench import learning_imagery as imagery
from hearthcam_bench import quality, quality_scenes
from hearthcam_bench.quality_clips import FootageIndex
from hearthcam_bench.quality_truth import (
    Footage,
    Kind,
    Score,
    Stretch,
    Visit,
    covered,
    false_threats,
    found,
    load,
    per_hour,
    score,
)
from tests.support.required import require


def event(verdict: Verdict, start: float, end: float, *labels: str) -> Event:
    return Event(f"e{start}", "cam", verdict, labels, start, end, start, end, 0.9)


PERSON = Visit(10.0, 20.0, "", Kind.PERSON)
CAT = Visit(30.0, 40.0, "", Kind.ANIMAL)
CAR = Visit(50.0, 55.0, "", Kind.VEHICLE)


def test_a_visit_is_found_only_by_an_overlapping_event_of_its_class() -> None:
    assert found(PERSON, [event(Verdict.THREAT, 19.0, 25.0, "person")])
    assert not found(PERSON, [event(Verdict.THREAT, 20.0, 25.0, "person")])  # touching only
    assert not found(PERSON, [event(Verdict.PET, 12.0, 18.0, "cat")])
    assert not found(PERSON, [event(Verdict.MOTION, 0.0, 99.0)])
    assert found(CAT, [event(Verdict.PET, 35.0, 36.0, "dog")])
    assert not found(CAT, [event(Verdict.THREAT, 35.0, 36.0, "person")])


def test_a_vehicle_is_found_by_a_vehicle_event_or_a_vehicle_among_a_threats_labels() -> None:
    assert found(CAR, [event(Verdict.VEHICLE, 54.0, 60.0, "car")])
    assert found(CAR, [event(Verdict.THREAT, 54.0, 60.0, "car", "person")])
    assert not found(CAR, [event(Verdict.THREAT, 54.0, 60.0, "person")])


def test_recall_and_precision_count_visits_and_the_events_claiming_their_class() -> None:
    visits = [PERSON, Visit(60.0, 70.0, "", Kind.PERSON), CAT]
    events = [
        event(Verdict.THREAT, 11.0, 15.0, "person"),
        event(Verdict.THREAT, 16.0, 19.0, "person"),  # a second event in the same visit
        event(Verdict.THREAT, 80.0, 85.0, "person"),  # in no visit
        event(Verdict.PET, 31.0, 39.0, "cat"),
        event(Verdict.MOTION, 60.0, 70.0),  # claims nothing: the second visit is missed
    ]
    people = score(Kind.PERSON, visits, events, clips=[])
    assert (people.visits, people.found, people.recall) == (2, 1, 0.5)
    assert (people.claims, people.true_claims) == (3, 2)
    assert people.precision == pytest.approx(2 / 3)
    animals = score(Kind.ANIMAL, visits, events, clips=[])
    assert (animals.recall, animals.precision, animals.called_threats) == (1.0, 1.0, 0)
    nothing = score(Kind.VEHICLE, visits, events, clips=[])
    assert (nothing.recall, nothing.precision) == (None, None)


def test_clip_coverage_tells_no_clip_from_not_wholly_in_clips() -> None:
    visits = [PERSON, Visit(30.0, 40.0, "", Kind.PERSON), Visit(60.0, 62.0, "", Kind.PERSON)]
    clips = [(5.0, 15.0), (15.2, 20.3), (35.0, 45.0)]
    s = score(Kind.PERSON, visits, [], clips)
    # 10-20 wholly (a 0.2 s gap is within the slack), 30-40 in part, 60-62 in none.
    assert (s.no_clip, s.partly) == (1, 2)
    assert covered([(9.6, 19.6)], 10.0, 20.0, slack=0.5)
    assert not covered([(9.6, 19.4)], 10.0, 20.0, slack=0.5)
    assert not covered([(10.0, 14.0), (15.0, 20.0)], 10.0, 20.0, slack=0.5)


def test_a_pet_is_called_a_threat_only_when_no_person_explains_the_threat() -> None:
    alone = score(Kind.ANIMAL, [CAT], [event(Verdict.THREAT, 32.0, 34.0, "person")], [])
    assert alone.called_threats == 1
    walker = Visit(33.0, 35.0, "", Kind.PERSON)  # someone walking the cat
    explained = score(Kind.ANIMAL, [CAT, walker], [event(Verdict.THREAT, 32, 34, "person")], [])
    assert explained.called_threats == 0


def test_false_threats_are_threats_on_empty_stretches_outside_person_visits() -> None:
    empty = [Stretch(0.0, 10.0), Stretch(20.0, 30.0)]
    events = [
        event(Verdict.THREAT, 2.0, 4.0, "person"),  # false
        event(Verdict.THREAT, 8.0, 12.0, "person"),  # overlaps the visit: not false
        event(Verdict.MOTION, 21.0, 29.0),  # not a threat
        event(Verdict.THREAT, 90.0, 95.0, "person"),  # on unscored time: not counted here
    ]
    assert false_threats([PERSON], empty, events) == 1
    assert per_hour(1, 20.0) == pytest.approx(180.0)
    assert per_hour(0, 0.0) is None


def test_scores_add_up() -> None:
    total = Score(2, 1, 3, 2, 1, 1, 0) + Score(1, 1, 1, 1, 0, 0, 1)
    assert total == Score(3, 2, 4, 3, 1, 1, 1)
    assert total.recall == pytest.approx(2 / 3)


def test_a_clip_is_placed_in_the_footage_by_its_pictures() -> None:
    rng = np.random.default_rng(3)
    frames = rng.uniform(0, 255, (40, 64 * 48)).astype(np.float32)
    frames[:10] = frames[0]  # an empty scene: its frames look alike
    times = np.arange(40) / 10.0
    index = FootageIndex(frames, times, times >= 1.0)
    clip = frames[5:25] + rng.normal(0, 2.0, (20, 64 * 48)).astype(np.float32)
    assert index.span_of(clip) == pytest.approx((0.5, 2.5))


@pytest.mark.integration
def test_the_truth_file_names_footage_that_is_here_with_ordered_visits_inside_it() -> None:
    footage = load()
    assert {f.name for f in footage} >= {"vtest.avi", "tree.avi", "bikes.mp4"}
    for item in footage:
        require(item.path.is_file(), f"{item.path} is missing (scripts/setup.sh installs it)")
        length = probe(str(item.path), Config().source).duration
        assert length is not None
        assert item.length == pytest.approx(length, abs=0.1), item.name
        assert item.visits, item.name
        for stretches in ([v for v in item.visits if v.kind is k] for k in Kind):
            starts = [s.start for s in stretches]
            assert starts == sorted(starts), item.name
        for s in (*item.visits, *item.empty):
            assert 0.0 <= s.start < s.end <= item.length, (item.name, s)
        people = [v for v in item.visits if v.kind is Kind.PERSON]
        for e in item.empty:
            assert not any(min(e.end, p.end) > max(e.start, p.start) for p in people), e


@pytest.mark.integration
def test_a_composited_crossing_is_in_frame_exactly_during_its_visit() -> None:
    require(imagery.DARKNET.is_dir(), f"{imagery.DARKNET} is missing (Debian's darknet)")
    for name, crossing in quality_scenes.CROSSINGS.items():
        frames = quality_scenes._frames(crossing, np.random.default_rng(1))
        truth = quality_scenes.crossing_truth(name, imagery.DARKNET, crossing)
        (visit,) = truth.visits
        base = imagery.walkway().astype(np.int16)
        changed = [float(np.abs(f.astype(np.int16) - base).mean()) for f in frames]
        times = np.arange(len(frames)) / quality_scenes.FPS
        inside = (times >= visit.start) & (times < visit.end)
        assert len(frames) / quality_scenes.FPS == pytest.approx(truth.length)
        assert min(np.array(changed)[inside]) > 2 * max(np.array(changed)[~inside]), name


@pytest.mark.integration
def test_a_written_crossing_has_the_scripted_length(tmp_path: Path) -> None:
    require(imagery.DARKNET.is_dir(), f"{imagery.DARKNET} is missing (Debian's darknet)")
    crossing = quality_scenes.CROSSINGS["darknet truck"]
    path = tmp_path / "truck.mp4"
    quality_scenes.write_crossing(path, crossing)
    with av.open(str(path)) as container:
        count = sum(1 for _ in container.decode(video=0))
    truth = quality_scenes.crossing_truth("truck", path, crossing)
    assert count == round(truth.length * quality_scenes.FPS)


def test_the_bars_score_people_on_real_footage_and_clips_on_all() -> None:
    visit = Visit(0.0, 10.0, "", Kind.PERSON)
    item = Footage("walk.avi", Path("walk.avi"), 20.0, (visit,), (Stretch(10.0, 20.0),))
    missed = {k: score(k, [visit], [], []) for k in Kind}  # no event, no clip
    threat = [event(Verdict.THREAT, 1.0, 9.0, "person")]
    seen = {k: score(k, [visit], threat, [(0.0, 20.0)]) for k in Kind}
    results = [
        quality.Result(item, quality.REAL, [], missed, 0, []),
        quality.Result(item, quality.COMPOSITED, threat, seen, 0, [(0.0, 20.0)]),
    ]
    (row,) = quality.bars_table({"m": results}).rows
    # people recall (real only), visits with no clip (all), pets, vehicles, empty, false, per hour
    assert row[1:] == ["0.00", "1", "0", "- / -", "20.0 s", "0", "0", "MISSED"]
    totals = {r[0]: r[1:5] for r in quality.model_table("m", results).rows if r[0][:4] == "all "}
    assert totals == {
        "all real footage": ["person", "1", "0", "0.00"],
        "all composited": ["person", "1", "1", "1.00"],
        "all footage": ["person", "2", "1", "0.50"],
    }
