"""Tests of the event lifecycle, driven by synthetic frames, motion and tracked detections."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from hearthcam.config import EventsConfig
from hearthcam.labels import class_id_of
from hearthcam.pipeline.events import EventBuilder, EventChange, EventState, transition
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import Change, Detections, Frame, MotionResult, Verdict

FPS = 5
WIDTH, HEIGHT = 64, 36
WALL0 = 1_700_000_000.0
MOVING = MotionResult(np.array([[10, 10, 30, 30]], dtype=np.int32), 0.05)
STILL = MotionResult.still()
NO_ZONES: tuple[frozenset[str], ...] = ()


def pts_of(i: int) -> float:
    return i / FPS


def frame(i: int) -> Frame:
    # Each image carries its frame index, so a snapshot can be traced back to its frame.
    image = np.full((HEIGHT, WIDTH, 3), i % 256, dtype=np.uint8)
    return Frame("front", i, pts_of(i), WALL0 + pts_of(i), image)


def tracked(*rows: tuple[str, int, float, float]) -> Detections:
    """Tracked detections from (label, tracker_id, score, x) rows; boxes 10x20 px at x."""
    return Detections(
        xyxy=np.array([[x, 10, x + 10, 30] for *_, x in rows], dtype=np.float32).reshape(-1, 4),
        confidence=np.array([r[2] for r in rows], dtype=np.float32),
        class_id=np.array([class_id_of(r[0]) for r in rows], dtype=np.int32),
        tracker_id=np.array([r[1] for r in rows], dtype=np.int64),
    )


@dataclass
class Step:
    """What the stages upstream of the event builder saw on one frame."""

    motion: MotionResult = STILL
    detections: Detections = field(default_factory=Detections.empty)
    zones: Sequence[frozenset[str]] = NO_ZONES


Script = Callable[[int], Step]


@dataclass
class Recorded:
    """An event change and the pts of the frame that produced it."""

    at: float
    change: EventChange


def builder(**cfg: float | bool) -> EventBuilder:
    ids = (f"ev{n}" for n in itertools.count(1))
    return EventBuilder("front", EventsConfig.model_validate(cfg), RuleVerdict(), lambda: next(ids))


def run(b: EventBuilder, script: Script, frames: int, start: int = 0) -> list[Recorded]:
    out: list[Recorded] = []
    for i in range(start, start + frames):
        step = script(i)
        for change in b.update(frame(i), step.motion, step.detections, step.zones):
            out.append(Recorded(pts_of(i), change))
    return out


def kinds(changes: list[Recorded]) -> list[Change]:
    return [c.change.change for c in changes]


def lifecycle(changes: list[Recorded]) -> list[Change]:
    """The kinds with runs of UPDATED collapsed to one: STARTED, UPDATED, ENDED."""
    return [k for k, _ in itertools.groupby(kinds(changes))]


def verdicts(changes: list[Recorded]) -> list[tuple[float, Verdict]]:
    """When the reported verdict changed, and to what."""
    out: list[tuple[float, Verdict]] = []
    for c in changes:
        if not out or out[-1][1] is not c.change.event.verdict:
            out.append((c.at, c.change.event.verdict))
    return out


def person_until(last: int, first: int = 0, score: float = 0.8) -> Script:
    """A person walking right (2 px a frame) with motion, on frames first..last; then calm."""

    def script(i: int) -> Step:
        if first <= i <= last:
            return Step(MOVING, tracked(("person", 7, score, 2.0 * (i - first))))
        return Step()

    return script


def motion_on(frames: Callable[[int], bool]) -> Script:
    return lambda i: Step(MOVING if frames(i) else STILL)


# --- the state machine --------------------------------------------------------------------


def test_transition_function() -> None:
    assert transition(EventState.IDLE, False, 100.0, 4.0) is EventState.IDLE
    assert transition(EventState.IDLE, True, 0.0, 4.0) is EventState.ACTIVE
    assert transition(EventState.ACTIVE, False, 3.9, 4.0) is EventState.ACTIVE
    assert transition(EventState.ACTIVE, False, 4.0, 4.0) is EventState.IDLE
    assert transition(EventState.ACTIVE, True, 0.0, 4.0) is EventState.ACTIVE


# --- a person walking through -------------------------------------------------------------


def test_person_for_three_seconds_is_one_threat_event() -> None:
    b = builder()
    changes = run(b, person_until(15), 60)  # person on 0.0..3.0 s, calm until 12 s

    assert lifecycle(changes) == [Change.STARTED, Change.UPDATED, Change.ENDED]
    assert {c.change.event.id for c in changes} == {"ev1"}
    assert changes[0].at == 0.0
    # Confirmed as a person on its third hit (RuleVerdict.person_min_hits).
    assert verdicts(changes) == [(0.0, Verdict.MOTION), (0.4, Verdict.THREAT)]

    ended = changes[-1].change.event
    assert ended.verdict is Verdict.THREAT
    assert ended.labels == ("person",)
    assert ended.score == pytest.approx(0.8)
    assert (ended.start, ended.end) == (0.0, 3.0)
    assert ended.camera == "front"
    assert b.current is None


def test_event_summarises_its_track() -> None:
    changes = run(builder(), person_until(15), 60)
    (summary,) = changes[-1].change.event.tracks
    assert summary.tracker_id == 7
    assert summary.label == "person"
    assert summary.hits == 16
    assert (summary.first_pts, summary.last_pts) == (0.0, 3.0)
    assert summary.travel == pytest.approx(30 / math.hypot(WIDTH, HEIGHT))
    assert summary.max_area_ratio == pytest.approx(10 * 20 / (WIDTH * HEIGHT))
    assert summary.vote("person") == pytest.approx(16 * 0.8)


def test_event_starts_at_the_first_motion() -> None:
    b = builder()
    motion_first = person_until(15, first=3)

    def script(i: int) -> Step:
        return Step(MOVING) if i < 3 else motion_first(i)

    changes = run(b, script, 60)
    assert kinds(changes)[0] is Change.STARTED
    assert changes[0].at == 0.6  # opened by the person on frame 3...
    started = changes[0].change.event
    assert started.start == 0.0  # ...but it began with the motion before
    assert started.wall_start == WALL0
    assert changes[-1].change.event.start == 0.0


@pytest.mark.parametrize("gap", [1.0, 2.5, 6.0])
def test_object_event_ends_after_gap_without_an_object(gap: float) -> None:
    b = builder(gap=gap, end_after=4.0)
    changes = run(b, person_until(15), 75)
    ended = [c for c in changes if c.change.change is Change.ENDED]
    assert len(ended) == 1
    # On the first frame at least gap after the person's last, at 3.0 s.
    assert ended[0].at == pytest.approx(math.ceil(round((3.0 + gap) * FPS, 6)) / FPS)
    assert ended[0].change.event.end == 3.0


def test_object_event_ends_after_gap_however_long_motion_goes_on() -> None:
    # A person 0..3 s, then motion to 12 s with nobody in view (a motion detector's background
    # forgetting them): the event ends gap after the person, at the person's last frame, and
    # that motion opens no motion event of its own.
    b = builder(gap=2.5, end_after=4.0)
    person = person_until(15)

    def script(i: int) -> Step:
        return person(i) if i <= 15 else Step(MOVING)

    changes = run(b, script, 60, start=0) + run(b, lambda i: Step(), 30, start=60)
    assert lifecycle(changes) == [Change.STARTED, Change.UPDATED, Change.ENDED]
    ended = changes[-1]
    assert ended.at == pytest.approx(5.6)  # the first frame 2.5 s after the last at 3.0
    assert (ended.change.event.start, ended.change.event.end) == (0.0, 3.0)


def test_motion_after_an_object_event_opens_a_new_one_once_it_stopped_first() -> None:
    b = builder(gap=2.5, end_after=4.0)
    person = person_until(15)

    def script(i: int) -> Step:
        if i <= 15:
            return person(i)
        # Motion until 8 s (the visitor's trail), 2 s still, then 3 s of new motion.
        return Step(MOVING) if i <= 40 or 50 <= i <= 65 else Step()

    changes = run(b, script, 100)
    ended = [c.change.event for c in changes if c.change.change is Change.ENDED]
    assert [(e.verdict, e.start, e.end) for e in ended] == [
        (Verdict.THREAT, 0.0, 3.0),
        (Verdict.MOTION, 10.0, 13.0),
    ]


def test_motion_event_still_ends_after_end_after_of_calm() -> None:
    b = builder(gap=1.0, end_after=4.0)
    changes = run(b, motion_on(lambda i: i <= 20), 60)  # motion 0..4 s
    assert kinds(changes) == [Change.STARTED, Change.ENDED]
    assert changes[1].at == pytest.approx(8.0)


def test_event_is_open_during_the_gap() -> None:
    b = builder(gap=2.5)
    run(b, person_until(15), 27)  # up to 5.2 s: 2.2 s without the person
    assert b.current is not None
    assert b.current.verdict is Verdict.THREAT
    assert run(b, person_until(15), 2, start=27)[-1].change.change is Change.ENDED


def test_pause_shorter_than_gap_keeps_one_event() -> None:
    b = builder(gap=2.5)

    def script(i: int) -> Step:
        # Person 0..2 s, nobody for 2 s, person again 4..6 s: one visit, one event.
        return person_until(10)(i) if i <= 10 else person_until(30, first=20)(i)

    changes = run(b, script, 80)
    assert kinds(changes).count(Change.STARTED) == 1
    assert kinds(changes).count(Change.ENDED) == 1
    assert (changes[-1].change.event.start, changes[-1].change.event.end) == (0.0, 6.0)


def test_visitors_after_an_empty_room_are_separate_events() -> None:
    # Issue 12: one person 0..10 s, the room empty for 3 s, the next 13..23 s, empty for 3 s,
    # a third 26..30 s (each with motion): three visits, three events, each of its own track.
    b = builder()  # the default gap
    visits = [(0, 50, 1), (65, 115, 2), (130, 150, 3)]

    def script(i: int) -> Step:
        for first, last, tid in visits:
            if first <= i <= last:
                return Step(MOVING, tracked(("person", tid, 0.8, 2.0 * (i - first))))
        return Step()

    changes = run(b, script, 200)
    ended = [c.change.event for c in changes if c.change.change is Change.ENDED]
    assert [(e.start, e.end) for e in ended] == [(0.0, 10.0), (13.0, 23.0), (26.0, 30.0)]
    assert [[t.tracker_id for t in e.tracks] for e in ended] == [[1], [2], [3]]
    assert all(e.verdict is Verdict.THREAT for e in ended)


# --- motion without objects ---------------------------------------------------------------


@pytest.mark.parametrize("last_moving", [0, 5, 9])
def test_motion_blip_makes_no_event(last_moving: int) -> None:
    # Motion for at most 1.8 s (< motion_min_seconds = 2), then calm.
    b = builder()
    assert run(b, motion_on(lambda i: i <= last_moving), 60) == []
    assert b.current is None


def test_separate_blips_make_no_event() -> None:
    # 1 s of motion every 3 s: never 2 s in a row.
    b = builder()
    assert run(b, motion_on(lambda i: i % 15 <= 5), 90) == []


def test_sustained_motion_makes_a_motion_event() -> None:
    b = builder()
    changes = run(b, motion_on(lambda i: i <= 20), 60)  # motion 0..4 s
    assert kinds(changes) == [Change.STARTED, Change.ENDED]
    started, ended = (c.change.event for c in changes)
    assert changes[0].at == 2.0  # once it has lasted motion_min_seconds
    assert started.start == 0.0
    assert ended.verdict is Verdict.MOTION
    assert ended.labels == ()
    assert ended.tracks == ()
    assert (ended.start, ended.end) == (0.0, 4.0)
    assert changes[1].at == 8.0


def test_single_quiet_frames_do_not_break_sustained_motion() -> None:
    b = builder()
    changes = run(b, motion_on(lambda i: i <= 20 and i % 4 != 3), 60)
    assert kinds(changes) == [Change.STARTED, Change.ENDED]
    assert changes[0].change.event.start == 0.0


def test_motion_events_can_be_turned_off() -> None:
    b = builder(motion_events=False)
    assert run(b, motion_on(lambda i: i <= 30), 60) == []
    # Objects still make events.
    changes = run(b, person_until(75, first=65), 60, start=60)
    assert lifecycle(changes) == [Change.STARTED, Change.UPDATED, Change.ENDED]


def test_motion_event_becomes_a_threat_when_a_person_shows_up() -> None:
    b = builder()
    person = person_until(30, first=20)

    def script(i: int) -> Step:
        return Step(MOVING) if i < 20 else person(i)  # motion 0..4 s, then a person to 6 s

    changes = run(b, script, 80)
    assert lifecycle(changes) == [Change.STARTED, Change.UPDATED, Change.ENDED]
    assert len({c.change.event.id for c in changes}) == 1
    # Opened as motion at 2 s, a threat from the person's third hit.
    assert verdicts(changes) == [(2.0, Verdict.MOTION), (4.4, Verdict.THREAT)]
    updated_to_threat = next(c for c in changes if c.change.event.verdict is Verdict.THREAT)
    assert updated_to_threat.change.change is Change.UPDATED
    ended = changes[-1].change.event
    assert ended.verdict is Verdict.THREAT
    assert (ended.start, ended.end) == (0.0, 6.0)


def test_pet_event() -> None:
    def script(i: int) -> Step:
        return Step(MOVING, tracked(("cat", 3, 0.7, 20.0))) if i <= 10 else Step()

    changes = run(builder(), script, 50)
    assert lifecycle(changes) == [Change.STARTED, Change.UPDATED, Change.ENDED]
    assert verdicts(changes) == [(0.0, Verdict.MOTION), (0.2, Verdict.PET)]
    assert changes[-1].change.event.verdict is Verdict.PET
    assert changes[-1].change.event.labels == ("cat",)


def test_flickering_label_is_judged_by_its_votes() -> None:
    # One track the detector calls "person" now and then but mostly "cat": not a threat.
    def script(i: int) -> Step:
        if i > 15:
            return Step()
        label = "person" if i % 3 == 0 else "cat"
        return Step(MOVING, tracked((label, 4, 0.7, float(i))))

    changes = run(builder(), script, 60)
    assert all(c.change.event.verdict is not Verdict.THREAT for c in changes)
    ended = changes[-1].change.event
    assert ended.verdict is Verdict.PET
    (summary,) = ended.tracks
    assert summary.label == "cat"
    assert summary.vote("person") == pytest.approx(6 * 0.7)


# --- splitting, finishing, later events ---------------------------------------------------


def test_long_activity_is_split_at_max_seconds() -> None:
    b = builder(max_seconds=10)
    changes = run(b, person_until(125), 160)  # a person for 25 s
    events = [c.change.event for c in changes if c.change.change is Change.ENDED]
    assert [(e.start, e.end) for e in events] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    assert len({e.id for e in events}) == 3
    assert all(e.verdict is Verdict.THREAT for e in events)
    assert kinds(changes).count(Change.STARTED) == 3
    split_at = [c.at for c in changes if c.change.change is Change.ENDED]
    assert split_at[:2] == [10.0, 20.0]
    # The next part opens on the very frame the previous one closed.
    starts = [c.at for c in changes if c.change.change is Change.STARTED]
    assert starts == [0.0, 10.0, 20.0]


def test_long_motion_is_split_without_a_gap() -> None:
    b = builder(max_seconds=10)
    changes = run(b, motion_on(lambda i: i <= 125), 160)
    events = [c.change.event for c in changes if c.change.change is Change.ENDED]
    assert [(e.start, e.end) for e in events] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]


def test_finish_ends_the_open_event() -> None:
    b = builder()
    run(b, person_until(10), 13)  # person to 2.0 s, input ends at 2.4 s
    assert b.current is not None
    (change,) = b.finish(2.4, WALL0 + 2.4)
    assert change.change is Change.ENDED
    assert change.event.verdict is Verdict.THREAT
    assert (change.event.start, change.event.end) == (0.0, 2.0)
    assert change.event.wall_end == pytest.approx(WALL0 + 2.0)
    assert change.snapshot is not None
    assert b.current is None
    assert b.finish(2.6, WALL0 + 2.6) == []


def test_finish_with_nothing_open() -> None:
    b = builder()
    assert b.finish(0.0, WALL0) == []
    run(b, person_until(5), 60)
    assert b.current is None
    assert b.finish(12.0, WALL0 + 12.0) == []


def test_next_visit_is_a_new_event_with_only_its_own_tracks() -> None:
    b = builder()
    first = run(b, person_until(10), 50)

    def cat(i: int) -> Step:
        return Step(MOVING, tracked(("cat", 8, 0.6, 5.0))) if 50 <= i <= 60 else Step()

    second = run(b, cat, 50, start=50)
    a, c = first[-1].change.event, second[-1].change.event
    assert (a.id, c.id) == ("ev1", "ev2")
    assert (a.verdict, c.verdict) == (Verdict.THREAT, Verdict.PET)
    assert [t.tracker_id for t in c.tracks] == [8]
    assert c.start == 10.0


# --- zones, snapshot, wall clock ----------------------------------------------------------


def test_zones_touched_are_reported() -> None:
    person = person_until(15)

    def script(i: int) -> Step:
        step = person(i)
        if i <= 7:
            return Step(step.motion, step.detections, [frozenset({"porch"})])
        if i <= 15:
            return Step(step.motion, step.detections, [frozenset({"driveway", "porch"})])
        return step

    changes = run(builder(), script, 60)
    assert changes[-1].change.event.zones == ("driveway", "porch")
    assert changes[-1].change.event.tracks[0].zones == frozenset({"driveway", "porch"})
    assert changes[0].change.event.zones == ("porch",)
    # Entering a new zone is news while the event is open.
    updates = [c for c in changes if c.change.change is Change.UPDATED]
    assert updates[-1].at == 1.6
    assert updates[-1].change.event.zones == ("driveway", "porch")


def test_snapshot_is_the_highest_scoring_frame() -> None:
    scores = [0.55, 0.6, 0.7, 0.65, 0.9, 0.92, 0.8, 0.95, 0.7, 0.6, 0.5]

    def script(i: int) -> Step:
        if i < len(scores):
            return Step(MOVING, tracked(("person", 2, scores[i], 5.0), ("dog", 3, 0.3, 40.0)))
        return Step()

    changes = run(builder(), script, 50)
    ended = changes[-1]
    assert ended.change.change is Change.ENDED
    snapshot = ended.change.snapshot
    assert snapshot is not None
    assert snapshot.score == pytest.approx(0.95)
    assert snapshot.frame.index == 7
    assert int(snapshot.frame.image[0, 0, 0]) == 7
    assert len(snapshot.detections) == 2
    assert snapshot.detections.tracker_id.tolist() == [2, 3]


def test_motion_event_snapshot_is_a_frame_of_the_event() -> None:
    changes = run(builder(), motion_on(lambda i: i <= 20), 60)
    snapshot = changes[0].change.snapshot
    assert snapshot is not None
    assert snapshot.frame.index == 10
    assert len(snapshot.detections) == 0


def test_wall_times_follow_pts() -> None:
    person = person_until(20, first=5)

    def script(i: int) -> Step:
        return Step(MOVING) if i < 5 else person(i)

    changes = run(builder(), script, 60)
    for recorded in changes:
        event = recorded.change.event
        assert event.wall_start - event.start == pytest.approx(WALL0)
        assert event.wall_end - event.end == pytest.approx(WALL0)
        assert event.wall_start <= event.wall_end
    ended = changes[-1].change.event
    assert (ended.wall_start, ended.wall_end) == pytest.approx((WALL0, WALL0 + 4.0))


# --- a leap in time (issue 14, item 14) ------------------------------------------------------

HOURS_10 = 10 * 3600.0


def leap_frame(i: int, leap_after: int, leap: float) -> Frame:
    """Frame ``i`` of a stream whose timestamps jump forward by ``leap`` after frame
    ``leap_after`` (a recorder restarted, files joined, a clock stepped)."""
    pts = pts_of(i) + (leap if i > leap_after else 0.0)
    image = np.full((HEIGHT, WIDTH, 3), i % 256, dtype=np.uint8)
    return Frame("front", i, pts, WALL0 + pts, image)


def test_a_ten_hour_timestamp_jump_ends_the_open_event_at_the_last_frame_before_it() -> None:
    b = builder()
    person = tracked(("person", 1, 0.9, 20))
    out: list[EventChange] = []
    for i in range(40):  # a person in view the whole time: 30 frames before the jump, 10 after
        out += b.update(leap_frame(i, 29, HOURS_10), MOVING, person)
    out += b.finish(pts_of(39) + HOURS_10, WALL0 + pts_of(39) + HOURS_10)
    ended = [c.event for c in out if c.change is Change.ENDED]
    assert len(ended) == 2, [(e.start, e.end) for e in ended]
    before, after = ended
    assert (before.start, before.end) == (0.0, pts_of(29))  # at the last frame before the jump
    assert before.wall_end == WALL0 + pts_of(29)
    assert after.start == pts_of(30) + HOURS_10
    assert after.end - after.start < 3.0
    assert all(t.first_pts >= after.start for t in after.tracks)  # no track spans the jump


def test_a_motion_run_does_not_span_a_jump() -> None:
    b = builder(motion_min_seconds=2.0)
    out: list[EventChange] = []
    for i in range(12):  # 1.2 s of motion before, 1.2 s after: neither run is sustained
        out += b.update(leap_frame(i, 5, 600.0), MOVING, Detections.empty())
    assert out == []


def test_a_low_detect_rate_is_no_jump() -> None:
    # One frame every 5 s (over end_after) with a person in each: one event, never split.
    b = builder(end_after=4.0)
    person = tracked(("person", 1, 0.9, 20))
    out: list[EventChange] = []
    for i in range(10):
        pts = 5.0 * i
        image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        out += b.update(Frame("front", i, pts, WALL0 + pts, image), MOVING, person)
    assert [c.change for c in out if c.change is not Change.UPDATED] == [Change.STARTED]


def test_time_going_back_is_no_regular_step() -> None:
    # A live stream's pts restart at 0 after a reconnect; at one frame every 5 s the next step
    # is as regular as before, not a leap.
    b = builder(end_after=4.0)
    person = tracked(("person", 1, 0.9, 20))
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    out: list[EventChange] = []
    for i, pts in enumerate([0.0, 5.0, 10.0, 15.0, 0.0, 5.0, 10.0]):
        out += b.update(Frame("front", i, pts, WALL0 + 5 * i, image), MOVING, person)
    assert Change.ENDED not in [c.change for c in out]
