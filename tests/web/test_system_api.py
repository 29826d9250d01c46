"""The System page's API and the live overlay over HTTP, with the web world's two households.

Load and health come from stand-ins (a camera's figures cannot be set on cue); footage is real
segment files indexed in the real store; log lines go through the real ``LogBuffer``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hearthcam.live.overlay import make_overlay
from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.pipeline.load import CameraLoad, LoadMeter, ThreadCpu
from hearthcam.types import Detections, Segment
from hearthcam.web import WebServices, create_app
from hearthcam.web.log_buffer import LogBuffer, redact, visible
from tests.support.world import ORIGIN, T0, World


@pytest.fixture
def clients(world: World) -> Iterator[dict[str, TestClient]]:
    """Set up by ``open_as``; closed at the end."""
    opened: dict[str, TestClient] = {}
    yield opened
    for c in opened.values():
        c.__exit__(None, None, None)


def open_as(
    world: World, services: WebServices, username: str, opened: dict[str, TestClient]
) -> TestClient:
    c = TestClient(create_app(services), headers={"origin": ORIGIN})
    c.__enter__()
    if username:
        token = world.session_token(username)
        c.cookies.set("hc_session", token)
        c.headers["X-CSRF-Token"] = world.csrf(token)
    opened[username or "anonymous"] = c
    return c


def load(camera: str) -> CameraLoad | None:
    if camera == "garage":
        return None  # not running
    return CameraLoad(camera, 10.0, 5.0, 4.5, 0.5, 23.456, 2.0, 0.125)


def health(camera: str) -> CameraHealth | None:
    if camera == "garage":
        return None
    return CameraHealth(
        camera, Connection.LIVE, 500, 450, 50, 0, T0 - 1, T0 - 600, 1,
        f"{camera}: rtsp://admin:***@10.0.0.9/s: timeout", T0 - 30, 2,
    )  # fmt: skip


def test_an_owner_sees_the_load_and_footage_of_their_cameras_only(
    world: World, clients: dict[str, TestClient]
) -> None:
    recordings = world.data_dir / "recordings" / "front"
    recordings.mkdir(parents=True)
    for i, size in enumerate((1000, 2500)):
        path = recordings / f"seg{i}.mp4"
        path.write_bytes(b"\0" * size)
        world.store.add_segment(Segment("front", path, T0 - 3600 + 10 * i, T0 - 3590 + 10 * i))
    event = world.add_event("front", T0 - 7200)  # the oldest event with media kept
    world.add_event("front", T0 - 600)
    services = replace(world.services, load=load, health=health)
    alice = open_as(world, services, "alice", clients)
    got = alice.get("/api/system")
    assert got.status_code == 200, got.text
    body = got.json()
    assert [c["camera"] for c in body["cameras"]] == ["back", "front"]
    front = body["cameras"][1]
    assert front["display_name"] == "Front door"
    assert front["connection"] == "live"
    assert front["fps_in"] == 5.0
    assert front["fps_analysed"] == 4.5
    assert front["dropped_per_s"] == 0.5
    assert front["frames_dropped"] == 50
    assert front["detector_ms"] == 23.46
    assert front["cpu_share"] == 0.125
    assert front["footage_bytes"] == 3500
    assert front["segments"] == 2
    assert front["oldest_footage_at"] == T0 - 3600
    assert front["newest_footage_at"] == T0 - 3580
    assert front["oldest_event_at"] == event.wall_start
    assert "admin:***@" in front["last_error"]
    assert body["cameras"][0]["footage_bytes"] == 0
    assert body["cameras"][0]["oldest_footage_at"] is None
    assert body["cameras"][0]["oldest_event_at"] is None
    assert body["footage_bytes"] == 3500
    assert body["free_bytes"] > 0
    assert body["total_bytes"] >= body["free_bytes"]
    assert body["server_time"] == world.clock()
    assert "garage" not in got.text

    bob = open_as(world, services, "bob", clients).get("/api/system").json()
    assert [c["camera"] for c in bob["cameras"]] == ["garage"]
    garage = bob["cameras"][0]
    assert garage["connection"] == "stopped"
    assert garage["fps_in"] == 0.0
    assert garage["detector_ms"] is None
    assert "front" not in str(bob)
    assert bob["footage_bytes"] == 0

    admin = open_as(world, services, "ada", clients).get("/api/system").json()
    assert [c["camera"] for c in admin["cameras"]] == ["back", "front", "garage"]
    for who, status in (("mia", 403), ("ann", 403), ("", 401)):
        answer = open_as(world, services, who, clients).get("/api/system")
        assert answer.status_code == status, who


def fill_logs(buffer: LogBuffer) -> None:
    log = logging.getLogger("hearthcam.test_system")
    log.setLevel(logging.DEBUG)
    log.addHandler(buffer)
    try:
        log.info("front: connected (h264 640x360)")
        log.warning("front: lost (timeout); reconnecting rtsp://admin:hunter2@10.0.0.9/s")
        log.error("garage: analysis failed: KeyError: 'x'")
        log.error("retention sweep failed")
        log.warning("camera garage has no household")
        log.warning("login with password=hunter2 token: abc123")
        try:
            raise ValueError("key=supersecret")
        except ValueError:
            log.exception("back: camera loop crashed")
    finally:
        log.removeHandler(buffer)


def test_logs_filter_by_level_mask_secrets_and_stay_in_the_household(
    world: World, clients: dict[str, TestClient]
) -> None:
    services = replace(world.services, logs=LogBuffer())
    fill_logs(services.logs)
    alice = open_as(world, services, "alice", clients)
    got = alice.get("/api/system/logs")  # WARNING and above by default
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["level"] == "WARNING"
    messages = [line["message"] for line in body["lines"]]
    assert messages[0].startswith("back: camera loop crashed (ValueError: key=***)")
    assert "front: connected (h264 640x360)" not in messages  # INFO
    assert not any("garage" in m for m in messages)  # household B's camera
    assert "retention sweep failed" in messages  # about no camera
    assert "hunter2" not in got.text
    assert "abc123" not in got.text
    assert "supersecret" not in got.text
    assert "rtsp://***@10.0.0.9/s" in got.text
    assert [line["level"] for line in body["lines"]][:2] == ["ERROR", "WARNING"]
    seqs = [line["seq"] for line in body["lines"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    front = next(line for line in body["lines"] if line["message"].startswith("front: lost"))
    assert front["camera"] == "front"
    assert front["logger"] == "hearthcam.test_system"

    info = alice.get("/api/system/logs", params={"level": "INFO"}).json()
    assert "front: connected (h264 640x360)" in [line["message"] for line in info["lines"]]
    errors = alice.get("/api/system/logs", params={"level": "ERROR"}).json()
    assert {line["level"] for line in errors["lines"]} == {"ERROR"}
    assert len(alice.get("/api/system/logs", params={"limit": 1}).json()["lines"]) == 1
    assert alice.get("/api/system/logs", params={"level": "LOUD"}).status_code == 422

    bob = open_as(world, services, "bob", clients).get("/api/system/logs").json()
    bob_messages = [line["message"] for line in bob["lines"]]
    assert "garage: analysis failed: KeyError: 'x'" in bob_messages
    assert "camera garage has no household" in bob_messages
    assert not any(m.startswith(("front", "back")) for m in bob_messages)
    admin = open_as(world, services, "ada", clients).get("/api/system/logs").json()
    assert len(admin["lines"]) == 6
    for who, status in (("mia", 403), ("ann", 403), ("", 401)):
        answer = open_as(world, services, who, clients).get("/api/system/logs")
        assert answer.status_code == status, who


def test_the_buffer_keeps_the_last_records_only() -> None:
    buffer = LogBuffer(capacity=3)
    log = logging.getLogger("hearthcam.test_ring")
    access = logging.getLogger("uvicorn.access")
    log.addHandler(buffer)
    access.addHandler(buffer)
    try:
        for i in range(10):
            log.warning("line %d", i)
        access.warning("GET /api/system?x=1 200")  # not kept
    finally:
        log.removeHandler(buffer)
        access.removeHandler(buffer)
    assert [line.message for line in buffer.lines()] == ["line 7", "line 8", "line 9"]
    assert visible(buffer.lines(), None, {"front"}) == buffer.lines()


def test_redaction() -> None:
    assert redact("rtsp://u:p@h/x and http://a@b") == "rtsp://***@h/x and http://***@b"
    assert redact("Password = 'x y'") == "Password = '*** y'"
    assert redact("nothing here: 12") == "nothing here: 12"


def test_the_overlay_is_the_newest_analysed_frame_relative(
    world: World, clients: dict[str, TestClient]
) -> None:
    alice = open_as(world, world.services, "alice", clients)
    empty = alice.get("/api/live/front/overlay")
    assert empty.status_code == 200, empty.text
    assert empty.json()["at"] is None
    assert empty.json()["objects"] == []
    tracked = Detections(
        np.array([[16, 12, 80, 120]], dtype=np.float32),
        np.array([0.8765], dtype=np.float32),
        np.array([0], dtype=np.int32),
        np.array([7], dtype=np.int64),
    )
    motion = np.array([[0, 0, 40, 30]], dtype=np.int32)
    world.services.live["front"].overlay.update(make_overlay(T0, 160, 120, tracked, motion))
    body = alice.get("/api/live/front/overlay").json()
    assert body["at"] == T0
    assert (body["width"], body["height"]) == (160, 120)
    assert body["objects"] == [
        {"box": [0.1, 0.1, 0.5, 1.0], "label": "person", "score": 0.877, "track": 7}
    ]
    assert body["motion"] == [[0.0, 0.0, 0.25, 0.25]]
    bob = open_as(world, world.services, "bob", clients)
    assert bob.get("/api/live/front/overlay").status_code == 404


def test_the_load_meter_counts_over_its_window() -> None:
    now = [100.0]
    meter = LoadMeter("front", clock=lambda: now[0], window=10.0)
    for _ in range(20):
        now[0] += 0.5
        meter.frame_in()
        meter.analysed(0.01)
    meter.frame_dropped()
    meter.inference(0.02)
    meter.inference(0.04)
    load = meter.snapshot()
    assert load.window == 10.0
    assert load.fps_in == pytest.approx(2.0)  # 20 frames in the last 10 s
    assert load.fps_analysed == pytest.approx(2.0)
    assert load.dropped == pytest.approx(0.1)
    assert load.detector_ms == pytest.approx(30.0)
    assert load.cpu_share == pytest.approx(0.02)  # 0.2 s of CPU in 10 s
    now[0] += 60
    quiet = meter.snapshot()
    assert quiet.fps_in == 0
    assert quiet.detector_ms is None
    assert quiet.cpu_share == 0


def test_thread_cpu_measures_this_threads_work() -> None:
    with ThreadCpu() as cpu:
        total = 0
        for i in range(300_000):
            total += i * i
    assert total > 0
    assert cpu.seconds > 0
