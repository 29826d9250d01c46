"""A data directory moved elsewhere (stopped, moved whole, opened at its new place) serves every
clip and snapshot it held through the media routes: rows name media relative to it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from hearthcam.vault.media import read_bytes
from tests.support.world import ORIGIN, World, move_world


def signed_in(world: World, username: str) -> TestClient:
    client = TestClient(world.app, headers={"origin": ORIGIN})
    token = world.session_token(username)
    client.cookies.set("hc_session", token)
    client.headers["X-CSRF-Token"] = world.csrf(token)
    return client


def test_a_moved_data_directory_serves_every_clip_and_snapshot(
    world: World, tmp_path: Path
) -> None:
    events = [world.add_event("front"), world.add_event("back", derivative=True)]
    before = {}
    for event in events:
        assert event.clip is not None
        assert event.snapshot is not None
        media = world.services.media
        before[event.id] = (read_bytes(media, event.clip), read_bytes(media, event.snapshot))

    moved = move_world(world, tmp_path / "elsewhere")
    try:
        assert not world.data_dir.exists()
        with signed_in(moved, "alice") as owner:
            listed = owner.get("/api/events").json()
            assert {e["id"] for e in listed} == set(before)
            for event in events:
                clip, snapshot = before[event.id]
                url = f"/api/events/{event.id}"
                assert owner.get(f"{url}/clip").content == clip
                ranged = owner.get(f"{url}/clip", headers={"Range": "bytes=0-99"})
                assert ranged.status_code == 206
                assert ranged.content == clip[:100]
                assert owner.get(f"{url}/snapshot").content == snapshot
                assert owner.delete(url).status_code == 204  # found and shredded at the new place
            assert not [p for p in moved.data_dir.rglob("*") if p.suffix in (".mp4", ".jpg")]
    finally:
        moved.store.close()
