"""The running app sends alert-worthy events to the configured channels (and nothing else)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearthcam import app
from hearthcam.alerts.webhook import verify_signature
from hearthcam.config import parse_config
from tests.alerts.test_webhook import RecordingServer
from tests.conftest import SceneFile

SECRET = "s3cret-s3cret-s3cret"


def run_file_camera(scene: Path, data: Path, webhook: str) -> None:
    config = parse_config(
        {
            "data_dir": str(data),
            "alerts": {"webhooks": [{"url": webhook, "secret": SECRET, "retries": 0}]},
            "cameras": {"front_door": {"inputs": [{"path": str(scene)}]}},
        }
    )
    runtime = app.build(config, lossless=True, realtime=False)
    runtime.streams["front_door"].run(runtime.stop)
    runtime.close()  # flushes events and clips, then drains the alert channels


@pytest.mark.integration
def test_a_person_is_alerted_once_with_a_signed_webhook(
    people_scene: SceneFile, tmp_path: Path
) -> None:
    server = RecordingServer()
    run_file_camera(people_scene.path, tmp_path / "data", server.url)
    bodies = [json.loads(r.body) for r in server.requests]
    news = [b for b in bodies if b["kind"] == "alert"]
    assert len(news) == 1, bodies
    alert = news[0]
    assert alert["verdict"] == "threat"
    assert alert["title"].startswith("Person at Front door, ")
    assert alert["link"].endswith(f"/events/{alert['id']}")
    assert [b["kind"] for b in bodies].count("clip") == 1  # the clip-ready follow-up
    request = server.requests[0]
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert verify_signature(
        SECRET,
        headers["x-hearthcam-timestamp"],
        request.body,
        headers["x-hearthcam-signature"],
        tolerance=10**9,
    )


@pytest.mark.integration
def test_a_pet_does_not_alert(pet_scene: SceneFile, tmp_path: Path) -> None:
    server = RecordingServer()
    run_file_camera(pet_scene.path, tmp_path / "data", server.url)
    assert server.requests == []
