"""Cameras added, edited and removed from the app: streams tested for real before anything is
saved, keys made by the server, passwords never sent back, the runtime told of each change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from hearthcam.accounts.choices import HouseholdChoices
from hearthcam.config import AlertRule, CameraConfig
from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.source import StreamInfo
from hearthcam.store.settings import HouseholdSettings, Mode
from hearthcam.types import Verdict
from hearthcam.web import WebServices, create_app
from hearthcam.web.camera_urls import url_problem, with_stored_password
from hearthcam.web.stream_test import GENERIC_FAILURE
from hearthcam_bench.broker import free_port
from tests.conftest import RtspServer
from tests.support.cameras import ToldCameras
from tests.support.world import ORIGIN, World

Told = list[tuple[str, CameraConfig | None]]


def client(world: World, services: WebServices, username: str) -> TestClient:
    token = world.session_token(username)
    c = TestClient(create_app(services), headers={"origin": ORIGIN})
    c.__enter__()
    c.cookies.set("hc_session", token)
    c.headers["X-CSRF-Token"] = world.csrf(token)
    return c


@pytest.fixture
def told() -> Told:
    return []


def listened(services: WebServices, told: Told) -> WebServices:
    """``services``, with what its camera registry tells the runtime appended to ``told``."""
    listener = ToldCameras(cameras=told)
    services.registry.subscribe(listener)
    return services


@pytest.fixture
def real_streams(world: World, told: Told) -> WebServices:
    """The world's services with the real stream test (PyAV opening the URL)."""
    return listened(replace(world.services, probe_stream=None), told)


@pytest.fixture
def alice(world: World, real_streams: WebServices) -> Iterator[TestClient]:
    c = client(world, real_streams, "alice")
    yield c
    c.__exit__(None, None, None)


@pytest.mark.integration
def test_an_owner_adds_a_working_rtsp_camera_and_it_is_theirs_alone(
    world: World, real_streams: WebServices, alice: TestClient, told: Told, rtsp_server: RtspServer
) -> None:
    tested = alice.post("/api/cameras/test", json={"url": rtsp_server.url()})
    assert tested.status_code == 200, tested.text
    found = tested.json()
    assert found["ok"] is True
    assert found["codec"] == "h264"
    assert found["width"] > 0
    assert found["height"] > 0

    added = alice.post("/api/cameras", json={"name": "Garage", "detect_url": rtsp_server.url()})
    assert added.status_code == 201, added.text
    key = added.json()["name"]
    assert key.startswith("cam-")
    assert len(key) == 12
    assert added.json()["display_name"] == "Garage"
    listed = {c["name"]: c["display_name"] for c in alice.get("/api/cameras").json()}
    assert listed[key] == "Garage"
    assert world.accounts.camera_household(key) == world.household_a
    [(camera, config)] = told
    assert camera == key
    assert config is not None
    assert config.inputs[0].path == rtsp_server.url()

    bob = client(world, real_streams, "bob")
    assert key not in {c["name"] for c in bob.get("/api/cameras").json()}
    assert bob.get(f"/api/cameras/{key}/source").status_code == 404
    bob.__exit__(None, None, None)


@pytest.mark.integration
def test_a_stream_that_gives_no_frame_is_reported_and_nothing_is_saved(
    world: World, alice: TestClient, told: Told
) -> None:
    dead = f"rtsp://127.0.0.1:{free_port()}/cam"  # nothing listens there
    tested = alice.post("/api/cameras/test", json={"url": dead})
    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert tested.json()["error"] == GENERIC_FAILURE  # which ports answer is not told

    before = alice.get("/api/cameras").json()
    refused = alice.post("/api/cameras", json={"name": "Dead", "detect_url": dead})
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith("detect_url: ")
    assert alice.get("/api/cameras").json() == before
    assert world.services.camera_entries.keys() == []
    assert told == []


def test_urls_the_app_may_not_use_are_refused_before_any_connection(
    world: World, alice: TestClient
) -> None:
    for url in ("/etc/passwd", "file:///etc/passwd", "front.mp4", "ftp://cam/x", "rtsp:///x"):
        refused = alice.post("/api/cameras", json={"name": "X", "detect_url": url})
        assert refused.status_code == 422, url
        assert refused.json()["detail"].startswith("detect_url: "), url
        assert alice.post("/api/cameras/test", json={"url": url}).json()["ok"] is False
    assert world.services.camera_entries.keys() == []


def test_passwords_are_hidden_and_kept_when_a_camera_is_edited(world: World) -> None:
    probed: list[str] = []

    def probe(url: str) -> StreamInfo:
        probed.append(url)
        if "wrong" in url:
            raise SourceUnreadable("rtsp://u:***@cam.example/s: 401 Unauthorized")
        return StreamInfo("h264", 1280, 720, 15.0, None)

    told: Told = []
    services = listened(replace(world.services, probe_stream=probe), told)
    alice = client(world, services, "alice")
    secret = "rtsp://u:s3cret@cam.example/main"
    sub = "rtsp://u:s3cret@cam.example/sub"
    added = alice.post(
        "/api/cameras", json={"name": "Drive", "detect_url": sub, "record_url": secret}
    )
    assert added.status_code == 201, added.text
    key = added.json()["name"]
    shown = alice.get(f"/api/cameras/{key}/source")
    assert "s3cret" not in shown.text
    form = shown.json()
    assert form["detect_url"] == "rtsp://u:***@cam.example/sub"
    assert form["record_url"] == "rtsp://u:***@cam.example/main"
    assert form["from_config"] is False

    probed.clear()
    edited = alice.put(
        f"/api/cameras/{key}/source",
        json={
            "name": "Driveway",
            "detect_url": form["detect_url"],
            "record_url": form["record_url"],
        },
    )
    assert edited.status_code == 200, edited.text
    assert "s3cret" not in edited.text
    assert probed == [sub, secret]  # tested with the stored passwords
    entry = world.services.camera_entries.get(key)
    assert entry is not None
    assert (entry.detect_url, entry.record_url) == (sub, secret)
    assert entry.name == "Driveway"

    # The hidden password for another host is not handed over.
    assert (
        with_stored_password("rtsp://u:***@evil.example/sub", sub)
        == "rtsp://u:***@evil.example/sub"
    )
    wrong = alice.put(
        f"/api/cameras/{key}/source",
        json={"name": "Driveway", "detect_url": "rtsp://u:wrong@cam.example/sub"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"] == f"detect_url: {GENERIC_FAILURE}"
    assert world.services.camera_entries.get(key) == entry  # nothing changed

    # Switched off: nothing is tested, the runtime is told to stop it.
    probed.clear()
    off = alice.put(
        f"/api/cameras/{key}/source",
        json={"name": "Driveway", "detect_url": form["detect_url"], "enabled": False},
    )
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert probed == []
    assert told[-1][0] == key
    assert told[-1][1] is not None
    assert told[-1][1].enabled is False
    alice.__exit__(None, None, None)


def test_app_cameras_can_be_removed_config_cameras_only_switched_off(world: World) -> None:
    told: Told = []
    services = listened(replace(world.services), told)
    alice = client(world, services, "alice")
    key = alice.post(
        "/api/cameras", json={"name": "Shed", "detect_url": "rtsp://cam.example/shed"}
    ).json()["name"]
    assert alice.delete(f"/api/cameras/{key}").status_code == 204
    assert told[-1] == (key, None)
    assert key not in {c["name"] for c in alice.get("/api/cameras").json()}
    assert world.accounts.camera_household(key) is None
    assert alice.get(f"/api/cameras/{key}/source").status_code == 404
    assert alice.delete(f"/api/cameras/{key}").status_code == 404

    kept = alice.delete("/api/cameras/front")
    assert kept.status_code == 409
    # A config camera edited in the app keeps its other settings from the config.
    renamed = alice.put(
        "/api/cameras/front/source", json={"name": "Porch", "detect_url": "front.mp4"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["from_config"] is True
    assert services.cameras()["front"].name == "Porch"
    assert {c["name"]: c["display_name"] for c in alice.get("/api/cameras").json()}[
        "front"
    ] == "Porch"
    alice.__exit__(None, None, None)


def test_url_rules() -> None:
    assert url_problem("rtsp://10.0.0.2:554/stream1") is None
    assert url_problem("rtsps://user:pw@cam.local/s") is None
    assert url_problem("https://cam.local/mjpeg") is None
    assert url_problem("/dev/video0") is None
    assert url_problem("/dev/video0/../sda") is not None
    assert url_problem("rtsp://cam:99999/s") is not None
    assert url_problem(" rtsp://cam/s") is not None
    assert url_problem("rtsp://cam/s\n") is not None
    assert url_problem("rtsp://") is not None
    assert with_stored_password("rtsp://u:***@h/s", "rtsp://u:pw@h/s") == "rtsp://u:pw@h/s"
    assert with_stored_password("rtsp://v:***@h/s", "rtsp://u:pw@h/s") == "rtsp://v:***@h/s"
    assert (
        with_stored_password("rtsp://u:***@h:8554/s", "rtsp://u:pw@h/s") == "rtsp://u:***@h:8554/s"
    )
    assert with_stored_password("rtsp://u:new@h/s", "rtsp://u:pw@h/s") == "rtsp://u:new@h/s"


def test_a_camera_added_in_the_app_follows_its_households_rule_and_hours(world: World) -> None:
    # What the pipeline and the sweeper ask by camera name: an app camera answers exactly like
    # the household's config camera, because adding it made it the household's.
    services = replace(world.services)
    alice = client(world, services, "alice")
    key = alice.post(
        "/api/cameras", json={"name": "Shed", "detect_url": "rtsp://cam.example/shed"}
    ).json()["name"]
    alice.__exit__(None, None, None)
    assert world.accounts.camera_household(key) == world.household_a
    hours = {**world.config.retention.events, Verdict.PET: 2.0}
    quiet = AlertRule(verdicts=[Verdict.THREAT])
    rules: dict[Mode, AlertRule] = {"home": quiet, "away": world.config.alerts.away}
    world.services.settings.save_household(
        world.household_a, HouseholdSettings(mode="home", retention=hours, alerts=rules), 1.0
    )
    choices = HouseholdChoices(world.store, world.config, services.registry)
    assert choices.rule_of(key) == choices.rule_of("front") == quiet
    own = choices.camera_hours()
    assert own[key] == own["front"] == hours
    assert "garage" not in own  # household B kept the config's hours
