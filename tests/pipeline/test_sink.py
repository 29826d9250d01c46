"""Tests of the event sink: snapshots, rows and listeners, in order, with fake rows and media;
a snapshot on a full disk (a real small tmpfs)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest

from hearthcam.errors import StoreError, is_disk_full
from hearthcam.pipeline.events import Change, EventChange, Snapshot
from hearthcam.pipeline.sink import EventSink, JpegSnapshots
from hearthcam.types import Detections, Event, Frame, Verdict
from hearthcam.vault.media import PlainMedia
from tests.support.small_disk import leave_free, small_disk

WALL = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
ROOT = Path("/data")


def event(verdict: Verdict = Verdict.MOTION, **changes: object) -> Event:
    made = Event(
        id="ev1",
        camera="front",
        verdict=verdict,
        labels=(),
        start=0.0,
        end=2.0,
        wall_start=WALL,
        wall_end=WALL + 2.0,
        score=0.5,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def snapshot() -> Snapshot:
    image = np.zeros((36, 64, 3), dtype=np.uint8)
    return Snapshot(Frame("front", 3, 0.6, WALL + 0.6, image), Detections.empty(), 0.8)


@dataclass
class FakeRows:
    """Event rows in memory; can fail on demand."""

    saved: list[tuple[Event, bool]] = field(default_factory=list)
    fail: bool = False

    def save_event(self, ev: Event, *, finished: bool = True) -> None:
        if self.fail:
            raise OSError("disk full")
        self.saved.append((ev, finished))


@dataclass
class FakeSnapshots:
    """Records what would be written, and where."""

    written: list[tuple[Snapshot, Path, str]] = field(default_factory=list)

    def write(self, snapshot: Snapshot, path: Path, camera: str) -> None:
        self.written.append((snapshot, path, camera))


@dataclass
class Heard:
    """A listener that records each change with how many rows were saved when it heard it."""

    rows: FakeRows
    changes: list[tuple[Change, Event, int]] = field(default_factory=list)

    def __call__(self, change: Change, ev: Event) -> None:
        self.changes.append((change, ev, len(self.rows.saved)))


@pytest.fixture
def rows() -> FakeRows:
    return FakeRows()


@pytest.fixture
def snapshots() -> FakeSnapshots:
    return FakeSnapshots()


def test_a_started_event_gets_its_snapshot_and_an_open_row_before_listeners_hear(
    rows: FakeRows, snapshots: FakeSnapshots
) -> None:
    heard = Heard(rows)
    sink = EventSink(rows, snapshots, ROOT, [heard])
    snap = snapshot()
    written = sink.write(EventChange(Change.STARTED, event(), snap))
    path = ROOT / "snapshots" / "front" / "2023-11-14" / "ev1.jpg"
    assert snapshots.written == [(snap, path, "front")]
    assert written == event(snapshot=path)
    assert rows.saved == [(written, False)]  # open until its clip exists
    assert heard.changes == [(Change.STARTED, written, 1)]  # told after the row was saved


def test_updates_write_no_snapshot_and_the_end_writes_the_best_one(
    rows: FakeRows, snapshots: FakeSnapshots
) -> None:
    heard = Heard(rows)
    sink = EventSink(rows, snapshots, ROOT, [heard])
    threat = event(Verdict.THREAT, labels=("person",))
    updated = sink.write(EventChange(Change.UPDATED, threat, snapshot()))
    assert updated == threat
    assert snapshots.written == []
    ended = sink.write(EventChange(Change.ENDED, threat, snapshot()))
    assert ended.snapshot == ROOT / "snapshots" / "front" / "2023-11-14" / "ev1.jpg"
    assert len(snapshots.written) == 1
    assert [finished for _, finished in rows.saved] == [False, False]
    assert [c for c, _, _ in heard.changes] == [Change.UPDATED, Change.ENDED]


def test_an_update_keeps_the_snapshot_the_start_wrote(
    rows: FakeRows, snapshots: FakeSnapshots
) -> None:
    sink = EventSink(rows, snapshots, ROOT, [])
    started = sink.write(EventChange(Change.STARTED, event(), snapshot()))
    threat = event(Verdict.THREAT, labels=("person",))
    updated = sink.write(EventChange(Change.UPDATED, threat, None))
    assert updated.snapshot == started.snapshot is not None
    assert rows.saved[-1][0].snapshot == started.snapshot  # the row keeps its picture
    assert len(snapshots.written) == 1


def test_a_change_without_a_snapshot_writes_none(rows: FakeRows, snapshots: FakeSnapshots) -> None:
    sink = EventSink(rows, snapshots, ROOT)
    assert sink.write(EventChange(Change.ENDED, event(), None)).snapshot is None
    assert snapshots.written == []
    assert len(rows.saved) == 1


def test_the_sink_never_decides_an_alert_but_carries_one_the_decision_made(
    rows: FakeRows, snapshots: FakeSnapshots
) -> None:
    alerted: set[str] = set()
    heard = Heard(rows)
    sink = EventSink(rows, snapshots, ROOT, [heard], alerted=alerted.__contains__)
    threat = event(Verdict.THREAT, labels=("person",))
    assert sink.write(EventChange(Change.UPDATED, threat, None)).alert is False
    alerted.add("ev1")  # the decision, on its own thread, found it alert-worthy
    ended = sink.write(EventChange(Change.ENDED, threat, None))
    assert ended.alert is True
    assert [e.alert for e, _ in rows.saved] == [False, True]
    assert [e.alert for _, e, _ in heard.changes] == [False, True]


def test_a_failed_save_reaches_no_listener(rows: FakeRows, snapshots: FakeSnapshots) -> None:
    heard = Heard(rows)
    sink = EventSink(rows, snapshots, ROOT, [heard])
    rows.fail = True
    with pytest.raises(OSError, match="disk full"):
        sink.write(EventChange(Change.STARTED, event(), snapshot()))
    assert heard.changes == []


def test_every_listener_hears_every_change_in_order(
    rows: FakeRows, snapshots: FakeSnapshots
) -> None:
    first, second = Heard(rows), Heard(rows)
    sink = EventSink(rows, snapshots, ROOT, [first, second])
    for change in (Change.STARTED, Change.UPDATED, Change.ENDED):
        sink.write(EventChange(change, event(), None))
    expected = [Change.STARTED, Change.UPDATED, Change.ENDED]
    assert [c for c, _, _ in first.changes] == expected
    assert [c for c, _, _ in second.changes] == expected


def test_a_ready_clip_is_told_as_an_update_carrying_it(
    rows: FakeRows, snapshots: FakeSnapshots
) -> None:
    heard = Heard(rows)
    alerted = {"ev1"}
    sink = EventSink(rows, snapshots, ROOT, [heard], alerted=alerted.__contains__)
    clipped = event(Verdict.THREAT, clip=ROOT / "clips" / "front" / "2023-11-14" / "ev1.mp4")
    sink.clip_ready(clipped)
    assert heard.changes == [(Change.UPDATED, replace(clipped, alert=True), 0)]
    assert rows.saved == []  # the clip cutter saved the row


@pytest.mark.integration
def test_a_snapshot_the_disk_has_no_room_for_is_reported_and_the_event_goes_on(
    rows: FakeRows, tmp_path: Path
) -> None:
    # Before: the write raised from the analysis thread (a traceback) and the event was lost.
    told: list[BaseException] = []
    with small_disk(tmp_path / "disk", 256) as disk:
        leave_free(disk, 0)
        heard = Heard(rows)
        sink = EventSink(rows, JpegSnapshots(PlainMedia()), disk, [heard], on_disk_full=told.append)
        written = sink.write(EventChange(Change.STARTED, event(), snapshot()))
        assert written.snapshot is None
        assert rows.saved == [(written, False)]
        assert [c for c, _e, _n in heard.changes] == [Change.STARTED]
        assert len(told) == 1
        assert is_disk_full(told[0])
        assert not list(disk.rglob("*.jpg*"))


def test_other_snapshot_failures_still_raise(rows: FakeRows) -> None:
    class Broken:
        def write(self, snapshot: Snapshot, path: Path, camera: str) -> None:
            raise StoreError("cannot encode snapshot")

    sink = EventSink(rows, Broken(), ROOT, on_disk_full=lambda _e: None)
    with pytest.raises(StoreError, match="encode"):
        sink.write(EventChange(Change.STARTED, event(), snapshot()))
    assert rows.saved == []
