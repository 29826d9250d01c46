"""The timeline's queries (``store.event_query``) on SQLite and PostgreSQL: label and zone filters
go through each database's own JSON table function, keyset pages, reviewed marks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hearthcam.store import event_query as q
from hearthcam.store.db import Store
from hearthcam.types import Event, Verdict

T0 = 1_790_000_000.0
DATA = Path("/srv/hearthcam-data")  # rows only: no file is read


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with Store.open(database_url, data_dir=DATA) as opened:
        yield opened


def event(n: int, camera: str, labels: tuple[str, ...], zones: tuple[str, ...]) -> Event:
    verdict = Verdict.THREAT if "person" in labels else Verdict.PET if labels else Verdict.MOTION
    return Event(
        id=f"ev{n:02d}", camera=camera, verdict=verdict, labels=labels, start=0.0, end=2.0,
        wall_start=T0 + n, wall_end=T0 + n + 2, score=0.8, zones=zones, tracks=(),
        snapshot=None, clip=None, alert=verdict is Verdict.THREAT,
    )  # fmt: skip


@pytest.fixture
def events(store: Store) -> list[Event]:
    made = [
        event(1, "front", ("person",), ("porch",)),
        event(2, "front", ("cat",), ("drive",)),
        event(3, "back", ("person", "dog"), ("porch", "drive")),
        event(4, "back", (), ()),
        event(5, "garage", ("person",), ("porch",)),  # another household's camera
        event(6, "front", ("person",), ()),
    ]
    for made_event in made:
        store.save_event(made_event)
    return made


def ids(listed: list[Event]) -> list[str]:
    return [e.id for e in listed]


@pytest.mark.usefixtures("events")
def test_labels_and_zones_filter_within_the_households_cameras(store: Store) -> None:
    mine = ("front", "back")
    assert ids(q.camera_events(store, mine)) == ["ev06", "ev04", "ev03", "ev02", "ev01"]
    assert ids(q.camera_events(store, mine, q.EventFilter(label="person"))) == [
        "ev06",
        "ev03",
        "ev01",
    ]
    assert ids(q.camera_events(store, mine, q.EventFilter(zone="drive"))) == ["ev03", "ev02"]
    both = q.EventFilter(label="person", zone="porch", alert=True)
    assert ids(q.camera_events(store, mine, both)) == ["ev03", "ev01"]
    assert ids(q.camera_events(store, mine, q.EventFilter(label="dog", camera="front"))) == []
    assert ids(q.camera_events(store, ["garage"], q.EventFilter(label="person"))) == ["ev05"]


@pytest.mark.usefixtures("events")
def test_pages_continue_after_the_last_event_and_reviewed_marks_filter(store: Store) -> None:
    mine = ("front", "back")
    first = q.timeline(store, mine, q.EventFilter(limit=2))
    last = first[-1].event
    after = q.Cursor(last.wall_start, last.id)
    second = q.timeline(store, mine, q.EventFilter(limit=2, after=after))
    assert [x.event.id for x in first + second] == ["ev06", "ev04", "ev03", "ev02"]

    assert q.mark_reviewed(store, mine, q.EventFilter(label="person"), T0 + 100) == 3
    assert q.mark_reviewed(store, mine, q.EventFilter(label="person"), T0 + 200) == 0
    q.set_reviewed(store, "ev03", False, T0 + 300)
    q.set_reviewed(store, "ev04", True, T0 + 300)
    reviewed = q.camera_events(store, mine, q.EventFilter(reviewed=True))
    assert ids(reviewed) == ["ev06", "ev04", "ev01"]
    assert q.is_reviewed(store, "ev04")
    assert not q.is_reviewed(store, "ev05")


def test_events_by_id_leave_out_other_cameras(store: Store, events: list[Event]) -> None:
    found = q.events_by_id(store, ["ev01", "ev05", "nope"], ["front", "back"])
    assert found == [events[0]]
    assert replace(found[0], labels=("person",)) == events[0]
