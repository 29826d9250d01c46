"""Store (on SQLite and PostgreSQL): SQLite pragmas, segments, gaps, events, open events and
concurrent writers."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from hearthcam.errors import StoreError
from hearthcam.store.db import Gap, Store
from hearthcam.types import Event, Segment, TrackSummary, Verdict
from tests.support.store_fixtures import SQLITE_ONLY

T0 = 1_700_000_000.0
DATA = Path("/srv/hearthcam-data")  # rows only: no file is read (tests/store/test_media_paths.py)


@pytest.fixture
def db_path(data_dir: Path) -> Path:
    return data_dir / "hearthcam.sqlite"  # where ``database_url`` puts a SQLite store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url, data_dir=DATA) as opened:
        yield opened


def make_event(event_id: str = "ev1", wall_start: float = T0, **changes: object) -> Event:
    track = TrackSummary(
        tracker_id=7,
        label="person",
        best_score=0.91,
        mean_score=0.7333333333333333,
        hits=12,
        first_pts=1.25,
        last_pts=9.5,
        max_area_ratio=0.125,
        travel=0.4,
        zones=frozenset({"porch", "drive"}),
    )
    event = Event(
        id=event_id,
        camera="front",
        verdict=Verdict.THREAT,
        labels=("person", "dog"),
        start=12.5,
        end=20.1,
        wall_start=wall_start,
        wall_end=wall_start + 7.6,
        score=0.91,
        zones=("porch", "drive"),
        tracks=(track,),
        snapshot=DATA / "snapshots" / "front" / "ev1.jpg",
        clip=DATA / "clips" / "front" / "ev1.mp4",
        alert=True,
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def seg(camera: str, start: float, length: float = 2.0, name: str | None = None) -> Segment:
    return Segment(
        camera, DATA / "recordings" / camera / f"{name or start}.mp4", start, start + length
    )


@SQLITE_ONLY
def test_wal_mode_and_pragmas(store: Store, db_path: Path) -> None:
    assert store.journal_mode() == "wal"
    # WAL is a property of the file, so a plain connection sees it too.
    with closing(sqlite3.connect(db_path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_open_unwritable_location_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_segments_between_returns_overlapping_in_order(store: Store) -> None:
    for start in (T0 + 4, T0, T0 + 2, T0 + 6):
        store.add_segment(seg("front", start))
    store.add_segment(seg("back", T0 + 2))
    found = store.segments_between("front", T0 + 3, T0 + 5)
    assert [s.start for s in found] == [T0 + 2, T0 + 4]
    assert all(s.camera == "front" for s in found)
    # A segment touching the window only at its edge does not overlap it.
    assert [s.start for s in store.segments_between("front", T0 + 2, T0 + 4)] == [T0 + 2]
    assert store.segments_between("front", T0 + 100, T0 + 200) == []


def test_add_segment_twice_updates_the_row(store: Store) -> None:
    store.add_segment(seg("front", T0, 2.0, name="a"))
    store.add_segment(seg("front", T0, 3.5, name="a"))
    assert store.segments_between("front", T0, T0 + 10) == [seg("front", T0, 3.5, name="a")]


def test_oldest_segments_and_deletion(store: Store) -> None:
    for i in range(5):
        store.add_segment(seg("front" if i % 2 else "back", T0 + 2 * i))
    oldest = store.oldest_segments(3)
    assert [s.start for s in oldest] == [T0, T0 + 2, T0 + 4]
    assert [s.start for s in store.oldest_segments(10, ended_before=T0 + 3.5)] == [T0]
    assert [s.start for s in store.oldest_segments(10, camera="front")] == [T0 + 2, T0 + 6]
    assert store.delete_segment(oldest[0].path)
    assert not store.delete_segment(oldest[0].path)
    assert store.delete_segments([oldest[1].path, Path("/not/there.mp4")]) == 1
    assert store.known_segment_paths() == {s.path for s in store.oldest_segments(10)}
    assert store.known_segment_paths("back") == {seg("back", T0 + 4).path, seg("back", T0 + 8).path}


def test_gaps(store: Store) -> None:
    store.add_gap("front", T0 + 10, T0 + 20, "source lost")
    store.add_gap("front", T0, T0 + 5, "restart")
    store.add_gap("back", T0, T0 + 1, "x")
    assert store.gaps("front") == [
        Gap("front", T0, T0 + 5, "restart"),
        Gap("front", T0 + 10, T0 + 20, "source lost"),
    ]
    assert store.gaps("front", since_wall=T0 + 6) == [Gap("front", T0 + 10, T0 + 20, "source lost")]
    assert store.delete_gaps_before(T0 + 6) == 2
    assert store.gaps("back") == []


def test_event_round_trip_is_exact_and_survives_reopen(store: Store, database_url: str) -> None:
    event = make_event()
    store.save_event(event)
    assert store.get_event("ev1") == event
    store.close()
    with Store.open(database_url, data_dir=DATA) as reopened:
        assert reopened.get_event("ev1") == event
    bare = make_event("ev2", zones=(), tracks=(), snapshot=None, clip=None, alert=False)
    store.save_event(bare)
    assert store.get_event("ev2") == bare
    assert store.get_event("nope") is None


def test_an_event_with_several_clips_keeps_them_in_order(store: Store) -> None:
    clips = DATA / "clips" / "front"
    parts = (clips / "ev1.part2.mp4", clips / "ev1.part3.mp4")
    event = make_event(clip=clips / "ev1.mp4", clip_parts=parts)
    store.save_event(event)
    assert store.get_event("ev1") == event
    assert store.get_event("ev1").clips == (clips / "ev1.mp4", *parts)  # type: ignore[union-attr]
    store.save_event(replace(event, clip=None, clip_parts=()))  # retention took the media
    assert store.get_event("ev1").clips == ()  # type: ignore[union-attr]


def test_save_event_updates_by_id(store: Store) -> None:
    store.save_event(make_event(clip=None), finished=False)
    updated = make_event(verdict=Verdict.PET, labels=("cat",), score=0.5)
    store.save_event(updated)
    assert store.get_event("ev1") == updated
    assert store.is_finished("ev1") is True
    assert len(store.events()) == 1


def test_set_alert_writes_only_the_flag_and_saves_never_clear_it(store: Store) -> None:
    # The alert decision sets the flag on its own thread while the camera saves later changes.
    opened = make_event(clip=None, alert=False)
    store.save_event(opened, finished=False)
    assert store.set_alert("ev1") is True
    assert store.get_event("ev1") == replace(opened, alert=True)
    assert store.is_finished("ev1") is False
    later = replace(opened, verdict=Verdict.PET, labels=("cat",), alert=False)
    store.save_event(later)  # a later change that does not carry the flag yet
    assert store.get_event("ev1") == replace(later, alert=True)
    assert store.set_alert("gone") is False


def test_events_filters_and_orders_newest_first(store: Store) -> None:
    store.save_event(make_event("a", T0))
    store.save_event(make_event("b", T0 + 10, verdict=Verdict.PET))
    store.save_event(make_event("c", T0 + 20, camera="back"))
    store.save_event(make_event("d", T0 + 30))
    assert [e.id for e in store.events()] == ["d", "c", "b", "a"]
    assert [e.id for e in store.events(camera="front")] == ["d", "b", "a"]
    assert [e.id for e in store.events(since_wall=T0 + 10)] == ["d", "c", "b"]
    assert [e.id for e in store.events(verdict=Verdict.PET)] == ["b"]
    assert [e.id for e in store.events(limit=2)] == ["d", "c"]


def test_open_events_protect_and_are_closed_by_finish(store: Store) -> None:
    assert store.open_event_start() is None
    store.save_event(make_event("done", T0))
    store.save_event(make_event("open1", T0 + 50), finished=False)
    store.save_event(make_event("open2", T0 + 40), finished=False)
    assert store.open_event_start() == T0 + 40
    assert store.is_finished("open1") is False
    assert store.is_finished("nope") is None
    # Retention's queries never see open events.
    assert [e.id for e in store.expired_events(Verdict.THREAT, T0 + 1000, 10)] == ["done"]
    assert [e.id for e in store.oldest_events_with_media(10)] == ["done"]
    assert store.finish_open_events() == 2
    assert store.open_event_start() is None


def test_oldest_events_with_media_skips_events_without_files(store: Store) -> None:
    store.save_event(make_event("none", T0, clip=None, snapshot=None))
    store.save_event(make_event("snap", T0 + 10, clip=None))
    store.save_event(make_event("both", T0 + 5))
    assert [e.id for e in store.oldest_events_with_media(10)] == ["both", "snap"]


def test_delete_event(store: Store) -> None:
    store.save_event(make_event())
    assert store.delete_event("ev1")
    assert not store.delete_event("ev1")
    assert store.get_event("ev1") is None


def test_concurrent_writers_lose_no_rows(store: Store) -> None:
    per_thread = 40
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(per_thread):
                store.add_segment(seg(f"cam{n}", T0 + 2 * i))
                store.save_event(make_event(f"e{n}-{i}", T0 + i))
                # Updates read then write: the case that needs BEGIN IMMEDIATE under WAL.
                store.save_event(make_event(f"e{n}-{i}", T0 + i, score=0.25))
        except BaseException as error:  # surfaced to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.known_segment_paths()) == 4 * per_thread
    events = store.events(limit=1000)
    assert len(events) == 4 * per_thread
    assert {e.score for e in events} == {0.25}


def test_in_memory_database_is_shared_between_threads() -> None:
    with Store.open("sqlite://", data_dir=DATA) as store:
        thread = threading.Thread(target=store.add_segment, args=(seg("front", T0),))
        thread.start()
        thread.join()
        assert store.known_segment_paths() == {seg("front", T0).path}


def test_a_camera_is_claimed_by_one_process_until_it_closes(
    store: Store, database_url: str, data_dir: Path, backend: str
) -> None:
    """A camera moved to another cluster node waits until the process it left lets go (on
    PostgreSQL; SQLite is one machine's, where the data directory's lock keeps one process)."""
    assert store.claim_camera("porch", wait=0)
    with Store.open(database_url, data_dir=data_dir) as other:
        if backend == "postgresql":
            assert not other.claim_camera("porch", wait=0.3, every=0.1)  # still held
        else:
            assert other.claim_camera("porch", wait=0)
        assert other.claim_camera("shed", wait=0)  # another camera is free
        store.close()  # the first process dies or stops: its connection and claim go
        assert other.claim_camera("porch", wait=5, every=0.1)
