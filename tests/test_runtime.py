"""The runtime with cameras that run elsewhere (``cluster.cameras``: Ray actors), through a
scripted ``RemoteCameras``: which cameras it starts, what it asks of them and in what order it
stops them. The real cluster is in tests/cluster/test_cameras.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hearthcam.camera_registry import CameraRegistry
from hearthcam.config import CameraConfig, parse_config
from hearthcam.live import LiveSource
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.pipeline.health import CameraHealth
from hearthcam.pipeline.load import CameraLoad
from hearthcam.recordings.retention import WaitingClip
from hearthcam.runtime import Runtime
from hearthcam.store.db import Store
from hearthcam.types import Verdict


class ScriptedRemote:
    """Records what the runtime asks; its relay runs until the runtime's stop."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.running: set[str] = set()
        self.relaying = threading.Event()
        self.relay_ended = threading.Event()

    def start(self, name: str, camera: CameraConfig) -> None:
        self.calls.append(("start", name, camera.inputs[0].path))
        self.running.add(name)

    def stop(self, name: str) -> None:
        self.calls.append(("stop", name))
        self.running.discard(name)

    def set_geometry(self, name: str, camera: CameraConfig) -> None:
        self.calls.append(("geometry", name))

    def cut_pending(self) -> None:
        self.calls.append(("cut",))

    def health(self, name: str) -> CameraHealth | None:
        return CameraHealth.off(name) if name in self.running else None

    def load(self, name: str) -> CameraLoad | None:
        return None

    def needed_from(self) -> float | None:
        return 1000.0 if self.running else None

    def waiting_for_space(self) -> list[WaitingClip]:
        return [WaitingClip("e1", "porch", 10.0, 40.0, Verdict.THREAT)] if self.running else []

    def give_up(self, clip: WaitingClip) -> bool:
        self.calls.append(("give up", clip.event_id))
        return True

    @property
    def live(self) -> Mapping[str, LiveSource]:
        return {}

    def run_forever(self, stop: threading.Event) -> None:
        self.relaying.set()
        stop.wait()
        self.relay_ended.set()

    def close(self) -> None:
        # The relay has ended: no change is relayed to listeners the runtime closes next.
        self.calls.append(("close", str(self.relay_ended.is_set())))


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[tuple[Runtime, ScriptedRemote]]:
    config = parse_config({
        "data_dir": str(tmp_path),
        "cameras": {
            "porch": {"inputs": [{"path": "rtsp://10.0.0.2/porch"}]},
            "shed": {"inputs": [{"path": "rtsp://10.0.0.3/shed"}], "enabled": False},
        },
    })  # fmt: skip
    remote = ScriptedRemote()
    with Store.open(config.database_url) as store:
        pool = ThreadPoolExecutor(max_workers=1)
        cameras = CameraRegistry(config)
        detector = ScriptedDetector([])
        yield Runtime(config, store, detector, {}, {}, pool, cameras=cameras, remote=remote), remote


def test_enabled_cameras_start_on_the_cluster_and_none_in_this_process(
    runtime: tuple[Runtime, ScriptedRemote],
) -> None:
    runtime_, remote = runtime
    runtime_.start(retention=False)
    assert remote.relaying.wait(5)
    assert remote.calls == [("start", "porch", "rtsp://10.0.0.2/porch")]  # not the disabled one
    assert runtime_.pipelines == {}
    assert runtime_.streams == {}
    health = runtime_.health("porch")
    assert health is not None
    assert health.camera == "porch"
    assert runtime_.health("shed") is None
    assert runtime_.needed_from() == 1000.0  # what the cluster's open events need
    # Clips a full disk refused on a node are listed and can be given up there.
    (waiting,) = runtime_.waiting_for_space()
    assert (waiting.camera, waiting.event_id) == ("porch", "e1")
    assert runtime_.give_up(waiting)
    assert remote.calls[-1] == ("give up", "e1")
    runtime_.close()
    assert remote.calls[-1] == ("close", "True")


def test_an_owners_change_starts_restarts_or_stops_that_camera_on_the_cluster(
    runtime: tuple[Runtime, ScriptedRemote],
) -> None:
    runtime_, remote = runtime
    runtime_.start(retention=False)
    moved = CameraConfig.model_validate({"inputs": [{"path": "rtsp://10.0.0.9/porch"}]})
    runtime_.camera_changed("porch", moved)
    runtime_.geometry_changed("porch", moved)
    runtime_.camera_changed("shed", moved.model_copy(update={"enabled": False}))
    runtime_.camera_changed("porch", None)
    runtime_.cut_pending_clips()
    assert remote.calls[1:] == [
        ("start", "porch", "rtsp://10.0.0.9/porch"),
        ("geometry", "porch"),
        ("stop", "shed"),
        ("stop", "porch"),
        ("cut",),
    ]
    assert runtime_.health("porch") is None
    runtime_.close()
    # Once stopping, a change starts nothing more.
    runtime_.camera_changed("porch", moved)
    assert remote.calls[-1] == ("stop", "porch")
