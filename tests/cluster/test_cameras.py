"""Camera pipelines as Ray actors on a real cluster (issue 15): ``hearthcam run --cluster HEAD``
with ``cluster.cameras: true``, eight cameras from GStreamer's RTSP server, a Ray head and a second
node started with ``ray start`` as separate processes in a loopback-only network namespace, the
database on a real PostgreSQL server and one data directory both nodes use.

The second node is killed as a power cut would (its raylet, agents and the camera actors under
it): its cameras record again on the head, the downtime of each is listed as a gap, the head's
own cameras go on untouched, and no event the database held is lost. ``hearthcam train`` through
the server runs on the cluster too, and the owner watches cameras of both nodes live in the app
(their fMP4 and MJPEG relayed from the actors), a moved one again from its new node.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hearthcam.cluster.detector import MAX_BATCH
from hearthcam.recordings.recovery import MOVED_REASON
from hearthcam.scenes import Part, write_scene
from hearthcam_bench.cluster_cameras import CHROMIUM
from hearthcam_bench.raycluster import in_loopback_namespace, namespace_problem, ray_problem
from hearthcam_bench.rtsp import available as rtsp_missing
from tests.support.postgres import new_database
from tests.support.required import require

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CAMERAS = 8


@dataclasses.dataclass(frozen=True)
class World:
    config: Path
    scene: Path
    data: Path


@pytest.fixture
def world(tmp_path: Path, postgres_host: str, postgres_template: str) -> World:
    """A data directory on a real PostgreSQL database, and a scene of people walking by (real
    footage: OpenCV's vtest.avi) every few seconds, long enough for the whole run."""
    require(ray_problem() is None, ray_problem() or "")
    require(namespace_problem() is None, namespace_problem() or "")
    require(rtsp_missing() is None, rtsp_missing() or "")
    require(Path(CHROMIUM).is_file(), "Debian's chromium (scripts/setup.sh installs it)")
    data = tmp_path / "data"
    data.mkdir()
    scene = tmp_path / "scene.mp4"
    write_scene(scene, [(Part.PEOPLE, 6.0), (Part.QUIET, 6.0)] * 15, gop=10)
    config = tmp_path / "config.yaml"
    settings = {
        "data_dir": str(data),
        "database": new_database(postgres_host, postgres_template),
        "record": {"segment_seconds": 2},
        # The run starts the cluster and gives the server its head's address.
        "cluster": {"engine": "ray", "address": "127.0.0.1:1", "cameras": True},
    }
    config.write_text(yaml.safe_dump(settings))
    return World(config, scene, data)


def _drive(world: World, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.cluster_cameras"]
    argv += [str(world.config), str(world.scene), str(out), "--cameras", str(CAMERAS)]
    done = in_loopback_namespace([*argv, *extra], timeout=900, cwd=ROOT)
    report: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    assert done.returncode == 0, (report.get("output", "")[-4000:], done.stderr[-5000:])
    return report


@pytest.mark.timeout(600)
def test_a_killed_nodes_cameras_record_again_on_the_head(world: World, tmp_path: Path) -> None:
    report = _drive(
        world, tmp_path, "--kill", "worker-1", "--train", "--live", "--detector-service"
    )

    assert report["code"] == 0, report["output"][-4000:]
    assert "stopped cleanly" in report["output"]
    cameras = [f"cam{i}" for i in range(CAMERAS)]
    head, worker = report["nodes"]["head"]["id"], report["nodes"]["worker-1"]["id"]
    assert report["nodes"]["worker-1"]["alive"] is False
    # Before the kill the cameras ran on both nodes (Ray spread them by their declared CPUs).
    placed = report["placed_before"]
    assert sorted(placed) == cameras
    moved = sorted(c for c, node in placed.items() if node == worker)
    stayed = sorted(c for c, node in placed.items() if node == head)
    assert moved, placed
    assert stayed, placed
    assert len(moved) + len(stayed) == CAMERAS, placed
    # The killed node's cameras started again on the head; the head's started once only.
    starts = report["starts"]
    for camera in moved:
        assert {"camera": camera, "node": head} in starts, starts
    for camera in stayed:
        assert [s for s in starts if s["camera"] == camera] == [{"camera": camera, "node": head}]
    killed_at = report["killed"]["at"]
    assert report["killed"]["processes"] >= 2  # the raylet and the actors' processes under it
    before, after = report["before"], report["after"]
    for camera in cameras:
        # Recording again after the kill (every camera: the head's never stopped).
        assert any(start > killed_at for start, _ in after["segments"][camera]), camera
        # What was recorded before the kill is all still there.
        kept = {tuple(s) for s in after["segments"][camera]}
        assert all(tuple(s) in kept for s in before["segments"][camera]), camera
    for camera in moved:
        # The downtime is listed: one gap from the last recorded moment to the restart.
        (gap,) = [g for g in after["gaps"][camera] if g[2] == MOVED_REASON]
        start, end, _ = gap
        assert start <= killed_at + 2.5, (gap, killed_at)  # a segment's length at most
        assert end > killed_at, (gap, killed_at)
        first_after = min(s for s, _ in after["segments"][camera] if s > killed_at)
        assert end <= first_after + 0.5, (gap, first_after)
    for camera in stayed:
        assert after["gaps"][camera] == [], camera  # untouched by the other node's death
    # No event the database held is lost, and none is left open after the clean stop (an event
    # open on the killed node was finished from its footage when its camera moved).
    assert before["events"], "no event before the kill: the scene's people were not detected"
    assert set(before["events"]) <= set(after["events"])
    assert after["open"] == []
    for event_id, event in before["events"].items():
        assert after["events"][event_id]["wall_end"] >= event["wall_end"]
    # `hearthcam train` through the running server ran as a Ray task on a node of the cluster,
    # and was refused there for the data's sake (nothing annotated), as in one process.
    assert report["train"]["code"] != 0
    assert "fewer than two different verdicts" in report["train"]["output"]
    assert len(report["trainings"]) == 1
    assert report["trainings"][0] in {head, worker}
    # The owner (added through the server) watched a camera on each node live in the app, fMP4
    # and MJPEG relayed from its actor, and a moved camera again from its new process.
    assert "added owner owner" in report["user_add"]
    watched = [*report["live_before"].values(), report["live_after"]]
    assert len(report["live_before"]) == 2  # one camera on each node
    assert report["live_after"]["camera"] in moved
    for live in watched:
        assert live["mse"]["mime"].startswith('video/mp4; codecs="avc1.'), live
        assert live["mse"]["init"] == 1, live
        assert live["mse"]["fragments"] == 5, live
        assert live["mjpeg"]["pictures"] >= 2, live
    # In Chromium, the Live page plays both cameras (one per node) over MSE.
    assert sorted(report["browser"]) == sorted(w["camera"] for w in report["live_before"].values())
    for tile in report["browser"].values():
        assert tile["path"] == "mse", tile
        assert tile["times"][1] > tile["times"][0] > 0.5, tile  # the picture moves
        assert tile["size"] == [768, 576], tile
    # One detector service per node served its cameras (cluster.detector_service): one started
    # on each node, none again on the head when the killed node's cameras moved there.
    assert sorted(report["services"]) == sorted([head, worker])
    (serving,) = report["service_stats"]  # the killed node's died with it
    assert serving["node"] == head
    assert serving["calls"] > 0  # the head's cameras sent it their frames
    assert serving["inferences"] > 0  # and it ran the model on them
    assert serving["max_batch"] == MAX_BATCH  # NanoDet-m made to take a batch (checked at load)
    assert 1 <= serving["largest_batch"] <= MAX_BATCH
    assert serving["batches"] <= serving["calls"]
