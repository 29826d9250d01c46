"""Retention: event hours per verdict, segment hours, open-event protection, the disk floor and
its order (unneeded segments, then event media by verdict), and what it never deletes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from hearthcam.config import RetentionConfig
from hearthcam.recordings.retention import (
    RetentionPolicy,
    SweepReport,
    WaitingClip,
    sweep,
)
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClip, PendingClips
from hearthcam.types import Event, Segment, Verdict
from tests.support.store_fixtures import BACKENDS

NOW = 1_700_000_000.0
HOUR = 3600.0
MB = 1024 * 1024
SEGMENT_BYTES = 1000


@pytest.fixture
def data(data_dir: Path) -> Path:
    return data_dir


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each retention test on SQLite and on PostgreSQL (``tests.support.store_fixtures``)."""
    return str(request.param)


@pytest.fixture
def store(database_url: str, data: Path) -> Iterator[Store]:
    with Store.open(database_url, data_dir=data) as opened:
        yield opened


class FakeDisk:
    """Free space that grows as media files under ``root`` are deleted."""

    def __init__(self, root: Path, free_when_empty: int) -> None:
        self.root = root
        self.free_when_empty = free_when_empty

    def __call__(self, path: Path) -> int:
        assert path == self.root
        used = sum(p.stat().st_size for p in self.root.rglob("*.mp4") if p.is_file())
        used += sum(p.stat().st_size for p in self.root.rglob("*.jpg") if p.is_file())
        return self.free_when_empty - used


def plenty(_: Path) -> int:
    return 10**15


def add_segment(store: Store, data: Path, end: float, camera: str = "front") -> Segment:
    path = data / "recordings" / camera / f"{end:.0f}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"s" * SEGMENT_BYTES)
    segment = Segment(camera, path, end - 4, end)
    store.add_segment(segment)
    return segment


def add_event(
    store: Store,
    data: Path,
    event_id: str,
    wall_end: float,
    verdict: Verdict = Verdict.MOTION,
    finished: bool = True,
    camera: str = "front",
) -> Event:
    clip = data / "clips" / f"{event_id}.mp4"
    snapshot = data / "snapshots" / f"{event_id}.jpg"
    for path, size in ((clip, 5000), (snapshot, 500)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"e" * size)
    event = Event(
        id=event_id,
        camera=camera,
        verdict=verdict,
        labels=(),
        start=0.0,
        end=1.0,
        wall_start=wall_end - 10,
        wall_end=wall_end,
        score=0.5,
        snapshot=snapshot,
        clip=clip,
    )
    store.save_event(event, finished=finished)
    return event


def policy(**changes: object) -> RetentionPolicy:
    config = RetentionConfig.model_validate(
        {
            "events": {"threat": 48, "motion": 1},
            "segments": 2,
            "min_free_mb": 1,
            "keep_recent_minutes": 5,
            **changes,
        }
    )
    return RetentionPolicy(config, clip_margin=300.0)


def test_a_camera_whose_household_set_its_own_hours_keeps_them(store: Store, data: Path) -> None:
    # The config keeps motion 1 h; the household owning "porch" chose 6 h in the app.
    own = RetentionPolicy(
        policy().config, cameras={"porch": {v: 6.0 for v in Verdict}}, clip_margin=300.0
    )
    add_event(store, data, "porch-3h", NOW - 3 * HOUR, camera="porch")
    add_event(store, data, "porch-7h", NOW - 7 * HOUR, camera="porch")
    add_event(store, data, "front-3h", NOW - 3 * HOUR, camera="front")
    report = sweep(store, data, NOW, plenty, policy=own)
    assert report.events_deleted == 2
    assert store.get_event("porch-3h") is not None  # 3 h < the household's 6 h
    assert store.get_event("porch-7h") is None
    assert store.get_event("front-3h") is None  # the config's 1 h applies to other cameras
    assert not (data / "clips" / "porch-7h.mp4").exists()
    assert (data / "clips" / "porch-3h.mp4").exists()


def test_events_expire_by_their_verdict_hours(store: Store, data: Path) -> None:
    old_motion = add_event(store, data, "m-old", NOW - 1.5 * HOUR)
    add_event(store, data, "m-new", NOW - 0.5 * HOUR)
    add_event(store, data, "t-old", NOW - 30 * HOUR, Verdict.THREAT)
    add_event(store, data, "p-old", NOW - 30 * HOUR, Verdict.PET)  # default 24 h
    add_event(store, data, "open", NOW - 3 * HOUR, finished=False)
    assert old_motion.snapshot is not None
    old_motion.snapshot.unlink()  # a missing file is not an error

    report = sweep(store, data, NOW, plenty, policy=policy())

    assert report.events_deleted == 2
    assert report.files_deleted == 3
    assert report.errors == 0
    assert {e.id for e in store.events()} == {"m-new", "t-old", "open"}
    assert not (data / "clips" / "m-old.mp4").exists()
    assert not (data / "clips" / "p-old.mp4").exists()
    assert (data / "clips" / "t-old.mp4").exists()


def test_segments_expire_by_hours_but_not_while_an_open_event_needs_them(
    store: Store, data: Path
) -> None:
    old = [add_segment(store, data, NOW - h * HOUR) for h in (5, 4, 3)]
    recent = add_segment(store, data, NOW - 1 * HOUR)
    store.add_gap("front", NOW - 6 * HOUR, NOW - 5 * HOUR, "dropped")
    # An event open since 3.05 h ago keeps what it may still cut its clip from (minus 300 s).
    add_event(store, data, "open", NOW - 3 * HOUR + 10, finished=False)

    report = sweep(store, data, NOW, plenty, policy=policy())

    assert report.segments_deleted == 2
    assert report.gaps_deleted == 1
    assert report.bytes_freed == 2 * SEGMENT_BYTES
    assert store.known_segment_paths() == {old[2].path, recent.path}
    assert not old[0].path.exists()
    assert old[2].path.exists()


def test_disk_floor_deletes_oldest_segments_first(store: Store, data: Path) -> None:
    segments = [add_segment(store, data, NOW - 600 + 10 * i) for i in range(20)]
    event = add_event(store, data, "e", NOW - 700)
    # Room for all but three segments: the floor is met after deleting exactly the three oldest.
    disk = FakeDisk(data, 1 * MB + 5500 + 17 * SEGMENT_BYTES)

    report = sweep(store, data, NOW, disk, policy=policy())

    assert report.segments_purged == 3
    assert report.event_media_purged == 0
    assert not report.below_floor
    assert store.known_segment_paths() == {s.path for s in segments[3:]}
    assert store.get_event("e") == event


def test_disk_floor_then_purges_event_media_oldest_first(store: Store, data: Path) -> None:
    add_segment(store, data, NOW - 1000)
    recent = add_segment(store, data, NOW - 10)  # within keep_recent_minutes: kept
    first = add_event(store, data, "first", NOW - 900)
    second = add_event(store, data, "second", NOW - 800)
    disk = FakeDisk(data, 1 * MB + 5500 + SEGMENT_BYTES)

    report = sweep(store, data, NOW, disk, policy=policy())

    assert report.segments_purged == 1
    assert report.event_media_purged == 1
    assert store.known_segment_paths() == {recent.path}
    purged = store.get_event("first")
    assert purged is not None
    assert (purged.clip, purged.snapshot) == (None, None)
    assert first.clip is not None
    assert not first.clip.exists()
    assert store.get_event("second") == second


def test_disk_floor_never_takes_the_newest_minutes(store: Store, data: Path) -> None:
    # Before: the floor deleted the newest footage as a last resort (and its events' clips).
    recent = [add_segment(store, data, NOW - 30 + 10 * i) for i in range(3)]
    newest = add_event(store, data, "newest", NOW - 60, Verdict.MOTION)
    disk = FakeDisk(data, 1 * MB + 2 * SEGMENT_BYTES)

    report = sweep(store, data, NOW, disk, policy=policy())

    assert report.segments_purged == report.event_media_purged == 0
    assert store.known_segment_paths() == {s.path for s in recent}
    assert store.get_event("newest") == newest
    assert report.below_floor  # the disk-full condition: nothing more may go


def test_disk_floor_unreachable_is_reported(store: Store, data: Path) -> None:
    add_segment(store, data, NOW - 1000)
    report = sweep(store, data, NOW, lambda _: 0, policy=policy())
    assert report.segments_purged == 1
    assert report.below_floor
    assert store.known_segment_paths() == set()


def test_missing_segment_files_are_not_errors(store: Store, data: Path) -> None:
    segment = add_segment(store, data, NOW - 5 * HOUR)
    segment.path.unlink()
    report = sweep(store, data, NOW, plenty, policy=policy())
    assert report == SweepReport(segments_deleted=1)
    assert store.known_segment_paths() == set()


def test_policy_from_config_and_defaults() -> None:
    built = policy()
    assert built.min_free_bytes == MB
    assert built.event_cutoff(Verdict.THREAT, NOW) == NOW - 48 * HOUR
    assert built.event_cutoff(Verdict.VEHICLE, NOW) == NOW - 24 * HOUR
    assert built.segment_cutoff(NOW) == NOW - 2 * HOUR
    assert RetentionPolicy().segment_cutoff(NOW) == NOW - 1 * HOUR


def test_default_disk_free_reads_the_real_filesystem(store: Store, data: Path) -> None:
    report = sweep(store, data, NOW, policy=RetentionPolicy(RetentionConfig(min_free_mb=0)))
    assert not report.below_floor


EVENT_BYTES = 5500  # clip and snapshot of ``add_event``


def test_disk_floor_takes_event_media_motion_first_then_vehicle_and_pet_then_threat(
    store: Store, data: Path
) -> None:
    # Ages are chosen against the order: the threat is the oldest, the motion the newest.
    add_event(store, data, "threat", NOW - 5000, Verdict.THREAT)
    add_event(store, data, "pet", NOW - 4000, Verdict.PET)
    add_event(store, data, "vehicle", NOW - 4500, Verdict.VEHICLE)
    add_event(store, data, "motion-old", NOW - 3000, Verdict.MOTION)
    add_event(store, data, "motion-new", NOW - 2000, Verdict.MOTION)
    # Room for all but four events' media: both motions, then the older of vehicle and pet.
    disk = FakeDisk(data, 1 * MB + EVENT_BYTES)

    def purged() -> set[str]:
        return {e.id for e in store.events() if e.clip is None}

    report = sweep(store, data, NOW, disk, policy=policy(events={v: 48 for v in Verdict}))

    assert report.event_media_purged == 4
    assert purged() == {"motion-old", "motion-new", "vehicle", "pet"}
    assert not report.below_floor
    # One event's media fewer room: the threat goes last of all.
    sweep(store, data, NOW, FakeDisk(data, 1 * MB), policy=policy(events={v: 48 for v in Verdict}))
    assert purged() == {"motion-old", "motion-new", "vehicle", "pet", "threat"}


def test_disk_floor_deletes_unneeded_segments_before_any_event_media(
    store: Store, data: Path
) -> None:
    event = add_event(store, data, "motion", NOW - 3000, Verdict.MOTION)
    newer = [add_segment(store, data, NOW - 1000 + 10 * i) for i in range(3)]
    disk = FakeDisk(data, 1 * MB + EVENT_BYTES + SEGMENT_BYTES)

    report = sweep(store, data, NOW, disk, policy=policy())

    assert (report.segments_purged, report.event_media_purged) == (2, 0)
    assert store.known_segment_paths() == {newer[2].path}
    assert store.get_event("motion") == event


def test_disk_floor_keeps_what_open_events_and_pending_clips_need(store: Store, data: Path) -> None:
    old = add_segment(store, data, NOW - 4000)
    pending_window = [add_segment(store, data, NOW - 3000 + 4 * i) for i in range(2)]
    for_open_event = add_segment(store, data, NOW - 1500)
    add_event(store, data, "open", NOW - 1300, finished=False)  # started at NOW - 1310
    # A clip that waits (an unlock, or space) for the footage of [NOW - 3010, NOW - 2990].
    PendingClips(store).add(PendingClip("waiting", "front", NOW - 3010, NOW - 2990))

    report = sweep(store, data, NOW, lambda _: 0, policy=policy())

    assert report.segments_purged == 1
    assert report.below_floor
    assert not old.path.exists()
    assert store.known_segment_paths() == {*(s.path for s in pending_window), for_open_event.path}
    open_event = store.get_event("open")
    assert open_event is not None
    assert open_event.clip is not None
    assert open_event.clip.exists()


def test_a_write_that_found_the_disk_full_raises_the_floor_to_the_headroom(
    store: Store, data: Path
) -> None:
    # No floor configured: an ordinary pass deletes nothing, one after a refused write frees
    # the headroom (here: two segments' worth) from the oldest unneeded footage.
    segments = [add_segment(store, data, NOW - 3000 + 10 * i) for i in range(4)]
    disk = FakeDisk(data, 4 * SEGMENT_BYTES)
    tuned = replace(policy(min_free_mb=0), full_headroom=2 * SEGMENT_BYTES)

    assert sweep(store, data, NOW, disk, policy=tuned) == SweepReport()
    report = sweep(store, data, NOW, disk, policy=tuned, disk_full=True)

    assert report.segments_purged == 2
    assert not report.below_floor
    assert store.known_segment_paths() == {s.path for s in segments[2:]}
    assert tuned.floor_bytes(False) == 0
    assert tuned.floor_bytes(True) == 2 * SEGMENT_BYTES


@dataclass
class FakeCameras:
    """The running cameras as retention sees them (``LiveFootage``)."""

    needed: float | None = None
    waiting: list[WaitingClip] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)

    def needed_from(self) -> float | None:
        return self.needed

    def waiting_for_space(self) -> list[WaitingClip]:
        return list(self.waiting)

    def give_up(self, clip: WaitingClip) -> bool:
        self.waiting.remove(clip)
        self.given_up.append(clip.event_id)
        return True


def test_with_cameras_running_an_open_row_the_full_disk_left_behind_keeps_nothing(
    store: Store, data: Path
) -> None:
    # Before: a row whose "finished" write the full disk refused stayed open, and retention
    # kept every segment after its start for the rest of the run: nothing could be freed.
    add_event(store, data, "stale", NOW - 3000, finished=False)
    segments = [add_segment(store, data, NOW - 2900 + 10 * i) for i in range(3)]
    cameras = FakeCameras(needed=NOW - 2885)  # the cameras still need the last one

    report = sweep(store, data, NOW, lambda _: 0, policy=policy(), live=cameras)

    assert report.segments_purged == 2
    assert store.known_segment_paths() == {segments[2].path}
    # Without the running cameras (a pass from the command line) the store's rows decide.
    add_segment(store, data, NOW - 2800)
    assert sweep(store, data, NOW, lambda _: 0, policy=policy()).segments_purged == 0


def test_clips_waiting_for_space_are_given_up_last_motion_first_oldest_first(
    store: Store, data: Path
) -> None:
    # Before: a disk holding nothing but the footage of clips the full disk refused stopped
    # recording for good (cutting them needs the room their footage holds).
    def waiting(event_id: str, end: float, verdict: Verdict) -> WaitingClip:
        add_segment(store, data, end)
        return WaitingClip(event_id, "front", end - 4, end, verdict)

    threat = waiting("threat", NOW - 3000, Verdict.THREAT)
    motion_new = waiting("motion-new", NOW - 2000, Verdict.MOTION)
    motion_old = waiting("motion-old", NOW - 2500, Verdict.MOTION)
    recent = waiting("recent", NOW - 10, Verdict.MOTION)  # the newest minutes stay anyway
    add_event(store, data, "clipped", NOW - 1000, Verdict.THREAT)  # event media go first
    cameras = FakeCameras(waiting=[threat, motion_old, motion_new, recent])
    # Room once the event's media and two segments are gone.
    disk = FakeDisk(data, 5500 + 5 * SEGMENT_BYTES + 2 * SEGMENT_BYTES)

    report = sweep(store, data, NOW, disk, policy=policy(min_free_mb=0), live=cameras,
                   disk_full=True)  # fmt: skip
    assert report.below_floor  # the headroom (64 MB) is out of reach
    assert report.event_media_purged == 1
    assert cameras.given_up == ["motion-old", "motion-new", "threat"]
    assert report.clips_given_up == 3
    assert store.known_segment_paths() == {data / "recordings" / "front" / f"{NOW - 10:.0f}.mp4"}

    # With room enough after the older motion clip, the rest keep waiting.
    cameras = FakeCameras(waiting=[waiting("t", NOW - 900, Verdict.THREAT),
                                   waiting("m", NOW - 800, Verdict.MOTION)])  # fmt: skip
    disk = FakeDisk(data, 3 * SEGMENT_BYTES + SEGMENT_BYTES)
    report = sweep(store, data, NOW, disk, policy=policy(min_free_mb=0.001), live=cameras)
    assert cameras.given_up == ["m"]
    assert not report.below_floor


def test_keep_recent_minutes_is_a_validated_config_key() -> None:
    assert RetentionConfig().keep_recent_minutes == 10
    assert policy(keep_recent_minutes=30).recent_cutoff(NOW) == NOW - 1800
    with pytest.raises(ValidationError, match="keep_recent_minutes"):
        RetentionConfig.model_validate({"keep_recent_minutes": -1})
