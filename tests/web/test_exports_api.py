"""The exports API over the web world: create (a range, an event +- seconds), list with progress,
download (whole and by Range) an MP4 that decodes, delete for real, refusals, who may do what,
and the owner's audit."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient

from hearthcam.vault.keyring import NoMediaKey
from tests.support.world import T0, World
from tests.web.conftest import ClientFor

START = T0 - 620  # the footage: 60 s of "front" from here


@pytest.fixture
def footage(world: World) -> World:
    world.add_footage("front", START, 60.0)
    world.add_footage("garage", START, 20.0)  # household B's
    return world


def created(client: TestClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/exports", json=body)
    assert answer.status_code == 202, answer.text
    data: dict[str, Any] = answer.json()
    return data


def done(world: World, client: TestClient, export_id: str) -> dict[str, Any]:
    assert world.services.exports.wait_idle(60)
    answer = client.get(f"/api/exports/{export_id}")
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    assert data["state"] == "done", data
    return data


def mp4_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), "r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        times = [
            float(f.pts * stream.time_base) for f in container.decode(stream) if f.pts is not None
        ]
    return max(times) - min(times) + 0.1


def test_a_range_is_exported_listed_with_progress_and_downloaded(
    footage: World, client_for: ClientFor
) -> None:
    alice = client_for("alice")
    export = created(alice, camera="front", start=START + 5, end=START + 35)
    assert export["state"] in ("queued", "running", "done")
    assert export["camera_name"] == "Front door"
    assert export["duration"] == pytest.approx(30)

    ready = done(footage, alice, export["id"])
    assert ready["progress"] == 1.0
    assert ready["download_url"] == f"/api/exports/{export['id']}/download"
    [listed] = alice.get("/api/exports").json()
    assert listed == ready

    whole = alice.get(ready["download_url"])
    assert whole.status_code == 200
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-disposition"].startswith('attachment; filename="front-')
    assert int(whole.headers["content-length"]) == ready["size"] == len(whole.content)
    assert abs(mp4_seconds(whole.content) - 30.0) <= 1.0
    part = alice.get(ready["download_url"], headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{ready['size']}"
    assert part.content == whole.content[100:200]

    audit = alice.get("/api/exports/audit").json()
    assert [(a["username"], a["action"]) for a in audit] == [
        ("alice", "downloaded"),  # once: the range request is the same download
        ("alice", "created"),
    ]


def test_an_event_is_exported_with_seconds_around_it(footage: World, client_for: ClientFor) -> None:
    event = footage.add_event("front", wall_start=START + 20)  # 2 s long
    mia = client_for("mia")  # a member may export too
    export = created(mia, event_id=event.id, before=6, after=4)
    assert export["event_id"] == event.id
    assert export["duration"] == pytest.approx(12)
    ready = done(footage, mia, export["id"])
    assert abs(mp4_seconds(mia.get(ready["download_url"]).content) - 12.0) <= 1.0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"camera": "front", "start": START + 30, "end": START + 10}, "must be after the start"),
        ({"camera": "front", "start": START, "end": START + 3 * 3600}, "at most 120 minutes"),
        ({"camera": "front", "start": START - 900, "end": START - 800}, "no recorded footage"),
        ({"camera": "front", "start": T0 + 60, "end": T0 + 120}, "ends in the future"),
        ({"camera": "front", "start": START}, "give camera, start and end, or an event_id"),
        ({"event_id": "a" * 32, "start": START, "end": START + 5}, "not both"),
        ({"camera": "front", "start": START, "end": START + 5, "x": 1}, "Extra inputs"),
        ({"event_id": "a" * 32, "before": 5000}, "less than or equal to 3600"),
    ],
)
def test_refusals_are_clear(
    footage: World, client_for: ClientFor, body: dict[str, Any], words: str
) -> None:
    answer = client_for("alice").post("/api/exports", json=body)
    assert answer.status_code == 422
    assert words in answer.json()["detail"]
    assert footage.services.exports.rows.of_household(footage.household_a) == []


def test_deleting_an_export_removes_its_file_and_key(footage: World, client_for: ClientFor) -> None:
    alice = client_for("alice")
    export = done(footage, alice, created(alice, camera="front", start=START, end=START + 8)["id"])
    record = footage.services.exports.rows.get(export["id"])
    assert record is not None
    assert record.path is not None
    path: Path = record.path
    assert path.is_file()

    assert alice.delete(f"/api/exports/{export['id']}").status_code == 204

    assert not path.exists()
    with pytest.raises((NoMediaKey, FileNotFoundError)):
        footage.services.media.open(path)
    assert alice.get(f"/api/exports/{export['id']}").status_code == 404
    assert alice.get(export["download_url"]).status_code == 404
    assert alice.get("/api/exports").json() == []
    assert [a["action"] for a in alice.get("/api/exports/audit").json()] == ["deleted", "created"]


def test_only_the_household_sees_uses_and_deletes_its_exports(
    footage: World, client_for: ClientFor
) -> None:
    alice, mia, bob = client_for("alice"), client_for("mia"), client_for("bob")
    export = done(footage, alice, created(alice, camera="front", start=START, end=START + 8)["id"])
    path = f"/api/exports/{export['id']}"
    missing = "/api/exports/" + "0" * 32

    # Household B: A's camera and A's export are as unknown as ones that do not exist.
    refused = bob.post("/api/exports", json={"camera": "front", "start": START, "end": START + 8})
    assert refused.status_code == 404
    nothing = bob.post("/api/exports", json={"camera": "nosuch", "start": START, "end": START + 8})
    assert (refused.status_code, refused.json()) == (nothing.status_code, nothing.json())
    for method, url in (("GET", path), ("GET", path + "/download"), ("DELETE", path)):
        theirs = bob.request(method, url)
        assert (theirs.status_code, theirs.json()) == (404, {"detail": "not found"})
        assert bob.request(method, url.replace(path, missing)).json() == theirs.json()
    assert bob.get("/api/exports").json() == []
    assert bob.get("/api/exports/audit").json() == []
    event = footage.add_event("front", wall_start=START + 20)
    assert bob.post("/api/exports", json={"event_id": event.id}).status_code == 404
    # B's own camera works for B.
    own = created(bob, camera="garage", start=START, end=START + 10)
    assert done(footage, bob, own["id"])["camera"] == "garage"
    assert [e["id"] for e in alice.get("/api/exports").json()] == [export["id"]]

    # Neither admins nor annotators see footage; anonymous callers log in first.
    for name, code in (("ada", 403), ("ann", 403), ("", 401)):
        other = client_for(name)
        assert other.get("/api/exports").status_code == code
        assert other.get(path + "/download").status_code == code
        body = {"camera": "front", "start": START, "end": START + 8}
        assert other.post("/api/exports", json=body).status_code == code

    # A member downloads and deletes; only the owner reads the audit.
    assert mia.get(path + "/download").status_code == 200
    assert mia.get("/api/exports/audit").status_code == 403
    assert mia.delete(path).status_code == 204
    actions = [(a["username"], a["action"]) for a in alice.get("/api/exports/audit").json()]
    assert actions == [("mia", "deleted"), ("mia", "downloaded"), ("alice", "created")]


def test_a_pending_export_cannot_be_downloaded_yet(footage: World, client_for: ClientFor) -> None:
    alice = client_for("alice")
    exports = footage.services.exports
    exports.close()  # no worker: the export stays queued
    export = created(alice, camera="front", start=START, end=START + 8)
    answer = alice.get(f"/api/exports/{export['id']}/download")
    assert (answer.status_code, answer.json()) == (409, {"detail": "this export is not ready yet"})
    assert alice.get("/api/exports").json()[0]["state"] == "queued"
