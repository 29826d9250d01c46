"""The timeline over HTTP: keyset pages, every filter in SQL, reviewed state (one event, or all
that match a filter), and the event detail as the event page reads it (objects grouped by label,
parked vehicles apart, the clip's own duration). A household sees and marks only its own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hearthcam import mp4
from hearthcam.store.event_reviews import EventReviewRow
from hearthcam.types import Event, TrackSummary, Verdict
from hearthcam.vault.media import read_bytes
from tests.support.world import T0, World
from tests.web.conftest import ClientFor


def track(label: str, travel: float = 0.5, zones: Sequence[str] = (), tid: int = 1) -> TrackSummary:
    return TrackSummary(tid, label, 0.8, 0.7, 6, 1.0, 3.0, 0.1, travel, frozenset(zones))


def save(
    world: World,
    wall_start: float,
    camera: str = "front",
    verdict: Verdict = Verdict.MOTION,
    *,
    labels: Sequence[str] = (),
    zones: Sequence[str] = (),
    alert: bool = False,
    tracks: Sequence[TrackSummary] = (),
) -> Event:
    """An event row without media (the listing never reads media)."""
    event = Event(
        id=uuid.uuid4().hex, camera=camera, verdict=verdict, labels=tuple(labels), start=0.0,
        end=2.0, wall_start=wall_start, wall_end=wall_start + 2.0, score=0.5, zones=tuple(zones),
        tracks=tuple(tracks), alert=alert,
    )  # fmt: skip
    world.store.save_event(event)
    return event


def listed(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/events", params=params)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


def every_page(client: TestClient, limit: int, **params: Any) -> list[list[str]]:
    """The ids of every page, following the cursors to the end."""
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        page = listed(client, limit=limit, **params, **({"after": after} if after else {}))
        if not page:
            return pages
        pages.append([e["id"] for e in page])
        after = page[-1]["cursor"]


def test_pages_follow_the_cursor_with_no_gap_or_repeat_even_on_equal_starts(
    world: World, client_for: ClientFor
) -> None:
    events = [save(world, T0 - 10 * (i // 7), camera=("front", "back")[i % 2]) for i in range(160)]
    save(world, T0, camera="garage")  # household B's, at the same times
    expected = [e.id for e in sorted(events, key=lambda e: (-e.wall_start, e.id))]
    owner = client_for("alice")
    pages = every_page(owner, 25)
    assert [len(p) for p in pages] == [25] * 6 + [10]
    assert [i for p in pages for i in p] == expected
    # Events arriving while one scrolls do not shift the pages already being read.
    first = listed(owner, limit=25)
    save(world, T0 + 5)
    second = listed(owner, limit=25, after=first[-1]["cursor"])
    assert [e["id"] for e in second] == expected[25:50]


def test_cursor_pages_go_past_500_events_and_24_hours(world: World, client_for: ClientFor) -> None:
    events = [save(world, T0 - 300 * i) for i in range(620)]  # two days and more
    pages = every_page(client_for("mia"), 500)
    assert [len(p) for p in pages] == [500, 120]
    assert [i for p in pages for i in p] == [e.id for e in events]


@pytest.mark.parametrize(
    "bad", ["x", "1.5~" + "a" * 31, "nan~" + "a" * 32, "1e400~" + "a" * 32, "-1~" + "a" * 32]
)
def test_a_malformed_cursor_is_refused(world: World, client_for: ClientFor, bad: str) -> None:
    assert client_for("alice").get("/api/events", params={"after": bad}).status_code == 422


def test_each_filter_is_applied(world: World, client_for: ClientFor) -> None:
    person = save(world, T0 - 10, verdict=Verdict.THREAT, labels=["person"], zones=["porch"],
                  alert=True)  # fmt: skip
    dog = save(world, T0 - 20, camera="back", verdict=Verdict.PET, labels=["dog"],
               zones=["lawn", "porch"])  # fmt: skip
    car = save(world, T0 - 30, verdict=Verdict.VEHICLE, labels=["car", "person"],
               zones=["drive"], alert=True)  # fmt: skip
    quiet = save(world, T0 - 40, camera="back")
    save(
        world,
        T0 - 5,
        camera="garage",
        verdict=Verdict.THREAT,
        labels=["person"],
        zones=["porch"],
        alert=True,
    )  # fmt: skip  household B's
    owner = client_for("alice")

    def ids(**params: Any) -> list[str]:
        return [e["id"] for e in listed(owner, **params)]

    assert ids() == [person.id, dog.id, car.id, quiet.id]
    assert ids(label="person") == [person.id, car.id]
    assert ids(label="dog") == [dog.id]
    assert ids(label="pers") == []  # whole labels, not parts of one
    assert ids(zone="porch") == [person.id, dog.id]
    assert ids(zone="lawn") == [dog.id]
    assert ids(camera="back") == [dog.id, quiet.id]
    assert ids(verdict="vehicle") == [car.id]
    assert ids(alert="true") == [person.id, car.id]
    assert ids(alert="false") == [dog.id, quiet.id]
    assert ids(label="person", zone="porch", alert="true") == [person.id]
    assert ids(label="person", camera="back") == []
    assert owner.put(f"/api/events/{dog.id}/reviewed").status_code == 200
    assert ids(reviewed="true") == [dog.id]
    assert ids(reviewed="false") == [person.id, car.id, quiet.id]
    assert ids(reviewed="false", zone="porch") == [person.id]
    for bad in ({"alert": "maybe"}, {"label": ""}, {"zone": "z" * 257}, {"reviewed": "2"}):
        assert owner.get("/api/events", params=bad).status_code == 422, bad


def test_filters_and_cursor_page_together(world: World, client_for: ClientFor) -> None:
    people = [save(world, T0 - i, labels=["person"] if i % 3 == 0 else ["cat"]) for i in range(90)]
    wanted = [e.id for e in people if "person" in e.labels]
    pages = every_page(client_for("alice"), 7, label="person")
    assert [i for p in pages for i in p] == wanted
    assert len(wanted) == 30


def test_reviewed_state_one_event_and_back(world: World, client_for: ClientFor) -> None:
    event = save(world, T0 - 10)
    owner, member = client_for("alice"), client_for("mia")
    assert listed(owner)[0]["reviewed"] is False
    response = member.put(f"/api/events/{event.id}/reviewed")
    assert response.status_code == 200
    assert response.json() == {"reviewed": True}
    assert member.put(f"/api/events/{event.id}/reviewed").status_code == 200  # idempotent
    assert listed(owner)[0]["reviewed"] is True  # for the whole household
    assert owner.get(f"/api/events/{event.id}").json()["reviewed"] is True
    assert owner.delete(f"/api/events/{event.id}/reviewed").json() == {"reviewed": False}
    assert listed(member)[0]["reviewed"] is False


def test_mark_all_reviewed_marks_only_the_filter_and_only_the_households(
    world: World, client_for: ClientFor
) -> None:
    people = [save(world, T0 - 100 * i, labels=["person"]) for i in range(1, 4)]
    cats = [save(world, T0 - 100 * i - 50, camera="back", labels=["cat"]) for i in range(1, 3)]
    theirs = save(world, T0 - 10, camera="garage", labels=["person"])
    owner = client_for("alice")
    response = owner.post("/api/events/reviewed", json={"label": "person"})
    assert response.status_code == 200, response.text
    assert response.json() == {"marked": 3}
    assert owner.post("/api/events/reviewed", json={"label": "person"}).json() == {"marked": 0}
    assert {e["id"] for e in listed(owner, reviewed="true")} == {e.id for e in people}
    assert {e["id"] for e in listed(owner, reviewed="false")} == {e.id for e in cats}
    bob = client_for("bob")
    assert listed(bob)[0]["reviewed"] is False  # household B's event was not touched
    assert bob.post("/api/events/reviewed", json={"camera": "front"}).json() == {"marked": 0}
    assert listed(owner, camera="back", reviewed="true") == []
    assert owner.post("/api/events/reviewed", json={"limit": 3}).status_code == 422
    assert owner.post("/api/events/reviewed", json={}).json() == {"marked": 2}
    assert listed(owner, reviewed="false") == []
    assert theirs.id not in {e["id"] for e in listed(owner)}


def test_another_household_cannot_mark_or_unmark(world: World, client_for: ClientFor) -> None:
    event = save(world, T0 - 10)
    owner, bob = client_for("alice"), client_for("bob")
    assert bob.put(f"/api/events/{event.id}/reviewed").status_code == 404
    assert owner.put(f"/api/events/{event.id}/reviewed").status_code == 200
    assert bob.delete(f"/api/events/{event.id}/reviewed").status_code == 404
    assert listed(owner)[0]["reviewed"] is True
    assert client_for("").put(f"/api/events/{event.id}/reviewed").status_code == 401
    assert client_for("").post("/api/events/reviewed", json={}).status_code == 401


def test_a_reviewed_mark_goes_with_its_event(world: World, client_for: ClientFor) -> None:
    event = world.add_event()
    owner = client_for("alice")
    owner.put(f"/api/events/{event.id}/reviewed")
    assert owner.delete(f"/api/events/{event.id}").status_code == 204
    with world.store.read_session() as session:
        assert session.get(EventReviewRow, event.id) is None


def test_detail_groups_objects_by_label_and_parks_still_vehicles(
    world: World, client_for: ClientFor
) -> None:
    tracks = [
        track("person", zones=["porch"], tid=1),
        track("person", zones=["drive"], tid=2),
        track("dog", tid=3),
        track("car", travel=0.2, tid=4),  # drove in
        track("car", travel=0.001, tid=5),  # parked
        track("car", travel=0.0, tid=6),  # parked
        track("truck", travel=0.01, tid=7),  # parked
    ]
    event = save(world, T0 - 10, verdict=Verdict.THREAT, labels=["car", "dog", "person"],
                 tracks=tracks)  # fmt: skip
    detail = client_for("alice").get(f"/api/events/{event.id}").json()
    assert [(o["label"], o["count"]) for o in detail["objects"]] == [
        ("car", 1), ("dog", 1), ("person", 2)
    ]  # fmt: skip
    person = next(o for o in detail["objects"] if o["label"] == "person")
    assert person["zones"] == ["drive", "porch"]
    assert person["hits"] == 12
    assert [(o["label"], o["count"]) for o in detail["parked"]] == [("car", 2), ("truck", 1)]
    assert len(detail["tracks"]) == 7  # every track is still there
    assert detail["clip_duration"] is None  # no clip


def test_detail_duration_is_the_clips(world: World, client_for: ClientFor) -> None:
    event = world.add_event()
    assert event.clip is not None
    detail = client_for("alice").get(f"/api/events/{event.id}").json()
    with world.services.media.open(event.clip) as reader:
        expected = mp4.duration(reader)
    assert expected is not None
    assert detail["clip_duration"] == pytest.approx(expected)
    assert detail["clip_duration"] == pytest.approx(2.0, abs=0.2)  # the 2 s test clip
    assert detail["duration"] == 2.0  # the event's own span stays as it was
    assert read_bytes(world.services.media, event.clip)[4:8] == b"ftyp"
