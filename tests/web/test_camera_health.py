"""A camera's health over HTTP, and a camera added in the app running like a config camera.

The unit tests use the web world with a health source of their own; the integration test runs
the whole product: ``app.build`` and ``app.serve_web`` over a real store, the packaged detector,
a real RTSP server playing the people scene, the owner signing up and adding the camera through
the API, as the Settings page does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from hearthcam import app
from hearthcam.config import parse_config
from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.runtime import Runtime
from hearthcam.types import Verdict
from hearthcam.web import EventBus, ServerHandle
from hearthcam_bench.broker import free_port
from tests.conftest import RtspServer, SceneFile
from tests.support.world import World
from tests.web.test_camera_setup import client

FAILING = CameraHealth(
    camera="front",
    connection=Connection.LIVE,
    frames_in=120,
    frames_analysed=100,
    frames_dropped=20,
    analysis_errors=100,
    last_frame_at=1_699_999_999.0,
    connected_since=1_699_999_000.0,
    reconnects=2,
    last_error="front: analysis failed: KeyError: 'front'",
    last_error_at=1_699_999_998.5,
    last_error_count=100,
    analysis_failing=True,
)


def test_the_health_of_a_running_camera_is_its_pipelines(world: World) -> None:
    services = replace(world.services, health=lambda c: FAILING if c == "front" else None)
    alice = client(world, services, "alice")
    got = alice.get("/api/cameras/front/health")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/json"
    body = got.json()
    assert body.pop("server_time") == world.clock()
    assert body == {
        "camera": "front",
        "connection": "live",
        "frames_in": 120,
        "frames_analysed": 100,
        "frames_dropped": 20,
        "analysis_errors": 100,
        "last_frame_at": 1_699_999_999.0,
        "connected_since": 1_699_999_000.0,
        "reconnects": 2,
        "last_error": "front: analysis failed: KeyError: 'front'",
        "last_error_at": 1_699_999_998.5,
        "last_error_count": 100,
        "analysis_failing": True,
    }
    # A camera of the household that does not run (switched off, or no runtime): stopped.
    stopped = alice.get("/api/cameras/back/health").json()
    assert (stopped["connection"], stopped["frames_in"], stopped["last_error"]) == (
        "stopped",
        0,
        None,
    )
    alice.__exit__(None, None, None)


def test_another_households_camera_has_no_health_to_show(world: World) -> None:
    services = replace(world.services, health=lambda _c: FAILING)
    bob = client(world, services, "bob")
    foreign, unknown = bob.get("/api/cameras/front/health"), bob.get("/api/cameras/nope/health")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    bob.__exit__(None, None, None)
    mia = client(world, services, "mia")  # a member of the household sees it
    assert mia.get("/api/cameras/front/health").json()["analysis_errors"] == 100
    mia.__exit__(None, None, None)


# --- the whole product -------------------------------------------------------------------------


def scene_mount(name: str, scene: SceneFile) -> str:
    """An RTSP mount playing the scene once, in real time (H.264 as it is in the file)."""
    payloader = "rtph264pay name=pay0 pt=96 config-interval=1"
    return f"{name}=( filesrc location={scene.path} ! qtdemux ! h264parse ! {payloader} )"


@pytest.fixture
def running(
    tmp_path: Path, rtsp_servers: Callable[..., RtspServer], people_scene: SceneFile
) -> Iterator[tuple[Runtime, ServerHandle, RtspServer]]:
    """hearthcam with one config camera ("porch") on the people scene, serving its web app."""
    server = rtsp_servers(scene_mount("porch", people_scene), scene_mount("shed", people_scene))
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "web": {"port": free_port()},
            "cameras": {"porch": {"inputs": [{"path": server.url("porch")}]}},
        }
    )
    bus = EventBus()
    runtime = app.build(config, listeners=[bus.on_change])
    web = app.serve_web(runtime, bus)
    try:
        yield runtime, web, server
    finally:
        web.stop()
        runtime.close()
        runtime.store.close()


def wait_for(condition: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def verdicts(runtime: Runtime, camera: str) -> set[Verdict]:
    return {e.verdict for e in runtime.store.events(camera=camera)}


@pytest.mark.integration
def test_a_camera_added_in_the_app_is_analysed_like_a_config_camera(
    running: tuple[Runtime, ServerHandle, RtspServer],
) -> None:
    runtime, web, server = running
    with httpx.Client(base_url=web.url, headers={"origin": web.url}, timeout=60) as owner:
        signed_up = owner.post(
            "/api/setup", json={"username": "lena", "password": "copper kettle on the stove",
                                "household": "Home"},
        )  # fmt: skip
        assert signed_up.status_code == 201, signed_up.text
        owner.headers["X-CSRF-Token"] = signed_up.json()["csrf_token"]
        runtime.start(retention=False)
        added = owner.post("/api/cameras", json={"name": "Shed", "detect_url": server.url("shed")})
        assert added.status_code == 201, added.text
        key = added.json()["name"]
        assert key in runtime.pipelines  # started by the registry's news, no restart

        # The people walk through both scenes: each camera makes a threat event.
        wait_for(lambda: Verdict.THREAT in verdicts(runtime, "porch"), "the config camera", 120)
        wait_for(lambda: Verdict.THREAT in verdicts(runtime, key), "the app camera", 120)

        health = owner.get(f"/api/cameras/{key}/health").json()
        assert health["connection"] == "live"
        assert health["frames_analysed"] > 20
        assert health["analysis_errors"] == 0
        assert health["analysis_failing"] is False
        assert health["last_frame_at"] > time.time() - 5
        assert runtime.cameras[key].objects == runtime.cameras["porch"].objects
        later = owner.get(f"/api/cameras/{key}/health").json()
        assert later["frames_in"] >= health["frames_in"]
        porch = owner.get("/api/cameras/porch/health").json()
        assert porch["analysis_errors"] == 0
