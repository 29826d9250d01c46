"""Start-up recovery: .part files, orphan segments, corrupt files, vanished rows, open events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hearthcam.layout import parse_segment_path, segment_path
from hearthcam.recordings.recovery import RecoveryReport, probe_duration, recover
from hearthcam.store.db import Store
from hearthcam.types import Event, Segment, Verdict
from tests.support.factories import make_h264_segment, make_segments

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
