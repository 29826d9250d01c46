"""The history queries: segments merged into spans, events as markers (real SQLite)."""

from __future__ import annotations

from pathlib import Path

from hearthcam.store.db import Store
from hearthcam.store.history import Span, event_markers, merge_spans, recorded_spans
from hearthcam.types import Event, Segment, Verdict


def test_adjacent_and_overlapping_segments_merge_and_a_hole_splits() -> None:
    times = [(0.0, 1.0), (1.02, 2.0), (1.9, 3.0), (4.5, 5.0), (5.9, 7.0)]
    assert merge_spans(times) == [Span(0.0, 3.0, 3), Span(4.5, 7.0, 2)]
    assert merge_spans([]) == []


def test_spans_are_of_one_camera_and_overlap_the_range(store: Store, data_dir: Path) -> None:
    for i in range(5):
        start = 100.0 + i
        store.add_segment(Segment("porch", data_dir / f"p{i}.mp4", start, start + 1))
    store.add_segment(Segment("porch", data_dir / "late.mp4", 200.0, 210.0))
    store.add_segment(Segment("yard", data_dir / "y.mp4", 100.0, 110.0))
    assert recorded_spans(store, "porch", 0, 300) == [Span(100, 105, 5), Span(200, 210, 1)]
    assert recorded_spans(store, "porch", 104.5, 150) == [Span(104, 105, 1)]


def event(n: int, wall: float, camera: str = "porch") -> Event:
    return Event(
        id=f"{n:032x}",
        camera=camera,
        verdict=Verdict.PET,
        labels=("cat",),
        start=0.0,
        end=1.0,
        wall_start=wall,
        wall_end=wall + 5,
        score=0.5,
        zones=(),
        tracks=(),
        snapshot=None,
        clip=None,
        alert=False,
    )


def test_markers_overlap_the_range_oldest_first_keeping_the_newest(store: Store) -> None:
    for n, wall in enumerate([10.0, 20.0, 30.0, 40.0]):
        store.save_event(event(n, wall))
    store.save_event(event(9, 25.0, "yard"))
    found = event_markers(store, "porch", 12.0, 35.0, limit=10)
    assert [m.start for m in found] == [10.0, 20.0, 30.0]  # the first still runs at 12
    assert found[0].labels == ("cat",)
    assert found[0].verdict is Verdict.PET
    assert [m.start for m in event_markers(store, "porch", 0, 100, limit=2)] == [30.0, 40.0]
