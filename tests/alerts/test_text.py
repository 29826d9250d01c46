"""Tests of the alert text: words per verdict, camera names, local time, link and JSON payload."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from hearthcam.alerts.text import (
    AlertFormatter,
    AlertKind,
    camera_display_name,
    clock_time,
    event_link,
    subject,
)
from hearthcam.config import AlertsConfig, CameraConfig, InputConfig
from hearthcam.types import Event, Verdict

CET = dt.timezone(dt.timedelta(hours=1), "CET")
# 20:04 UTC on a winter evening: 21:04 in CET.
WALL = dt.datetime(2024, 1, 8, 20, 4, 30, tzinfo=dt.UTC).timestamp()


def event(
    verdict: Verdict = Verdict.THREAT,
    labels: tuple[str, ...] = ("person",),
    camera: str = "front_door",
    zones: tuple[str, ...] = (),
    snapshot: Path | None = None,
    clip: Path | None = None,
) -> Event:
    return Event(
        id="e1f0",
        camera=camera,
        verdict=verdict,
        labels=labels,
        start=3.0,
        end=9.5,
        wall_start=WALL,
        wall_end=WALL + 6.5,
        score=0.91234,
        zones=zones,
        snapshot=snapshot,
        clip=clip,
        alert=True,
    )


def camera(name: str | None = None) -> CameraConfig:
    return CameraConfig(name=name, inputs=[InputConfig(path="rtsp://127.0.0.1/cam")])


def formatter(base_url: str = "https://cams.example.org/") -> AlertFormatter:
    cfg = AlertsConfig(base_url=base_url)
    cameras = {"front_door": camera(), "garage": camera("Garage (east)")}
    return AlertFormatter.from_config(cfg, cameras, tz=CET)


@pytest.mark.parametrize(
    ("verdict", "labels", "word"),
    [
        (Verdict.THREAT, ("person",), "Person"),
        (Verdict.PET, ("cat",), "Cat"),
        (Verdict.PET, ("dog",), "Dog"),
        (Verdict.PET, ("cat", "dog"), "Animal"),
        (Verdict.PET, ("bird",), "Animal"),
        (Verdict.VEHICLE, ("car", "truck"), "Vehicle"),
        (Verdict.MOTION, (), "Motion"),
    ],
)
def test_subject_per_verdict(verdict: Verdict, labels: tuple[str, ...], word: str) -> None:
    assert subject(event(verdict, labels)) == word


def test_title_says_what_where_and_when() -> None:
    assert formatter().title(event()) == "Person at Front door, 21:04"
    assert formatter().title(event(Verdict.PET, ("dog",))) == "Dog at Front door, 21:04"


def test_camera_display_name_prefers_the_configured_name() -> None:
    cameras = {"garage": camera("Garage (east)"), "back_yard": camera()}
    assert camera_display_name("garage", cameras) == "Garage (east)"
    assert camera_display_name("back_yard", cameras) == "Back yard"
    assert camera_display_name("side-gate", cameras) == "Side gate"
    assert formatter().title(event(camera="garage")) == "Person at Garage (east), 21:04"


def test_local_time_follows_the_zone() -> None:
    assert clock_time(WALL, CET) == "21:04"
    assert clock_time(WALL, dt.UTC) == "20:04"
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert clock_time(WALL, tokyo) == "05:04"


def test_body_names_zones_and_the_clip_follow_up() -> None:
    fmt = formatter()
    assert fmt.body(event(), AlertKind.NEW) == "Person at Front door, 21:04."
    zoned = event(zones=("porch", "front_walk"))
    assert fmt.body(zoned, AlertKind.NEW) == "Person at Front door, 21:04, in porch, front walk."
    assert fmt.body(event(), AlertKind.CLIP) == "Clip ready: Person at Front door, 21:04."


def test_link_opens_the_event_page() -> None:
    assert event_link("https://cams.example.org/", "e1f0") == "https://cams.example.org/events/e1f0"
    assert event_link("http://127.0.0.1:8971", "a/b") == "http://127.0.0.1:8971/events/a%2Fb"


def test_payload_has_urls_and_times_but_no_paths(tmp_path: Path) -> None:
    media = tmp_path / "media"
    ev = event(
        zones=("porch",),
        snapshot=media / "snapshots" / "e1f0.jpg",
        clip=media / "clips" / "e1f0.mp4",
    )
    alert = formatter().alert(ev)
    payload = dict(alert.payload)
    assert payload == {
        "id": "e1f0",
        "kind": "alert",
        "camera": "front_door",
        "camera_name": "Front door",
        "verdict": "threat",
        "labels": ["person"],
        "zones": ["porch"],
        "start": "2024-01-08T20:04:30.000+00:00",
        "end": "2024-01-08T20:04:36.500+00:00",
        "score": 0.9123,
        "title": "Person at Front door, 21:04",
        "message": "Person at Front door, 21:04, in porch.",
        "link": "https://cams.example.org/events/e1f0",
        "snapshot_url": "https://cams.example.org/api/events/e1f0/snapshot",
        "clip_url": "https://cams.example.org/api/events/e1f0/clip",
    }
    text = json.dumps(payload)
    assert str(tmp_path) not in text
    assert ".jpg" not in text
    assert ".mp4" not in text
    assert alert.link == payload["link"]
    assert alert.camera_name == "Front door"


def test_payload_without_media_has_no_urls() -> None:
    payload = formatter().payload(event(), AlertKind.NEW)
    assert payload["snapshot_url"] is None
    assert payload["clip_url"] is None
    assert dt.datetime.fromisoformat(str(payload["start"])).timestamp() == WALL
