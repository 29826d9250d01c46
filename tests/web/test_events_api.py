"""Events over HTTP: list, filters, detail, snapshot, clip with Range, deletion from disk, SSE."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import cv2
import numpy as np
import pytest

from hearthcam.errors import StoreError
from hearthcam.layout import OutsideDataDir
from hearthcam.recordings.event_files import delete_event_media, event_media_files
from hearthcam.types import Change, Event, Verdict
from hearthcam.vault.keyring import MediaVault
from hearthcam.vault.media import SealedMedia, read_bytes, write_bytes
from hearthcam.vault.sealed import SealedError, SealedReader, plaintext_media_signatures
from hearthcam.web.routes import stream as stream_module
from tests.support.asgi import running
from tests.support.world import T0, World
from tests.web.conftest import ClientFor


def _files(world: World, event: Event) -> list[Path]:
    files = event_media_files(event, world.data_dir, world.services.media)
    assert event.clip in files
    assert event.snapshot in files
    return files


def test_list_is_the_households_newest_first_with_filters(
    world: World, client_for: ClientFor
) -> None:
    old = world.add_event("front", T0 - 7200, Verdict.PET)
    new = world.add_event("back", T0 - 60, Verdict.THREAT)
    mid = world.add_event("front", T0 - 3600, Verdict.MOTION)
    world.add_event("garage", T0 - 30, Verdict.THREAT)  # household B
    owner = client_for("alice")

    def ids(**params: str | float) -> list[str]:
        response = owner.get("/api/events", params=params)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()]

    assert ids() == [new.id, mid.id, old.id]
    assert ids(camera="front") == [mid.id, old.id]
    assert ids(camera="garage") == []  # not theirs: nothing, as for a camera that is not there
    assert ids(verdict="pet") == [old.id]
    assert ids(since=T0 - 3600) == [new.id, mid.id]
    assert ids(until=T0 - 3600) == [old.id]
    assert ids(since=T0 - 5000, until=T0 - 100) == [mid.id]
    assert ids(limit=1) == [new.id]
    for bad in ({"limit": 501}, {"limit": 0}, {"verdict": "alien"}, {"camera": "../x"}):
        assert owner.get("/api/events", params=bad).status_code == 422, bad
    first = owner.get("/api/events").json()[0]
    assert first["start"] == "2023-11-14T22:12:20Z"
    assert first["duration"] == 2.0
    assert first["camera_name"] == "back"
    assert first["alert"] is True
    assert first["clip_url"] == f"/api/events/{new.id}/clip"
    assert owner.get("/api/events", params={"camera": "front"}).json()[0]["camera_name"] == (
        "Front door"
    )


def test_detail_and_snapshot(world: World, client_for: ClientFor) -> None:
    event = world.add_event()
    owner = client_for("mia")
    detail = owner.get(f"/api/events/{event.id}").json()
    assert detail["tracks"] == [
        {"label": "person", "best_score": 0.9, "hits": 12, "zones": ["porch"]}
    ]
    assert detail["verdict"] == "threat"
    assert detail["zones"] == ["porch"]
    snapshot = owner.get(f"/api/events/{event.id}/snapshot")
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert "no-store" in snapshot.headers["cache-control"]
    image = cv2.imdecode(np.frombuffer(snapshot.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (120, 160, 3)


def test_clip_supports_range_requests_and_download(world: World, client_for: ClientFor) -> None:
    event = world.add_event()
    assert event.clip is not None
    data = read_bytes(world.services.media, event.clip)
    assert not event.clip.read_bytes().startswith(data[:64])  # sealed on disk
    owner = client_for("alice")
    url = f"/api/events/{event.id}/clip"
    whole = owner.get(url)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-disposition"].startswith("inline")
    part = owner.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-299/{len(data)}"
    assert part.content == data[100:300]
    tail = owner.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206
    assert tail.content == data[-50:]
    assert owner.get(url, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416
    download = owner.get(url, params={"download": 1})
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "front-20231114-" in download.headers["content-disposition"]


def test_every_clip_of_a_long_event_is_listed_and_served(
    world: World, client_for: ClientFor
) -> None:
    event = world.add_event()
    assert event.clip is not None
    second = event.clip.with_name(f"{event.id}.part2.mp4")
    write_bytes(world.services.media, second, event.camera, b"second clip")
    world.store.save_event(dataclasses.replace(event, clip_parts=(second,)))
    owner = client_for("alice")
    base = f"/api/events/{event.id}"
    detail = owner.get(base).json()
    assert detail["clip_url"] == f"{base}/clip"
    assert detail["clip_urls"] == [f"{base}/clip", f"{base}/clip?part=2"]
    listed = next(e for e in owner.get("/api/events").json() if e["id"] == event.id)
    assert listed["clip_urls"] == detail["clip_urls"]
    assert owner.get(f"{base}/clip", params={"part": 1}).content == read_bytes(
        world.services.media, event.clip
    )
    served = owner.get(f"{base}/clip", params={"part": 2, "download": 1})
    assert served.content == b"second clip"
    assert "-2.mp4" in served.headers["content-disposition"]
    assert owner.get(f"{base}/clip", params={"part": 3}).status_code == 404
    assert owner.get(f"{base}/clip", params={"part": 0}).status_code == 422
    # Deleting the event deletes every clip.
    assert second in _files(world, world.store.get_event(event.id) or event)
    assert owner.delete(base).status_code == 204
    assert not second.exists()


def test_delete_removes_every_file_then_404(world: World, client_for: ClientFor) -> None:
    event = world.add_event(derivative=True)
    files = _files(world, event)
    assert len(files) == 3  # clip, snapshot, redacted copy
    owner = client_for("alice")
    assert owner.delete(f"/api/events/{event.id}").status_code == 204
    assert [f for f in files if f.exists()] == []
    for suffix in ("", "/clip", "/snapshot"):
        assert owner.get(f"/api/events/{event.id}{suffix}").status_code == 404
    assert owner.delete(f"/api/events/{event.id}").status_code == 404
    assert world.store.get_event(event.id) is None
    assert owner.get("/api/events").json() == []


def test_bulk_delete_counts_only_the_callers_events(world: World, client_for: ClientFor) -> None:
    mine = [world.add_event("front", T0 - i * 10) for i in range(3)]
    theirs = world.add_event("garage")
    files = [f for e in mine for f in _files(world, e)]
    owner = client_for("alice")
    ids = [e.id for e in mine] + [theirs.id, "f" * 32]
    response = owner.post("/api/events/delete", json={"ids": ids})
    assert response.status_code == 200
    assert response.json() == {"deleted": 3}
    assert [f for f in files if f.exists()] == []
    assert world.store.get_event(theirs.id) is not None
    assert theirs.clip is not None
    assert theirs.clip.exists()
    assert owner.post("/api/events/delete", json={"ids": ids}).json() == {"deleted": 0}
    too_many = {"ids": ["a" * 32] * 501}
    assert owner.post("/api/events/delete", json=too_many).status_code == 422
    assert owner.post("/api/events/delete", json={"ids": ["../../x"]}).status_code == 422


def test_media_outside_the_data_dir_is_never_served_or_deleted(
    world: World, client_for: ClientFor, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"not yours")
    event = world.add_event()
    # The store writes no row pointing outside; one that does all the same (a tampered
    # database, a row from before paths were relative) must not make the API serve the file.
    with pytest.raises(OutsideDataDir):
        world.store.save_event(dataclasses.replace(event, snapshot=outside))
    owner = client_for("alice")
    for stored in (str(outside), "../elsewhere.jpg"):
        with closing(sqlite3.connect(world.data_dir / "hearthcam.db")) as db, db:
            db.execute("UPDATE events SET snapshot = ? WHERE id = ?", (stored, event.id))
        assert owner.get(f"/api/events/{event.id}/snapshot").status_code == 404
    assert delete_event_media(world.store, event.id, world.data_dir, world.services.media)
    assert outside.exists()


def test_delete_event_media_is_idempotent_and_keeps_the_row_on_failure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = world.add_event()

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "read-only", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    media = world.services.media
    with pytest.raises(StoreError):
        delete_event_media(world.store, event.id, world.data_dir, media)
    monkeypatch.undo()
    assert world.store.get_event(event.id) is not None  # files first, row last
    assert delete_event_media(world.store, event.id, world.data_dir, media) is True
    assert delete_event_media(world.store, event.id, world.data_dir, media) is False


def _vault(world: World) -> MediaVault:
    media = world.services.media
    assert isinstance(media, SealedMedia)
    return media.vault


def test_deleting_an_event_destroys_the_keys_of_its_files_even_those_already_gone(
    world: World, client_for: ClientFor
) -> None:
    event = world.add_event(derivative=True)
    files = _files(world, event)
    vault = _vault(world)
    blobs = [vault.blob_id(f) for f in files]
    assert all(vault.keyring.has_key(b) for b in blobs)
    assert plaintext_media_signatures(world.data_dir) == []
    gone = next(f for f in files if "redacted" in f.parts)
    gone.unlink()  # a derivative someone removed by hand: its key must go all the same
    sealed = {f: f.read_bytes() for f in files if f != gone}
    assert client_for("alice").delete(f"/api/events/{event.id}").status_code == 204
    assert not any(vault.keyring.has_key(b) for b in blobs)
    for path, ciphertext in sealed.items():  # a copy of the bytes (a backup) is noise now
        copy = world.root / f"copy-{path.name}"
        copy.write_bytes(ciphertext)
        for blob in vault.keyring.blob_ids():
            with pytest.raises(SealedError):
                SealedReader(copy, vault.keyring.media_key(blob)).close()


def test_media_of_a_shredded_key_is_404_and_of_a_locked_household_423(
    world: World, client_for: ClientFor
) -> None:
    shredded, locked = world.add_event(), world.add_event()
    assert shredded.clip is not None
    assert locked.snapshot is not None
    vault = _vault(world)
    vault.keyring.shred(vault.blob_id(shredded.clip))
    owner = client_for("alice")
    assert owner.get(f"/api/events/{shredded.id}/clip").status_code == 404
    vault.keyring.enable_password(world.household_a, "owner's own password")
    vault.keyring.lock(world.household_a)
    response = owner.get(f"/api/events/{locked.id}/snapshot")
    assert response.status_code == 423, response.text
    vault.keyring.unlock(world.household_a, "owner's own password")
    assert owner.get(f"/api/events/{locked.id}/snapshot").status_code == 200


def test_a_range_request_decrypts_only_what_it_returns_and_bad_ranges_are_ignored(
    world: World, client_for: ClientFor
) -> None:
    event = world.add_event()
    assert event.snapshot is not None
    data = read_bytes(world.services.media, event.snapshot)
    owner = client_for("alice")
    url = f"/api/events/{event.id}/snapshot"
    assert owner.get(url, headers={"Range": "bytes=10-"}).content == data[10:]
    assert owner.get(url, headers={"Range": "bytes=0-99999999"}).content == data
    for ignored in ("bytes=5-2", "items=0-1", "bytes=0-1,4-5", "bytes=-"):
        response = owner.get(url, headers={"Range": ignored})
        assert response.status_code == 200, ignored
        assert response.content == data
    unsatisfiable = owner.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == f"bytes */{len(data)}"


def _sse_messages(body: bytes) -> list[tuple[str, dict[str, object]]]:
    found = []
    for block in body.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_sse_streams_the_households_created_and_deleted_events(world: World) -> None:
    mine, theirs = world.add_event("front"), world.add_event("garage")
    alice, bob = world.session_token("alice"), world.session_token("bob")

    async def scenario() -> None:
        async with running(world.app) as app:
            streams = {
                name: app.call("GET", "/api/events/stream", {"cookie": f"hc_session={token}"})
                for name, token in (("alice", alice), ("bob", bob))
            }
            for stream in streams.values():
                await stream.read_until(lambda b: b.startswith(b"retry:"))
                assert stream.headers["content-type"].startswith("text/event-stream")
            # The pipeline's analysis thread calls the listener; so does this test.
            await asyncio.to_thread(world.services.events_listener, Change.STARTED, mine)
            await asyncio.to_thread(world.services.events_listener, Change.STARTED, theirs)
            headers = {
                "cookie": f"hc_session={alice}",
                "origin": "http://testserver",
                "x-csrf-token": world.csrf(alice),
            }
            deleted = await app.request("DELETE", f"/api/events/{mine.id}", headers)
            assert deleted.status == 204
            body = await streams["alice"].read_until(lambda b: b"event: deleted" in b)
            assert _sse_messages(body) == [
                ("created", _sse_messages(body)[0][1]),
                ("deleted", {"id": mine.id}),
            ]
            created = _sse_messages(body)[0][1]
            assert created["id"] == mine.id
            assert created["camera_name"] == "Front door"
            bob_body = await streams["bob"].read_until(lambda b: b"event: created" in b)
            assert [(k, d["id"]) for k, d in _sse_messages(bob_body)] == [("created", theirs.id)]
            for stream in streams.values():
                await stream.close()
            assert world.services.bus.subscribers == 0

    asyncio.run(scenario())


def test_sse_ends_when_the_session_ends(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "RECHECK", 0.0)
    monkeypatch.setattr(stream_module, "HEARTBEAT", 0.05)
    token = world.session_token("alice")

    async def scenario() -> None:
        async with running(world.app) as app:
            call = app.call("GET", "/api/events/stream", {"cookie": f"hc_session={token}"})
            await call.read_until(lambda b: b.count(b": keep-alive") >= 2)
            assert not call.complete
            world.accounts.logout(token)
            await call.read_until(lambda _b: False)  # returns once the body is complete
            assert call.complete
            await call.close()

    asyncio.run(scenario())
