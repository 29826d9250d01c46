"""The composition root: config -> runtime, analyze over a file, recovery at start, retention.

In-process, with real parts: the packaged model, a real scene, SQLite on disk and the RTSP
server fixture. The command-line behaviour of the same paths is in test_cli.py.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import av
import pytest

from hearthcam import analysis, app
from hearthcam import runtime as runtime_module
from hearthcam.accounts.choices import HouseholdChoices
from hearthcam.config import AlertRule, CameraConfig, InputConfig, ScheduleRule, parse_config
from hearthcam.layout import parse_segment_path
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.pipeline.runner import CameraPipeline
from hearthcam.pipeline.source import CameraStream
from hearthcam.recordings.retention import RetentionPolicy
from hearthcam.store.cameras import CameraEntry, CameraStore
from hearthcam.store.db import Store
from hearthcam.store.settings import SettingsStore
from hearthcam.types import Verdict
from hearthcam.vault.media import SealedMedia, read_bytes
from hearthcam.vault.sealed import plaintext_media_signatures
from tests.conftest import RtspServer, SceneFile
from tests.support.factories import make_segments

T0 = 1_790_000_000.0


def test_camera_name_for_files_and_urls() -> None:
    assert runtime_module.camera_name_for("/videos/front door.mp4") == "front_door"
    assert runtime_module.camera_name_for("rtsp://10.0.0.2:554/stream1") == "stream1"
    assert runtime_module.camera_name_for("/") == "camera"
    assert len(runtime_module.camera_name_for("x" * 100 + ".mp4")) == 64


def test_with_cameras_adds_new_and_keeps_the_settings_of_known_ones() -> None:
    config = parse_config(
        {"cameras": {"front": {"inputs": [{"path": "rtsp://old/1"}], "detect": {"fps": 2}}}}
    )
    merged = runtime_module.with_cameras(config, {"front": "rtsp://new/1", "back": "rtsp://new/2"})
    assert merged.cameras["front"].inputs == [InputConfig(path="rtsp://new/1")]
    assert merged.cameras["front"].detect.fps == 2  # only the URL was replaced
    assert merged.cameras["back"] == CameraConfig(inputs=[InputConfig(path="rtsp://new/2")])
    assert config.cameras.keys() == {"front"}  # the original is untouched


def test_build_recovers_the_data_directory_before_recording(tmp_path: Path) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    segments = make_segments(recordings, "cam", time.time() - 60, 3)
    part = segments[-1].path.with_name("23-59-59.000.mp4.part")
    part.write_bytes(b"half a segment")
    config = parse_config(
        {"data_dir": str(data), "cameras": {"cam": {"inputs": [{"path": "/dev/null"}]}}}
    )
    # The database an older version kept beside them (media without one are refused).
    Store.open(config.database_url).close()
    runtime = app.build(config, detector=ScriptedDetector([]))
    try:
        assert not part.exists()
        assert runtime.store.known_segment_paths("cam") == {s.path for s in segments}
        # Plain segments from before encryption are sealed in place, and still play.
        assert plaintext_media_signatures(data) == []
        for segment in segments:
            with runtime.media.open(segment.path) as file, av.open(file, "r") as container:
                assert sum(1 for _ in container.decode(video=0)) > 0
    finally:
        runtime.close()
        runtime.store.close()


@pytest.mark.integration
def test_analyze_stores_finished_events_with_absolute_media_paths(
    pet_scene: SceneFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = parse_config({"data_dir": "data"})  # relative, as in a config file next to it
    events = analysis.analyze(str(pet_scene.path), config)

    assert [e.verdict for e in events] == [Verdict.PET]
    event = events[0]
    assert event.clip is not None
    assert event.snapshot is not None
    # Absolute: the paths go into the database and the output, and must not depend on the cwd.
    assert event.clip.is_absolute()
    assert event.clip.is_relative_to(tmp_path / "data" / "clips")
    assert event.clip.is_file()
    assert event.snapshot.is_file()
    assert plaintext_media_signatures(tmp_path / "data") == []
    data = tmp_path / "data"
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        media = app.open_media(store, data)
        with media.open(event.clip) as file, av.open(file, "r") as container:
            assert sum(1 for _ in container.decode(video=0)) > 0
        assert read_bytes(media, event.snapshot)[:3] == b"\xff\xd8\xff"
        assert store.is_finished(event.id) is True
        assert store.get_event(event.id) == event
        # The file was recorded losslessly into segments as it was analysed, and indexed.
        recorded = store.known_segment_paths(pet_scene.path.stem)
        assert recorded
        assert all(p.is_file() and p.is_absolute() for p in recorded)


@pytest.mark.integration
def test_disk_floor_purges_the_oldest_segments_while_recording_goes_on(
    rtsp_server: RtspServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    config = parse_config(
        {
            "data_dir": str(data),
            "record": {"segment_seconds": 1},
            # The newest 3 s are never deleted; no open event holds footage back.
            "retention": {"min_free_mb": 100, "interval": 0.2, "keep_recent_minutes": 0.05},
            "events": {"motion_events": False},
            "cameras": {"cam": {"inputs": [{"path": rtsp_server.url()}]}},
        }
    )
    root = data / "recordings" / "cam"
    keep = 3

    def disk_free(_path: Path) -> int:
        # The disk is "full" whenever more than ``keep`` segments are on it.
        return 0 if len(list(root.rglob("*.mp4"))) > keep else 1 << 40

    def start(path: Path) -> float:
        return parse_segment_path(data / "recordings", path)[1]

    runtime = app.build(config)
    runtime.disk_free = disk_free
    runtime.start()
    seen: set[Path] = set()
    first_purge: float | None = None
    try:
        deadline = time.monotonic() + 40
        while True:
            now = set(root.rglob("*.mp4"))
            seen |= now
            if first_purge is None and seen - now:
                first_purge = time.time()
            since = first_purge if first_purge is not None else float("inf")
            if len(seen - now) >= 4 and any(start(p) > since for p in now):
                break  # purged several, and recorded more since the first purge
            assert time.monotonic() < deadline, f"no purge/recording: seen {len(seen)}, now {now}"
            time.sleep(0.1)
    finally:
        runtime.close()  # also stops and joins the retention sweeper
    try:
        on_disk = set(root.rglob("*.mp4"))
        purged = seen - on_disk
        assert len(on_disk) <= keep + 2  # the floor held (give or take one sweep interval)
        assert max(map(start, purged)) < min(map(start, on_disk))  # the oldest went first
        assert runtime.store.known_segment_paths() == on_disk  # rows went with their files
        assert plaintext_media_signatures(data) == []
        # Purged segments' keys went with them: the keyring holds the keys of what is left.
        assert isinstance(runtime.media, SealedMedia)
        keyed = {data / b for b in runtime.media.vault.keyring.blob_ids("recordings/")}
        assert on_disk <= keyed
        assert not keyed & purged
        assert not any(
            "recording failed" in e for e in runtime.pipelines["cam"].stats.errors
        )  # recording never stopped
    finally:
        runtime.store.close()


class _CrashingStream:
    """A camera loop that crashes twice with a bug, then runs normally until it ends."""

    name = "porch"

    def __init__(self) -> None:
        self.runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= 2:
            raise RuntimeError("a bug in the camera loop")


class _ErrorSink:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def on_error(self, message: str) -> None:
        self.errors.append(message)


def test_a_crashed_camera_loop_is_restarted_and_reported(tmp_path: Path) -> None:
    stream, sink = _CrashingStream(), _ErrorSink()
    runtime = runtime_module.Runtime(
        config=parse_config({"data_dir": str(tmp_path)}),
        store=cast(Store, None),
        detector=ScriptedDetector([]),
        pipelines=cast(dict[str, CameraPipeline], {"porch": sink}),
        streams=cast(dict[str, CameraStream], {"porch": stream}),
        clip_pool=ThreadPoolExecutor(1),
    )
    runtime._supervise("porch", threading.Event())  # 1 s + 2 s of backoff, then a clean run
    assert stream.runs == 3
    assert sink.errors == ["porch: camera loop crashed"] * 2
    runtime.clip_pool.shutdown()


# --- what owners chose in the app, as the runtime sees it --------------------------------------


def test_household_choices_give_each_camera_its_households_mode_and_hours(tmp_path: Path) -> None:
    from hearthcam.accounts import Accounts, Role
    from hearthcam.store.settings import HouseholdSettings, Mode, SettingsStore
    from tests.support.world import cheap_hasher

    config = parse_config(
        {
            "data_dir": str(tmp_path),
            "alerts": {"mode": "away"},
            "cameras": {n: {"inputs": [{"path": f"{n}.mp4"}]} for n in ("porch", "yard", "shed")},
        }
    )
    store = Store.open(config.database_url)
    accounts = Accounts(store, hasher=cheap_hasher())
    owner = accounts.setup("lena", "copper kettle on the stove", "Home", ["porch", "yard"], 0.0)
    assert owner.household_id is not None
    assert owner.role is Role.OWNER
    choices = HouseholdChoices(store, config)
    assert choices.rule_of("porch") == config.alerts.away  # nothing saved: the config's
    assert choices.camera_hours() == {}

    hours = {**config.retention.events, Verdict.PET: 2.0}
    quiet = AlertRule(
        verdicts=[Verdict.THREAT], schedule=[ScheduleRule(start="22:00", end="06:00")]
    )
    rules: dict[Mode, AlertRule] = {"home": quiet, "away": config.alerts.away}
    SettingsStore(store).save_household(
        owner.household_id, HouseholdSettings(mode="home", retention=hours, alerts=rules), 1.0
    )
    assert choices.rule_of("porch") == quiet  # home mode's rule, read at each use: no restart
    assert choices.rule_of("shed") is None  # no household owns it: the decider uses the config
    policy = RetentionPolicy(config.retention, cameras=choices.camera_hours())
    assert set(policy.cameras) == {"porch", "yard"}
    assert policy.cameras["porch"][Verdict.PET] == 2.0
    assert policy.event_cutoff(Verdict.PET, 10 * 3600.0, "porch") == 8 * 3600.0
    assert policy.event_cutoff(Verdict.PET, 100 * 3600.0, "shed") == (100 - 24) * 3600.0
    store.close()


def test_adopt_cameras_gives_new_cameras_to_the_only_household(tmp_path: Path) -> None:
    from hearthcam.accounts import Accounts, Role
    from tests.support.world import cheap_hasher

    config = parse_config({"data_dir": str(tmp_path)})
    store = Store.open(config.database_url)
    accounts = Accounts(store, hasher=cheap_hasher())
    assert app.adopt_cameras(accounts, ["porch"]) == []  # no owner yet: setup will take them
    owner = accounts.setup("lena", "copper kettle on the stove", "Home", ["porch"], 0.0)
    assert app.adopt_cameras(accounts, ["porch", "garage"]) == ["garage"]
    assert accounts.camera_household("garage") == owner.household_id
    second = accounts.create_household("Next door", 0.0)
    accounts.create_user("otto", "another long passphrase", Role.OWNER, second, 0.0)
    assert app.adopt_cameras(accounts, ["attic"]) == []  # two households: nobody guesses
    assert accounts.camera_household("attic") is None
    store.close()


@pytest.mark.integration
def test_masks_an_owner_drew_apply_to_the_camera(people_scene: SceneFile, tmp_path: Path) -> None:
    from hearthcam.config import Polygon
    from hearthcam.store.settings import CameraGeometry, SettingsStore, save_camera_geometry

    config = parse_config({"data_dir": str(tmp_path / "data")})
    whole = Polygon.model_validate("0,0,1,0,1,1,0,1")
    config.data_dir.mkdir(parents=True)
    with Store.open(config.database_url) as store:
        drawn = CameraGeometry(mask=[whole], zones={})
        save_camera_geometry(SettingsStore(store), "people", drawn, 0.0)  # the file's camera
    assert analysis.analyze(str(people_scene.path), config) == []  # nothing can move behind it
    with Store.open(config.database_url) as store:
        save_camera_geometry(SettingsStore(store), "people", CameraGeometry([], {}), 1.0)
    verdicts = [e.verdict for e in analysis.analyze(str(people_scene.path), config)]
    assert Verdict.THREAT in verdicts


def test_a_running_camera_takes_new_masks_at_its_next_frame(tmp_path: Path) -> None:
    import numpy as np

    from hearthcam.config import Polygon
    from hearthcam.store.settings import CameraGeometry
    from hearthcam.types import Frame

    config = parse_config(
        {"data_dir": str(tmp_path), "cameras": {"cam": {"inputs": [{"path": "cam.mp4"}]}}}
    )
    runtime = app.build(config, detector=ScriptedDetector([]), alerts=False)
    pipeline = runtime.pipelines["cam"]
    rng = np.random.default_rng(7)
    background = rng.integers(40, 120, (180, 320, 3)).astype(np.uint8)

    def frame(i: int, square_x: int | None) -> Frame:
        image = background.copy()
        if square_x is not None:
            image[60:100, square_x : square_x + 40] = 235
        return Frame("cam", i, i / 5, 1000 + i / 5, image)

    for i in range(5):
        pipeline.analyse(frame(i, None))
    pipeline.analyse(frame(5, 40))
    assert pipeline.stats.motion_frames == 1
    whole = CameraGeometry([Polygon.model_validate("0,0,1,0,1,1,0,1")], {})
    pipeline.set_geometry(whole.applied(config.cameras["cam"]))
    for i in range(6, 10):
        pipeline.analyse(frame(i, 40 + 20 * (i - 5)))  # still moving, now behind the mask
    assert pipeline.stats.motion_frames == 1
    runtime.close()
    runtime.store.close()


@pytest.mark.parametrize(("label", "opens"), [("truck", False), ("person", True)])
def test_a_parked_vehicle_under_lingering_motion_is_no_object_of_an_event_a_person_is(
    tmp_path: Path, label: str, opens: bool
) -> None:
    # Issue 12: motion goes on over a still object (people walked in front of it and the
    # background has not forgotten them). A vehicle that never moved does not count; a person
    # standing there does.
    import numpy as np

    from hearthcam.labels import class_id_of
    from hearthcam.types import Detections, Frame

    config = parse_config(
        {"data_dir": str(tmp_path), "cameras": {"cam": {"inputs": [{"path": "cam.mp4"}]}}}
    )
    still = Detections(
        xyxy=np.array([[100, 40, 160, 90]], dtype=np.float32),
        confidence=np.array([0.8], dtype=np.float32),
        class_id=np.array([class_id_of(label)], dtype=np.int32),
    )
    runtime = app.build(config, detector=ScriptedDetector([still] * 40), alerts=False)
    pipeline = runtime.pipelines["cam"]
    rng = np.random.default_rng(7)
    background = rng.integers(40, 120, (180, 320, 3)).astype(np.uint8)
    changes = []
    for i in range(30):
        image = background.copy()
        if i:  # a flicker over the object on every frame after the first
            image[50:80, 110:150] = 235 if i % 2 else 10
        changes += pipeline.analyse(Frame("cam", i, i / 5, 1000 + i / 5, image))
    assert pipeline.stats.motion_frames >= 25
    # The flicker alone makes a motion event; only a counted object makes it more.
    tracked = {t.label for c in changes for t in c.event.tracks}
    assert (label in tracked) is opens, tracked
    assert any(c.event.verdict is not Verdict.MOTION for c in changes) is opens
    runtime.close()
    runtime.store.close()


# --- cameras added, changed and removed while running --------------------------------------


def _segments(data: Path, camera: str) -> set[Path]:
    return set((data / "recordings" / camera).rglob("*.mp4"))


def _wait(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.integration
def test_a_camera_added_while_running_records_and_removing_it_leaves_the_others(
    rtsp_servers: Callable[..., RtspServer], tmp_path: Path
) -> None:
    server_a, server_b = rtsp_servers("cam"), rtsp_servers("cam")
    data = tmp_path / "data"
    config = parse_config(
        {
            "data_dir": str(data),
            "record": {"segment_seconds": 1},
            "cameras": {"a": {"inputs": [{"path": server_a.url()}]}},
        }
    )
    runtime = app.build(config)
    runtime.start(retention=False)
    try:
        _wait(lambda: len(_segments(data, "a")) >= 1, "camera a recording")
        # As the web app does: the registry is told, the runtime listening to it starts b.
        runtime.cameras.put("b", CameraEntry("Garage", None, server_b.url()))
        assert runtime.cameras["b"].name == "Garage"
        _wait(lambda: len(_segments(data, "b")) >= 2, "camera b recording")
        a_before = _segments(data, "a")
        runtime.cameras.remove("b")
        assert "b" not in runtime.pipelines
        assert "b" not in runtime.cameras
        b_stopped = _segments(data, "b")
        _wait(lambda: len(_segments(data, "a") - a_before) >= 2, "camera a going on")
        assert _segments(data, "b") == b_stopped  # b wrote nothing more
        assert not list((data / "recordings" / "b").rglob("*.part"))  # its last one flushed
        assert not [t for t in threading.enumerate() if t.name == "src-b"]
        assert plaintext_media_signatures(data) == []
    finally:
        runtime.close()


@pytest.mark.integration
def test_a_running_camera_restarts_with_its_new_stream(
    rtsp_servers: Callable[..., RtspServer], tmp_path: Path
) -> None:
    server_a, server_b = rtsp_servers("cam"), rtsp_servers("cam")
    data = tmp_path / "data"
    camera = CameraConfig(inputs=[InputConfig(path=server_a.url())])
    config = parse_config({"data_dir": str(data), "record": {"segment_seconds": 1}})
    config = config.model_copy(update={"cameras": {"porch": camera}})
    runtime = app.build(config)
    runtime.start(retention=False)
    try:
        _wait(lambda: len(_segments(data, "porch")) >= 1, "recording from server a")
        runtime.cameras.put("porch", CameraEntry("Porch", None, server_b.url()))
        server_a.stop()  # if the camera still read server a, it would stop recording now
        before = _segments(data, "porch")
        _wait(lambda: len(_segments(data, "porch") - before) >= 2, "recording from server b")
        runtime.cameras.put("porch", CameraEntry("Porch", None, server_b.url(), enabled=False))
        assert "porch" not in runtime.pipelines
        assert runtime.cameras["porch"].enabled is False
    finally:
        runtime.close()


def test_build_runs_the_cameras_owners_added_in_the_app(tmp_path: Path) -> None:
    config = parse_config(
        {"data_dir": str(tmp_path), "cameras": {"front": {"inputs": [{"path": "front.mp4"}]}}}
    )
    with Store.open(config.database_url) as store:
        entries = CameraStore(SettingsStore(store))
        entries.save("cam-00000001", CameraEntry("Garage", None, "rtsp://127.0.0.1:9/g"), T0)
        entries.save("front", CameraEntry("Front", None, "front.mp4", enabled=False), T0)
    runtime = app.build(config, detector=ScriptedDetector([]), alerts=False)
    try:
        assert set(runtime.pipelines) == {"cam-00000001"}  # front is switched off
        assert runtime.cameras["cam-00000001"].name == "Garage"
        assert runtime.cameras["front"].enabled is False
    finally:
        runtime.close()


@pytest.mark.integration
def test_an_event_deleted_through_the_web_api_is_crypto_shredded(
    rtsp_server: RtspServer, tmp_path: Path
) -> None:
    # The whole path with real parts: a real RTSP camera recorded and analysed (the moving ball
    # makes a motion event), its clip cut and sealed, served by the web app, deleted through it.
    from fastapi.testclient import TestClient

    from hearthcam.accounts import Accounts
    from hearthcam.vault.keyring import NoMediaKey
    from hearthcam.vault.sealed import SealedError, SealedReader
    from hearthcam.web import WebServices, create_app
    from tests.support.world import IP, ORIGIN, PASSWORD, cheap_hasher

    data = tmp_path / "data"
    config = parse_config(
        {
            "data_dir": str(data),
            "record": {"segment_seconds": 1, "pre_roll": 0, "post_roll": 0, "min_clip": 1},
            "events": {"motion_min_seconds": 1},
            "cameras": {"cam": {"inputs": [{"path": rtsp_server.url()}]}},
            "web": {"allowed_hosts": ["testserver"]},  # TestClient's Host
        }
    )
    runtime = app.build(config, detector=ScriptedDetector([]), alerts=False)
    runtime.start(retention=False)
    try:
        _wait(lambda: len(_segments(data, "cam")) >= 4, "four segments of the camera")
        time.sleep(1.0)
    finally:
        runtime.close()  # ends the open event and cuts its clip from what was recorded
    try:
        events = [e for e in runtime.store.events(limit=10) if e.clip is not None]
        assert events, "the moving ball made no event with a clip"
        event = events[0]
        assert event.clip is not None
        assert event.snapshot is not None
        assert plaintext_media_signatures(data) == []
        accounts = Accounts(runtime.store, hasher=cheap_hasher())
        accounts.setup("alice", PASSWORD, "Home", ["cam"], time.time())
        login = accounts.authenticate("alice", PASSWORD, ip=IP, user_agent="t", now=time.time())
        assert login.token is not None
        session = accounts.session(login.token, time.time())
        assert session is not None
        services = WebServices(
            config=runtime.config, store=runtime.store, accounts=accounts, media=runtime.media
        )
        kept = {p: p.read_bytes() for p in (event.clip, event.snapshot)}  # the bytes on disk
        with TestClient(create_app(services), headers={"origin": ORIGIN}) as client:
            client.cookies.set("hc_session", login.token)
            client.headers["X-CSRF-Token"] = session.csrf_token
            clip = client.get(f"/api/events/{event.id}/clip")
            assert clip.status_code == 200
            with av.open(io.BytesIO(clip.content), "r") as container:
                assert sum(1 for _ in container.decode(video=0)) > 0
            assert client.delete(f"/api/events/{event.id}").status_code == 204
            assert client.get(f"/api/events/{event.id}/clip").status_code == 404
        assert isinstance(runtime.media, SealedMedia)
        keyring, vault = runtime.media.vault.keyring, runtime.media.vault
        for path, sealed in kept.items():
            assert not path.exists()
            assert sealed.startswith(b"\x89HCSEAL")
            with pytest.raises(NoMediaKey):
                keyring.media_key(vault.blob_id(path))
            copy = tmp_path / f"copy-of-{path.name}"
            copy.write_bytes(sealed)
            remaining = keyring.blob_ids()
            assert remaining  # the segments' keys are still there, and none of them opens it
            for blob in remaining:
                with pytest.raises(SealedError):
                    SealedReader(copy, keyring.media_key(blob)).close()
        assert plaintext_media_signatures(data) == []
    finally:
        runtime.store.close()
