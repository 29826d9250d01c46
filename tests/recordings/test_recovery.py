"""Start-up recovery: .part files, orphan segments, corrupt files, vanished rows, open events;
and the recovery of one camera whose recorder died while the others keep recording."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hearthcam.layout import parse_segment_path, segment_path
from hearthcam.recordings.recovery import (
    MOVED_REASON,
    RecoveryReport,
    probe_duration,
    recover,
    recover_camera,
)
from hearthcam.store.db import Store
from hearthcam.types import Event, Segment, Verdict
from hearthcam.vault.sealed import SALVAGE_SUFFIX
from tests.support.factories import make_h264_segment, make_segments
from tests.vault.test_sealed import encode_fragmented

T0 = 1_700_000_000.25


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'hearthcam.db'}", data_dir=tmp_path / "data") as opened:
        yield opened


def test_segment_path_round_trips_to_the_millisecond(tmp_path: Path) -> None:
    path = segment_path(tmp_path, "front", T0 + 0.123)
    assert path.relative_to(tmp_path).parts == ("front", "2023-11-14", "22-13-20.373.mp4")
    camera, start = parse_segment_path(tmp_path, path)
    assert camera == "front"
    assert start == pytest.approx(T0 + 0.123, abs=1e-3)


@pytest.mark.parametrize("name", ["x.mp4", "front/2023-11-14/noon.mp4", "front/a/b/c.mp4"])
def test_parse_segment_path_rejects_other_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"segment path|does not match|time data"):
        parse_segment_path(tmp_path, tmp_path / name)


def test_probe_duration_of_a_real_segment(tmp_path: Path) -> None:
    path = tmp_path / "a.mp4"
    make_h264_segment(path, seconds=2.0, fps=10)
    assert probe_duration(path) == pytest.approx(2.0, abs=0.01)


def test_recover_without_recordings_dir_is_a_no_op(store: Store, tmp_path: Path) -> None:
    assert recover(store, tmp_path / "data") == RecoveryReport()


def test_recover_after_a_crash(store: Store, tmp_path: Path) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    segments = make_segments(recordings, "front", T0, 4, seconds=2.0)
    known, orphans = segments[:2], segments[2:]
    for segment in known:
        store.add_segment(segment)
    # The segment in flight when the process died, and a finished file nobody can read.
    part = segment_path(recordings, "front", T0 + 8).with_suffix(".mp4.part")
    part.write_bytes(b"half a segment")
    corrupt = segment_path(recordings, "back", T0)
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"\x00" * 4096)
    stray = recordings / "back" / "notes.mp4"
    stray.write_bytes(b"not ours")
    # A row whose file was deleted behind the store's back.
    gone = Segment("front", recordings / "front" / "gone.mp4", T0 - 10, T0 - 8)
    store.add_segment(gone)
    open_event = Event("e1", "front", Verdict.MOTION, (), 0.0, 1.0, T0, T0 + 1, 0.5)
    store.save_event(open_event, finished=False)

    report = recover(store, data)

    assert report.parts_deleted == 1
    assert report.segments_indexed == 2
    assert report.rows_dropped == 1
    assert report.events_closed == 1
    assert not part.exists()
    assert sorted(report.corrupt) == sorted(
        [
            data / "corrupt" / "back" / "notes.mp4",
            data / "corrupt" / corrupt.relative_to(recordings),
        ]
    )
    assert all(p.exists() for p in report.corrupt)
    assert not corrupt.exists()
    assert not stray.exists()
    indexed = store.segments_between("front", T0 - 100, T0 + 100)
    assert [s.path for s in indexed] == [s.path for s in segments]
    for found, expected in zip(indexed[2:], orphans, strict=True):
        assert found.start == pytest.approx(expected.start, abs=1e-3)
        assert found.end == pytest.approx(expected.end, abs=0.01)
    assert store.open_event_start() is None
    # A second run finds nothing left to do.
    assert recover(store, data) == RecoveryReport()


def test_recover_matches_relative_and_absolute_paths(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    [segment] = make_segments(Path("data/recordings"), "front", T0, 1)
    store.add_segment(replace(segment, path=segment.path.resolve()))
    assert recover(store, Path("data")).segments_indexed == 0


def test_a_crash_ends_open_events_at_their_footage_and_records_the_downtime(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    front = make_segments(recordings, "front", T0, 4, seconds=2.0)
    for segment in front[:3]:
        store.add_segment(segment)  # the last one finished but was never indexed
    back = make_segments(recordings, "back", T0, 2, seconds=2.0)
    for segment in back:
        store.add_segment(segment)  # stopped recording before the crash: no trace of it
    open_event = Event(
        "e1", "front", Verdict.THREAT, ("person",), 10.0, 10.6, T0 + 1, T0 + 1.6, 0.9
    )
    store.save_event(open_event, finished=False)
    before = time.time()

    report = recover(store, data)

    assert report.events_closed == 1
    assert report.downtime_gaps == 1
    event = store.get_event("e1")
    assert event is not None
    assert store.is_finished("e1")
    assert event.wall_end == pytest.approx(T0 + 8, abs=0.01)  # the last recorded moment
    assert event.end == pytest.approx(10.0 + 7.0, abs=0.01)
    [gap] = store.gaps("front")
    assert gap.start == pytest.approx(T0 + 8, abs=0.01)
    assert before <= gap.end <= time.time()
    assert store.gaps("back") == []
    assert recover(store, data) == RecoveryReport()  # the downtime is recorded once


def test_a_camera_recording_at_the_crash_gets_a_downtime_gap_without_an_event(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    [segment] = make_segments(recordings, "front", T0, 1, seconds=2.0)
    store.add_segment(segment)
    part = segment_path(recordings, "front", T0 + 2).with_suffix(".mp4.part")
    part.write_bytes(b"a fragment that never finished")

    report = recover(store, data)

    assert (report.parts_deleted, report.downtime_gaps, report.events_closed) == (1, 1, 0)
    [gap] = store.gaps("front")
    assert gap.start == pytest.approx(T0 + 2, abs=0.01)


def _killed_writers_part(recordings: Path, camera: str, start_wall: float) -> Path:
    """A segment ``.part`` as a killed recorder leaves it: fragmented MP4 cut mid-fragment."""
    part = segment_path(recordings, camera, start_wall).with_suffix(".mp4.part")
    part.parent.mkdir(parents=True, exist_ok=True)
    encode_fragmented(str(part), frames=40).close()
    part.write_bytes(part.read_bytes()[:-100])
    return part


def _open_event(event_id: str, camera: str) -> Event:
    return Event(event_id, camera, Verdict.MOTION, (), 0.0, 0.5, T0 + 0.5, T0 + 1, 0.5)


def test_recovering_one_camera_leaves_the_cameras_other_processes_record_alone(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    now = T0 + 100
    a_segments = make_segments(recordings, "a", T0, 1, seconds=2.0)
    b_segments = make_segments(recordings, "b", T0, 2, seconds=2.0)
    for segment in [*a_segments, b_segments[0]]:
        store.add_segment(segment)
    # a's recorder died mid-segment; b's writes its .part and its next segment right now.
    a_part = _killed_writers_part(recordings, "a", T0 + 2)
    b_part = _killed_writers_part(recordings, "b", T0 + 4)
    b_part_bytes = b_part.read_bytes()
    b_salvage = b_part.with_name(b_part.name + SALVAGE_SUFFIX)  # b's recovery, running now
    b_salvage.write_bytes(b"being salvaged")
    b_clip_part = data / "clips" / "b" / "clip.mp4.part"
    b_clip_part.parent.mkdir(parents=True)
    b_clip_part.write_bytes(b"a clip being written")
    store.save_event(_open_event("ea", "a"), finished=False)
    store.save_event(_open_event("eb", "b"), finished=False)

    report = recover_camera(store, data, "a", now=now)

    assert report == RecoveryReport(
        segments_indexed=1, events_closed=1, parts_salvaged=1, downtime_gaps=1
    )
    assert not a_part.exists()
    [first, salvaged] = store.segments_between("a", float("-inf"), float("inf"))
    assert first.path == a_segments[0].path
    assert salvaged.path == a_part.with_name(a_part.name.removesuffix(".part"))
    assert store.is_finished("ea")
    ended = store.get_event("ea")
    assert ended is not None
    assert ended.wall_end == pytest.approx(salvaged.end)  # ended at its footage
    [gap] = store.gaps("a")
    assert gap.start == pytest.approx(salvaged.end)
    assert gap.end == now
    assert gap.reason == MOVED_REASON  # not "hearthcam was not running": the server was up
    # b: its .part, its unindexed segment, its clip temp, its open event and rows as they were.
    assert b_part.read_bytes() == b_part_bytes
    assert b_salvage.exists()
    assert b_clip_part.exists()
    assert store.segments_between("b", float("-inf"), float("inf")) == [b_segments[0]]
    assert store.is_finished("eb") is False
    assert store.get_event("eb") == _open_event("eb", "b")
    assert store.gaps("b") == []
    assert not (data / "corrupt").exists()
    # The camera is recovered: a second run finds nothing left to do.
    assert recover_camera(store, data, "a", now=now + 1) == RecoveryReport()


def test_recovering_one_camera_closes_its_events_a_finisher_left_open(
    store: Store, tmp_path: Path
) -> None:
    class Forgetful:
        """A finisher that returns without saving the event."""

        def finish(self, event: Event) -> Event:
            return event

    store.save_event(_open_event("ea", "a"), finished=False)
    store.save_event(_open_event("eb", "b"), finished=False)

    report = recover_camera(store, tmp_path / "data", "a", finisher=Forgetful())

    assert report == RecoveryReport(events_closed=1)  # no footage: no downtime to measure
    assert store.is_finished("ea")
    assert store.is_finished("eb") is False


def test_recovering_one_camera_drops_only_its_rows_whose_files_are_gone(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    [kept] = make_segments(recordings, "a", T0, 1, seconds=2.0)
    store.add_segment(kept)
    a_gone = Segment("a", recordings / "a" / "gone.mp4", T0 - 10, T0 - 8)
    b_gone = Segment("b", recordings / "b" / "gone.mp4", T0 - 10, T0 - 8)
    store.add_segment(a_gone)
    store.add_segment(b_gone)

    report = recover_camera(store, data, "a")

    assert report == RecoveryReport(rows_dropped=1)
    assert store.known_segment_paths("a") == {kept.path}
    assert store.known_segment_paths("b") == {b_gone.path}  # b's file may be on its way
    assert store.gaps("a") == []


def test_recovering_a_camera_with_nothing_to_recover_does_nothing(
    store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    for segment in make_segments(recordings, "a", T0, 2, seconds=2.0):
        store.add_segment(segment)  # a stopped cleanly
    [b_segment] = make_segments(recordings, "b", T0, 1, seconds=2.0)
    store.add_segment(b_segment)
    b_part = segment_path(recordings, "b", T0 + 2).with_suffix(".mp4.part")
    b_part.write_bytes(b"b is recording")
    store.save_event(_open_event("eb", "b"), finished=False)

    assert recover_camera(store, data, "a", now=T0 + 100) == RecoveryReport()
    assert recover_camera(store, data, "c", now=T0 + 100) == RecoveryReport()  # no folder
    assert store.gaps("a") == []
    assert store.gaps("b") == []
    assert b_part.exists()
    assert store.is_finished("eb") is False


@pytest.mark.parametrize("camera", ["", ".", "..", "a/b", "/a"])
def test_recovering_one_camera_refuses_a_name_that_is_not_one_folder(
    store: Store, tmp_path: Path, camera: str
) -> None:
    with pytest.raises(ValueError, match="not a camera name"):
        recover_camera(store, tmp_path / "data", camera)
