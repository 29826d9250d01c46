"""Tests of the clip cutter: windows wait for the recording, clips are cut on the pool, locked
households keep pending clips, failures finish the event without one. Fake rows, pending
clips, media and an executor that runs at once: no files."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest

from hearthcam.config import RecordConfig
from hearthcam.errors import MediaLocked
from hearthcam.pipeline.clipper import ClipCutter, ClipParts, RowsWithBacklog
from hearthcam.store.pending_clips import PendingClip
from hearthcam.types import Event, Segment, Verdict

P = ParamSpec("P")
T = TypeVar("T")

WALL = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
ROOT = Path("/data")
RECORD = RecordConfig(pre_roll=5, post_roll=5, min_clip=20, max_clip=30)


def event(event_id: str = "ev1", length: float = 4.0, **changes: object) -> Event:
    made = Event(
        id=event_id,
        camera="front",
        verdict=Verdict.THREAT,
        labels=("person",),
        start=0.0,
        end=length,
        wall_start=WALL,
        wall_end=WALL + length,
        score=0.9,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def clip_of(event_id: str = "ev1") -> Path:
    return ROOT / "clips" / "front" / "2023-11-14" / f"{event_id}.mp4"


class InlineExecutor(Executor):
    """Runs each task at once on the caller's thread (the clip pool's fake)."""

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.submitted += 1
        future: Future[T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@dataclass
class FakeRows:
    """Segments and event rows in memory."""

    segments: list[Segment] = field(default_factory=list)
    events: dict[str, Event] = field(default_factory=dict)
    finished: dict[str, bool] = field(default_factory=dict)
    full: bool = False  # the disk has no room for a row

    def segments_between(self, camera: str, start_wall: float, end_wall: float) -> list[Segment]:
        return [
            s
            for s in self.segments
            if s.camera == camera and s.end > start_wall and s.start < end_wall
        ]

    def get_event(self, event_id: str) -> Event | None:
        return self.events.get(event_id)

    def save_event(self, ev: Event, *, finished: bool = True) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "database or disk is full")
        self.events[ev.id] = ev
        self.finished[ev.id] = finished


@dataclass
class FakePending:
    """The pending_clips table in memory."""

    clips: dict[str, PendingClip] = field(default_factory=dict)

    def add(self, clip: PendingClip) -> None:
        self.clips[clip.event_id] = clip

    def of_camera(self, camera: str) -> list[PendingClip]:
        return sorted((c for c in self.clips.values() if c.camera == camera), key=lambda c: c.start)

    def remove(self, event_id: str) -> None:
        self.clips.pop(event_id, None)


@dataclass
class FakeMedia:
    """Records the clips cut; locked or broken on demand."""

    locked: bool = False
    broken: bool = False
    full: bool = False  # the disk has no room for the clip
    cuts: list[tuple[list[Segment], float, float, Path]] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    before_cut: Callable[[], None] = lambda: None

    def cut(self, segments: list[Segment], start: float, end: float, path: Path) -> None:
        self.before_cut()
        if self.locked:
            raise MediaLocked("the household is locked")
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.broken or not segments:
            raise OSError("no recording covers the window")
        self.cuts.append((segments, start, end, path))

    def delete(self, paths: Iterable[Path]) -> int:
        self.deleted.extend(paths)
        return len(self.deleted)


@dataclass
class World:
    rows: FakeRows = field(default_factory=FakeRows)
    pending: FakePending = field(default_factory=FakePending)
    media: FakeMedia = field(default_factory=FakeMedia)
    pool: InlineExecutor = field(default_factory=InlineExecutor)
    ready: list[tuple[Event, bool]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    disk_full: list[BaseException] = field(default_factory=list)

    def cutter(self) -> ClipCutter:
        parts = ClipParts(self.rows, self.pending, self.media, self.pool, ROOT)
        return ClipCutter(
            "front",
            RECORD,
            parts,
            on_ready=lambda ev, late: self.ready.append((ev, late)),
            on_error=self.errors.append,
            on_disk_full=self.disk_full.append,
        )

    def record(self, start: float, end: float) -> None:
        self.rows.segments.append(Segment("front", Path(f"/rec/{start}.mp4"), start, end))


@pytest.fixture
def world() -> World:
    world = World()
    world.record(WALL - 30, WALL + 10)
    world.record(WALL + 10, WALL + 30)
    return world


def test_a_clip_waits_until_the_recording_covers_its_window(world: World) -> None:
    cutter = world.cutter()
    ended = event()
    world.rows.save_event(ended, finished=False)
    # 4 s of event, 5 s each side, widened backwards to the 20 s minimum.
    assert cutter.queue(ended) == WALL + 9
    cutter.cut_ready(WALL + 8.9)
    assert world.pool.submitted == 0
    assert [w.event.id for w in cutter.waiting] == ["ev1"]
    cutter.cut_ready(WALL + 10)
    assert cutter.waiting == []
    ((segments, start, end, path),) = world.media.cuts
    assert (start, end, path) == (WALL - 11, WALL + 9, clip_of())
    assert [s.start for s in segments] == [WALL - 30]
    assert world.rows.events["ev1"] == replace(ended, clip=path)
    assert world.rows.finished["ev1"] is True
    assert world.ready == [(replace(ended, clip=path), False)]


def test_only_the_windows_recorded_so_far_are_cut(world: World) -> None:
    cutter = world.cutter()
    short, long = event("a"), event("b", length=12.0)
    for ended in (short, long):
        world.rows.save_event(ended, finished=False)
        cutter.queue(ended)
    cutter.cut_ready(WALL + 10)
    assert [ev.id for ev, _ in world.ready] == ["a"]
    assert world.rows.finished == {"a": True, "b": False}
    cutter.cut_ready(float("inf"))  # the end of a run: everything, from what exists
    assert [ev.id for ev, _ in world.ready] == ["a", "b"]


def test_the_clip_keeps_what_the_row_got_meanwhile(world: World) -> None:
    # The alert decision flags the row on its own thread; the clip must not undo it.
    cutter = world.cutter()
    ended = event()
    world.rows.save_event(ended, finished=False)
    cutter.queue(ended)
    world.rows.events["ev1"] = replace(ended, alert=True)
    cutter.cut_ready(float("inf"))
    assert world.rows.events["ev1"].alert is True
    assert world.ready[0][0].alert is True


def test_a_locked_household_keeps_the_window_pending_and_finishes_the_event(
    world: World,
) -> None:
    world.media.locked = True
    cutter = world.cutter()
    ended = event()
    end = cutter.queue(ended)
    cutter.cut_ready(float("inf"))
    assert world.pending.clips == {"ev1": PendingClip("ev1", "front", WALL - 11, end)}
    assert world.rows.events["ev1"] == ended  # no clip yet, but finished
    assert world.rows.finished["ev1"] is True
    assert world.ready == []
    assert world.errors == []  # waiting for the owner is not a failure


def test_a_failed_cut_is_reported_and_finishes_the_event_without_a_clip(world: World) -> None:
    world.media.broken = True
    cutter = world.cutter()
    cutter.queue(event())
    cutter.cut_ready(float("inf"))
    assert world.errors == ["front: clip for event ev1 failed: no recording covers the window"]
    assert world.rows.events["ev1"].clip is None
    assert world.rows.finished["ev1"] is True
    assert world.ready == []
    assert world.pending.clips == {}


def pend(world: World, *events: Event) -> None:
    for ev in events:
        world.rows.save_event(ev)
        world.pending.add(PendingClip(ev.id, "front", ev.wall_start - 11, ev.wall_start + 9))


def test_pending_clips_are_cut_after_the_unlock(world: World) -> None:
    pend(world, event("a"), event("b"))
    world.media.locked = True
    cutter = world.cutter()
    assert cutter.cut_pending() == 0  # still locked: nothing lost
    assert set(world.pending.clips) == {"a", "b"}
    world.media.locked = False
    assert cutter.cut_pending() == 2
    assert world.pending.clips == {}
    assert [(ev.id, ev.clip, late) for ev, late in world.ready] == [
        ("a", clip_of("a"), True),
        ("b", clip_of("b"), True),
    ]
    assert world.rows.finished == {"a": True, "b": True}


def test_pending_clips_of_gone_or_clipped_events_are_dropped(world: World) -> None:
    pend(world, event("gone"), event("done", clip=clip_of("done")))
    del world.rows.events["gone"]
    assert world.cutter().cut_pending() == 0
    assert world.pending.clips == {}
    assert world.media.cuts == []


def test_a_pending_clip_whose_recording_expired_is_reported_and_dropped(world: World) -> None:
    pend(world, event("old", wall_start=WALL - 3600, wall_end=WALL - 3596))
    assert world.cutter().cut_pending() == 0
    assert world.errors == ["front: late clip for event old failed: no recording covers the window"]
    assert world.pending.clips == {}


def test_a_late_clip_of_an_event_deleted_while_cutting_is_destroyed(world: World) -> None:
    pend(world, event())
    world.media.before_cut = world.rows.events.clear  # the owner deletes it meanwhile
    assert world.cutter().cut_pending() == 0
    assert world.media.deleted == [clip_of()]
    assert world.pending.clips == {}
    assert world.ready == []


def test_a_clip_the_disk_has_no_room_for_waits_and_is_cut_once_space_is_freed(
    world: World,
) -> None:
    # Before: the event was finished without a clip, for good ("clip ... failed").
    world.media.full = True
    cutter = world.cutter()
    ended = event()
    end = cutter.queue(ended)
    cutter.cut_ready(float("inf"))
    assert [(w.event.id, w.start, w.end) for w in cutter.waiting_for_space()] == [
        ("ev1", WALL - 11, end)
    ]
    assert world.pending.clips == {}  # in memory: the store may have no room for a row
    assert world.rows.finished["ev1"] is True
    assert world.errors == []  # told as disk full, not as a failed clip
    assert len(world.disk_full) == 1
    assert cutter.needed_from() is None  # waits for space: retention's last resort, not kept
    assert cutter.cut_pending() == 0  # still full: it keeps waiting
    assert [w.event.id for w in cutter.waiting_for_space()] == ["ev1"]
    world.media.full = False  # retention freed space
    assert cutter.cut_pending() == 1
    assert cutter.waiting_for_space() == []
    assert [(ev.id, ev.clip) for ev, _late in world.ready] == [("ev1", clip_of("ev1"))]
    assert world.rows.finished["ev1"] is True


def test_a_clip_waiting_for_space_whose_row_the_disk_refused_is_cut_and_saved_later(
    world: World,
) -> None:
    # Before: the refused row write escaped the clip pool, the event stayed open in the store,
    # and retention kept everything after it for the rest of the run.
    world.media.full = True
    world.rows.events["ev1"] = event()
    world.rows.finished["ev1"] = False
    world.rows.full = True
    cutter = world.cutter()
    cutter.queue(event())
    cutter.cut_ready(float("inf"))
    assert world.rows.finished["ev1"] is False  # the row could not be written
    assert [w.event.id for w in cutter.waiting_for_space()] == ["ev1"]
    world.media.full = world.rows.full = False
    assert cutter.cut_pending() == 1
    assert world.rows.finished["ev1"] is True
    assert world.rows.events["ev1"].clip == clip_of("ev1")


def test_a_clip_given_up_for_space_is_never_cut_and_its_event_is_finished(world: World) -> None:
    world.media.full = True
    cutter = world.cutter()
    cutter.queue(event())
    cutter.cut_ready(float("inf"))
    assert cutter.give_up("ev1") is True
    assert cutter.give_up("ev1") is False
    world.media.full = False
    assert cutter.cut_pending() == 0
    assert world.media.cuts == []
    assert world.rows.finished["ev1"] is True
    assert world.rows.events["ev1"].clip is None


def test_a_clip_waiting_for_space_in_a_household_locked_meanwhile_waits_for_the_unlock(
    world: World,
) -> None:
    world.media.full = True
    cutter = world.cutter()
    cutter.queue(event())
    cutter.cut_ready(float("inf"))
    world.media.full, world.media.locked = False, True
    assert cutter.cut_pending() == 0
    assert cutter.waiting_for_space() == []
    assert set(world.pending.clips) == {"ev1"}  # kept in the store, cut at the unlock
    assert world.errors == []


def test_windows_not_yet_recorded_or_being_cut_say_from_when_their_footage_is_needed(
    world: World,
) -> None:
    cutter = world.cutter()
    assert cutter.needed_from() is None
    cutter.queue(event("a"))
    cutter.queue(event("b", wall_start=WALL + 100, wall_end=WALL + 104))
    assert cutter.needed_from() == WALL - 11  # the pre-roll and min_clip reach back
    seen: list[float | None] = []
    world.media.before_cut = lambda: seen.append(cutter.needed_from())
    cutter.cut_ready(float("inf"))
    assert seen == [WALL - 11, WALL + 89]  # each is kept while it is cut
    assert cutter.needed_from() is None


# --- a visit longer than one clip (issue 12) ---------------------------------------------------


def part_of(number: int, event_id: str = "ev1") -> Path:
    return clip_of(event_id).with_name(f"{event_id}.part{number}.mp4")


def test_a_long_event_is_cut_into_consecutive_clips_that_cover_it(world: World) -> None:
    world.record(WALL + 30, WALL + 80)
    cutter = world.cutter()
    ended = event(length=62.0)  # 5 + 62 + 5 s: 72 s, three clips of 24 s (max_clip 30)
    world.rows.save_event(ended, finished=False)
    assert cutter.queue(ended) == WALL + 67
    cutter.cut_ready(WALL + 80)
    windows = [(start, end, path) for _, start, end, path in world.media.cuts]
    assert windows == [
        (WALL - 5, WALL + 19, clip_of()),
        (WALL + 19, WALL + 43, part_of(2)),
        (WALL + 43, WALL + 67, part_of(3)),
    ]
    done = replace(ended, clip=clip_of(), clip_parts=(part_of(2), part_of(3)))
    assert world.rows.events["ev1"] == done
    assert done.clips == (clip_of(), part_of(2), part_of(3))
    assert world.ready == [(done, False)]


def test_a_part_with_no_footage_is_left_out_and_the_rest_kept(world: World) -> None:
    # Recorded up to WALL + 30, then nothing (the camera dropped): the last part has no footage.
    cutter = world.cutter()
    ended = event(length=62.0)
    world.rows.save_event(ended, finished=False)
    cutter.queue(ended)
    cutter.cut_ready(float("inf"))
    saved = world.rows.events["ev1"]
    assert saved.clips == (clip_of(), part_of(2))
    assert world.errors == []


def test_a_full_disk_mid_way_removes_the_parts_made_and_waits_to_cut_them_all(
    world: World,
) -> None:
    world.record(WALL + 30, WALL + 80)
    cutter = world.cutter()
    ended = event(length=62.0)
    world.rows.save_event(ended, finished=False)
    cutter.queue(ended)
    cuts = 0

    def fill_after_one() -> None:
        nonlocal cuts
        cuts += 1
        world.media.full = cuts >= 2

    world.media.before_cut = fill_after_one
    cutter.cut_ready(float("inf"))
    assert world.media.deleted == [clip_of()]
    assert [w.event.id for w in cutter.waiting_for_space()] == ["ev1"]
    assert world.rows.events["ev1"].clip is None
    world.media.before_cut, world.media.full = lambda: None, False
    assert cutter.cut_pending() == 1
    assert world.rows.events["ev1"].clips == (clip_of(), part_of(2), part_of(3))


def test_a_clip_near_where_the_recording_begins_runs_on_to_min_clip() -> None:
    world = World()
    world.record(WALL - 3, WALL + 10)  # the recording began 3 s before the event
    world.record(WALL + 10, WALL + 30)
    cutter = world.cutter()
    ended = event()
    world.rows.save_event(ended, finished=False)
    # Backwards, 20 s would reach WALL - 11: before the footage. It runs from WALL - 3 instead.
    assert cutter.queue(ended) == WALL + 17
    cutter.cut_ready(WALL + 30)
    ((_, start, end, _),) = world.media.cuts
    assert (start, end) == (WALL - 3, WALL + 17)


def test_a_clip_whose_rows_the_full_disk_refused_is_cut_from_their_files() -> None:
    # Before: the rows waited for room while the window was handed to the pool, which found
    # "no recording covers" it, so the event lost a clip whose footage was on disk.
    world = World()
    world.record(WALL - 30, WALL + 10)  # indexed
    backlog = [
        Segment("front", Path("/rec/b1.mp4"), WALL + 10, WALL + 20),
        Segment("front", Path("/rec/b2.mp4"), WALL + 20, WALL + 30),
        Segment("back", Path("/rec/other.mp4"), WALL + 10, WALL + 30),  # another camera
    ]
    parts = ClipParts(
        RowsWithBacklog(world.rows, lambda: backlog), world.pending, world.media, world.pool, ROOT
    )
    cutter = ClipCutter("front", RECORD, parts, lambda ev, late: None, world.errors.append)
    cutter.queue(event(wall_start=WALL + 12, wall_end=WALL + 16))
    cutter.cut_ready(WALL + 30)
    assert world.errors == []
    [(segments, _, _, _)] = world.media.cuts
    assert [s.path.name for s in segments] == [f"{WALL - 30}.mp4", "b1.mp4", "b2.mp4"]


def test_rows_with_backlog_list_a_segment_once_while_its_row_is_being_written() -> None:
    rows = FakeRows()
    waiting = Segment("front", Path("/rec/a.mp4"), WALL, WALL + 10)
    rows.segments.append(waiting)  # its row just went in; the backlog not yet told
    later = Segment("front", Path("/rec/b.mp4"), WALL + 10, WALL + 20)
    both = RowsWithBacklog(rows, lambda: (later, waiting))
    assert both.segments_between("front", WALL, WALL + 20) == [waiting, later]
    assert both.segments_between("front", WALL + 20, WALL + 30) == []
