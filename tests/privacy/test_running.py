"""A share through the running app: the owner shares over HTTP, the runtime's check worker
(real models) publishes the redacted copy, the owner withdraws it and nothing remains."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from hearthcam import app
from hearthcam.config import parse_config
from hearthcam.types import Event, Verdict
from hearthcam.vault.media import write_bytes
from hearthcam.vault.sealed import plaintext_media_signatures
from hearthcam.web import EventBus

pytestmark = pytest.mark.integration


def test_a_clip_shared_in_the_running_app_is_checked_published_and_withdrawn(
    tmp_path: Path, carphone_clip: Path
) -> None:
    data = tmp_path / "data"
    config = parse_config(
        {
            "data_dir": str(data),
            "web": {"port": 0},
            "cameras": {"front": {"name": "Front door", "inputs": [{"path": "front.mp4"}]}},
        }
    )
    bus = EventBus()
    runtime = app.build(config, [bus.on_change], alerts=False)
    handle = app.serve_web(runtime, bus)
    web = httpx.Client(base_url=handle.url, headers={"origin": handle.url}, timeout=30)
    try:
        owner = {"username": "lena", "password": "copper kettle on the stove", "household": "H"}
        csrf = web.post("/api/setup", json=owner).json()["csrf_token"]
        web.headers["x-csrf-token"] = csrf
        clip = data / "clips" / "front" / "2026-12-02" / f"{uuid.uuid4().hex}.mp4"
        clip.parent.mkdir(parents=True)
        # Stored as the recorder stores clips (sealed, when the data directory is).
        write_bytes(runtime.media, clip, "front", carphone_clip.read_bytes())
        event = Event(
            id=clip.stem, camera="front", verdict=Verdict.THREAT, labels=("person",), start=0.0,
            end=1.5, wall_start=time.time() - 60, wall_end=time.time() - 58, score=0.8,
            zones=(), tracks=(), snapshot=None, clip=clip, alert=True,
        )  # fmt: skip
        runtime.store.save_event(event)

        receipt = web.get(f"/api/events/{event.id}/share/receipt").json()
        made = web.post(f"/api/events/{event.id}/share", json={"receipt_sha256": receipt["sha256"]})
        assert made.status_code == 201, made.text
        share = made.json()
        assert share["status"] == "consented"
        assert share["receipt"] == receipt["receipt"]

        deadline = time.monotonic() + 180  # the worker loads the models at the first share
        while share["status"] in ("consented", "checking"):
            assert time.monotonic() < deadline, share
            time.sleep(0.5)
            share = web.get(f"/api/shares/{share['id']}").json()
        assert share["status"] == "published", share
        assert share["facts"]["faces_blurred"] > 0
        assert share["facts"]["faces_left"] == 0
        folder = data / "shares" / share["id"]
        assert sorted(p.name for p in folder.iterdir()) == ["clip.mp4", "redacted.mp4"]
        assert plaintext_media_signatures(data) == []

        gone = web.delete(f"/api/shares/{share['id']}")
        assert gone.status_code == 200
        assert gone.json()["files_deleted"] == 2
        assert not folder.exists()
        assert web.get("/api/shares").json() == []
        assert web.get(f"/api/shares/{share['id']}").status_code == 404
    finally:
        web.close()
        handle.stop()
        runtime.close()
    assert not [t for t in runtime.threads if t.is_alive()]  # the check worker stopped too
