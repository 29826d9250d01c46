"""End-to-end tests of the user-facing commands: analyze, config check, run, demo.

Real parts throughout: the packaged NanoDet model, scenes built from real footage, SQLite on disk,
and GStreamer's RTSP server. Where process behaviour matters (exit codes, signals, ``kill -9``) the
CLI runs as a subprocess (``python -m hearthcam``) in a temp directory; where only the output
matters it runs in-process through Typer's CliRunner.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import av
import cv2
import httpx
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from hearthcam import app, mp4
from hearthcam.cli import cli
from hearthcam.layout import parse_segment_path
from hearthcam.scenes import Part
from hearthcam.store.db import Store
from hearthcam.vault.media import SealedMedia
from hearthcam.vault.sealed import MAGIC, plaintext_media_signatures
from tests.conftest import RtspServer, SceneFile

HEARTHCAM = [sys.executable, "-m", "hearthcam"]
EVENT_KEYS = {"camera", "verdict", "labels", "start", "end", "score", "clip", "snapshot"}


def _env() -> dict[str, str]:
    """The environment of a hearthcam subprocess: no terminal width or colour forced on it."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env["NO_COLOR"] = "1"
    return env


def hearthcam(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Runs ``python -m hearthcam ARGS`` to completion in ``cwd``."""
    return subprocess.run(
        [*HEARTHCAM, *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


class Hearthcam:
    """A long-running ``hearthcam`` subprocess (``run``) with its output in files."""

    def __init__(self, args: list[str], cwd: Path, name: str) -> None:
        self.out = cwd / f"{name}.stdout"
        self.err = cwd / f"{name}.stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(
                [*HEARTHCAM, *args], cwd=cwd, env=_env(), stdout=out, stderr=err
            )

    def stderr(self) -> str:
        """Everything written to stderr so far."""
        return self.err.read_text(errors="replace")

    def running(self) -> bool:
        """Whether the process is still alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> tuple[int, float]:
        """Sends SIGTERM; returns (exit status, seconds it took to exit)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill9(self) -> None:
        """``kill -9``: no handler, no flush, no clean-up."""
        self.process.kill()
        assert self.process.wait(10) == -signal.SIGKILL

    def reap(self) -> None:
        """Kills the process if a failed test left it running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


Launcher = Callable[..., Hearthcam]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    """Returns ``launch(*args, name=...) -> Hearthcam``; every process is reaped afterwards."""
    started: list[Hearthcam] = []

    def start(*args: str, name: str = "hearthcam") -> Hearthcam:
        proc = Hearthcam(list(args), tmp_path, f"{name}-{len(started)}")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.reap()


def wait_until(
    condition: Callable[[], bool], what: str, timeout: float, proc: Hearthcam | None = None
) -> None:
    """Polls ``condition`` until true; fails with the process's stderr if it dies or time is up."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and not proc.running():
            pytest.fail(
                f"hearthcam exited ({proc.process.returncode}) before {what}:\n"
                + proc.stderr()[-3000:]
            )
        if time.monotonic() > deadline:
            tail = proc.stderr()[-3000:] if proc is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}\n{tail}")
        time.sleep(0.1)


# --- looking at a data directory ---------------------------------------------------------------


def segment_files(data: Path, camera: str | None = None) -> set[Path]:
    """Finished segment files on disk (of one camera, or all)."""
    root = data / "recordings" / camera if camera else data / "recordings"
    return set(root.rglob("*.mp4")) if root.is_dir() else set()


def part_files(data: Path) -> set[Path]:
    """Half-written segments (``.mp4.part``)."""
    root = data / "recordings"
    return set(root.rglob("*.part")) if root.is_dir() else set()


def started_at(data: Path, path: Path) -> float:
    """The wall time a segment starts, from its name."""
    return parse_segment_path(data / "recordings", path)[1]


def indexed(data: Path) -> dict[Path, str]:
    """Segment rows of the SQLite index: path -> camera (read while hearthcam may be writing;
    rows hold paths relative to the data directory)."""
    with closing(sqlite3.connect(data / "hearthcam.db", timeout=10)) as db:
        rows = db.execute("SELECT path, camera FROM segments").fetchall()
    return {data / path: camera for path, camera in rows}


@contextmanager
def sealed_media(data: Path) -> Iterator[SealedMedia]:
    """The data directory's media as the app reads them (after the process is gone)."""
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        yield app.open_media(store, data)


def gap_rows(data: Path, camera: str) -> list[tuple[float, float, str]]:
    """Recording gaps of ``camera``: (start, end, reason)."""
    with closing(sqlite3.connect(data / "hearthcam.db", timeout=10)) as db:
        query = 'SELECT start, "end", reason FROM gaps WHERE camera = ? ORDER BY start'
        return [(float(s), float(e), str(r)) for s, e, r in db.execute(query, (camera,))]


def run_config(tmp_path: Path, **sections: object) -> tuple[Path, Path]:
    """Writes a config for ``run``: data under tmp_path, 1 s segments, quick reconnects."""
    data = tmp_path / "data"
    config: dict[str, object] = {
        "data_dir": str(data),
        "record": {"segment_seconds": 1},
        "source": {
            "connect_timeout": 3,
            "read_timeout": 3,
            "backoff_initial": 0.2,
            "backoff_max": 1,
        },
        "web": {"port": 0},  # any free port: tests never depend on 8971 being free
        **sections,
    }
    path = tmp_path / "hearthcam.yml"
    path.write_text(yaml.safe_dump(config))
    return path, data


def mp4_boxes(path: Path) -> list[str]:
    """The top-level box types of an MP4 file, in file order."""
    with open(path, "rb") as handle:
        return [box.type for box in mp4.boxes(handle)]


def json_events(stdout: str) -> list[dict[str, object]]:
    """Parses ``analyze --json`` output: every non-empty line must be one JSON object."""
    events = []
    for line in stdout.splitlines():
        if line.strip():
            record = json.loads(line)
            assert isinstance(record, dict), line
            events.append(record)
    return events


def overlaps(event: dict[str, object], start: float, end: float) -> bool:
    """Whether an event's [start, end] overlaps [start, end] seconds."""
    ev_start, ev_end = event["start"], event["end"]
    assert isinstance(ev_start, float | int)
    assert isinstance(ev_end, float | int)
    return ev_start < end and ev_end > start


# --- analyze -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def people_analysis(
    people_scene: SceneFile, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``hearthcam analyze people.mp4 --json`` run once, with its data directory."""
    work = tmp_path_factory.mktemp("analyze-people")
    data = work / "data"
    (work / "config.yml").write_text(yaml.safe_dump({"data_dir": str(data)}))
    done = hearthcam(
        "analyze", str(people_scene.path), "--config", "config.yml", "--json", cwd=work
    )
    return done, data


@pytest.mark.integration
def test_analyze_json_prints_one_event_object_per_line(
    people_analysis: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, data = people_analysis
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    events = json_events(done.stdout)
    assert events
    for event in events:
        assert event.keys() >= EVENT_KEYS
        assert event["camera"] == "people"  # named after the file
        assert isinstance(event["labels"], list)
        assert isinstance(event["score"], float)
        assert 0 < event["score"] <= 1
        assert isinstance(event["start"], float)
        assert isinstance(event["end"], float)
        assert 0 <= event["start"] <= event["end"] <= 26.0  # seconds into the file
        assert Path(str(event["clip"])).is_relative_to(data)
        assert Path(str(event["snapshot"])).is_relative_to(data)


@pytest.mark.integration
def test_analyze_people_scene_gives_a_threat_over_the_people(
    people_analysis: tuple[subprocess.CompletedProcess[str], Path], people_scene: SceneFile
) -> None:
    done, _ = people_analysis
    people = people_scene.span(Part.PEOPLE)
    threats = [e for e in json_events(done.stdout) if e["verdict"] == "threat"]
    assert len(threats) == 1, done.stdout  # a group walking through is one event
    threat = threats[0]
    assert overlaps(threat, people.start, people.end)
    assert threat["labels"] == ["person"]
    assert isinstance(threat["start"], float)
    assert abs(threat["start"] - people.start) < 1.0  # found within a second of them appearing


@pytest.mark.integration
def test_analyze_threat_clip_is_a_20_to_30_s_faststart_h264_mp4_with_a_jpeg_snapshot(
    people_analysis: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, data = people_analysis
    threat = next(e for e in json_events(done.stdout) if e["verdict"] == "threat")
    stored_clip = Path(str(threat["clip"]))
    assert stored_clip.is_file()
    assert stored_clip.suffix == ".mp4"
    assert stored_clip.read_bytes().startswith(MAGIC)  # sealed at rest
    assert plaintext_media_signatures(data) == []
    # What the owner watches is the decrypted copy, written outside the data directory.
    work = data.parent
    clip, snapshot = work / "threat.mp4", work / "threat.jpg"
    base = ["media", "export", str(threat["id"]), "--config", "config.yml"]
    exported = hearthcam(*base, "-o", clip.name, cwd=work, timeout=60)
    assert exported.returncode == 0, exported.stderr
    exported = hearthcam(*base, "--snapshot", "-o", snapshot.name, cwd=work, timeout=60)
    assert exported.returncode == 0, exported.stderr
    assert plaintext_media_signatures(data) == []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert container.duration is not None
        assert 20.0 <= container.duration / av.time_base <= 30.0
        frames = sum(1 for _ in container.decode(stream))
    assert 20 * 10 <= frames <= 30 * 10  # every frame decodes (the scene is 10 fps)
    boxes = mp4_boxes(clip)
    assert "moov" in boxes
    assert "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # faststart: plays while loading
    assert snapshot.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG
    picture = cv2.imread(str(snapshot))
    assert picture is not None
    assert picture.shape[2] == 3


@pytest.mark.integration
def test_analyze_pet_scene_is_a_pet_and_no_threat(pet_scene: SceneFile, tmp_path: Path) -> None:
    done = hearthcam("analyze", str(pet_scene.path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = json_events(done.stdout)
    pet = pet_scene.span(Part.PET)
    pets = [e for e in events if e["verdict"] == "pet"]
    assert len(pets) == 1, events
    assert overlaps(pets[0], pet.start, pet.end)
    labels = pets[0]["labels"]
    assert isinstance(labels, list)
    assert set(labels) & {"cat", "dog"}
    assert "person" not in labels
    assert not [e for e in events if e["verdict"] == "threat"]
    # With no config the data directory defaults to ./hearthcam-data (here, the temp cwd).
    assert Path(str(pets[0]["clip"])).is_relative_to(tmp_path / "hearthcam-data")


@pytest.mark.integration
def test_analyze_light_change_gives_no_threat(light_scene: SceneFile, tmp_path: Path) -> None:
    done = hearthcam("analyze", str(light_scene.path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    events = json_events(done.stdout)
    # Light is never a threat nor an object: at most plain motion.
    assert all(e["verdict"] == "motion" for e in events), events


@pytest.mark.integration
def test_analyze_text_output_is_one_line_per_event(pet_scene: SceneFile, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    result = CliRunner().invoke(cli, ["analyze", str(pet_scene.path), "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    assert re.match(r"pet +2\.\d-\s+\d+\.\ds pet +labels=(cat|dog) score=0\.\d\d clip=/", lines[0])
    assert result.stderr.strip().splitlines()[-1] == "1 events"


def _unreadable(kind: str, scene: Path, folder: Path) -> str:
    """Makes one kind of unreadable input in ``folder``; returns its name as a user types it."""
    if kind == "zero-byte":
        (folder / "empty.mp4").touch()
        return "empty.mp4"
    if kind == "truncated":
        # A recording cut off mid-write: write_scene puts the index (moov) last, so it is lost.
        assert mp4_boxes(scene).index("mdat") < mp4_boxes(scene).index("moov")
        data = scene.read_bytes()
        (folder / "cut.mp4").write_bytes(data[: len(data) // 2])
        return "cut.mp4"
    if kind == "random-bytes":
        (folder / "noise.mp4").write_bytes(np.random.default_rng(1).bytes(256 * 1024))
        return "noise.mp4"
    if kind == "text-file":
        (folder / "notes.txt").write_text("front door camera notes\n" * 50)
        return "notes.txt"
    if kind == "directory":
        (folder / "clips.mp4").mkdir()
        return "clips.mp4"
    if kind == "markup-like-name":
        (folder / "[garage] door.mp4").write_text("not a video")
        return "[garage] door.mp4"
    assert kind == "missing"
    return "nowhere/missing.mp4"


UNREADABLE = [
    "zero-byte",
    "truncated",
    "random-bytes",
    "text-file",
    "missing",
    "directory",
    "markup-like-name",
]


@pytest.mark.integration
@pytest.mark.parametrize("kind", UNREADABLE)
def test_analyze_unreadable_file_exits_2_with_one_line_naming_it(
    kind: str, people_scene: SceneFile, tmp_path: Path
) -> None:
    name = _unreadable(kind, people_scene.path, tmp_path)
    done = hearthcam("analyze", name, "--json", cwd=tmp_path, timeout=60)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert name in lines[0]
    assert done.stdout == ""
    assert not (tmp_path / "hearthcam-data" / "clips").exists()


@pytest.mark.integration
def test_analyze_file_truncated_after_its_index_reports_what_it_could_read(
    people_scene: SceneFile, tmp_path: Path
) -> None:
    # A faststart file (index first) cut short is partly readable: its events up to the cut are
    # reported (exit 0), and stderr says the file is truncated.
    faststart = tmp_path / "faststart.mp4"
    with (
        av.open(str(people_scene.path)) as source,
        av.open(str(faststart), "w", options={"movflags": "+faststart"}) as out,
    ):
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = faststart.read_bytes()
    cut = tmp_path / "cut-short.mp4"
    cut.write_bytes(data[: len(data) * 2 // 5])  # ~10 s of 26: into the people span
    done = hearthcam("analyze", cut.name, "--json", cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(
        r"cut-short\.mp4: file ends early at [\d.]+ s of 26\.0 s \(truncated\?\)", done.stderr
    ), done.stderr
    threats = [e for e in json_events(done.stdout) if e["verdict"] == "threat"]
    assert len(threats) == 1


# --- config check ------------------------------------------------------------------------------


def _readme_config() -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## A minimal camera config", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert match, "README lost its minimal config"
    return match.group(1)


def test_config_check_accepts_the_readme_config(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(_readme_config())
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{config}: ok (1 cameras)"
    assert result.stderr == ""


def test_config_check_names_the_full_key_path_of_every_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "data_dir: /var/lib/hearthcam\n"
        "cameras:\n"
        "  front_door_camera_over_the_porch_steps:\n"
        "    inputs: [{path: 'rtsp://192.168.1.20:554/stream1', roles: [record, detct]}]\n"
        "    detect: {fps: fast}\n"
        "    motion: {treshold: 30}\n"
        "    zones:\n"
        "      porch: {coordinates: '0.1,0.6,0.9,0.6,0.9', objects: [person]}\n"
        "retention: {min_free_mb: lots}\n"
        "colour: blue\n"
    )
    result = CliRunner().invoke(cli, ["config", "check", str(config)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    header, *problems = result.stderr.splitlines()
    assert header == f"error: invalid config {config}:"
    cam = "cameras.front_door_camera_over_the_porch_steps"
    expected = {
        f"{cam}.motion.treshold": "unknown key",
        f"{cam}.detect.fps": "Input should be a valid number",
        f"{cam}.inputs[0].roles[1]": "Input should be 'record' or 'detect'",
        f"{cam}.zones.porch.coordinates": "a polygon string needs an even number of coordinates",
        "retention.min_free_mb": "Input should be a valid number",
        "colour": "unknown key",
    }
    # One line per problem (however long), each starting with its full key path.
    found = {}
    for line in problems:
        assert line.startswith("  "), problems
        path, _, message = line.strip().partition(": ")
        found[path] = message
    assert found.keys() == expected.keys(), problems
    for path, message in expected.items():
        assert found[path].startswith(message), (path, found[path])


def test_config_check_missing_or_malformed_file_exits_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["config", "check", str(tmp_path / "nope.yml")])
    assert missing.exit_code == 2
    assert "nope.yml" in missing.stderr
    assert "cannot read" in missing.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text("cameras: [1,\n")
    result = CliRunner().invoke(cli, ["config", "check", str(broken)])
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- run ---------------------------------------------------------------------------------------


@pytest.mark.integration
def test_run_records_two_rtsp_cameras_and_stops_cleanly_on_sigterm(
    rtsp_servers: Callable[..., RtspServer], launch: Launcher, tmp_path: Path
) -> None:
    server = rtsp_servers("a", "b")
    config, data = run_config(tmp_path)
    proc = launch(
        "run", "--config", str(config),
        "--camera", f"a={server.url('a')}", "--camera", f"b={server.url('b')}",
    )  # fmt: skip

    def recorded() -> bool:
        try:
            cameras = list(indexed(data).values())
        except sqlite3.OperationalError:  # the database or its tables are not there yet
            return False
        return cameras.count("a") >= 2 and cameras.count("b") >= 2

    wait_until(recorded, "two indexed segments per camera", 30, proc)
    in_flight = part_files(data)
    code, took = proc.stop(timeout=30)

    assert code == 0, proc.stderr()
    # A hang check, not a speed figure (about 1 s on an idle 2-core box, 6 s under a load of
    # 20): well inside systemd's default 90 s stop timeout, after which it would SIGKILL.
    assert took < 30
    assert "stopped cleanly" in proc.stderr()
    assert "Traceback" not in proc.stderr()
    assert not part_files(data)
    for part in in_flight:  # the segment being written at SIGTERM was finished, not dropped
        assert part.with_suffix("").is_file()
    rows = indexed(data)
    assert set(rows) == segment_files(data)  # every file indexed, every row a file
    assert plaintext_media_signatures(data) == []
    with sealed_media(data) as media:
        for path, camera in rows.items():
            assert path.is_relative_to(data / "recordings" / camera)
            with media.open(path) as file, av.open(file, "r") as container:
                assert container.streams.video[0].codec_context.name == "h264"
                assert next(container.decode(video=0)).width == 320


@pytest.mark.integration
def test_run_serves_the_owner_app_with_setup_and_the_cameras_live(
    rtsp_server: RtspServer, launch: Launcher, tmp_path: Path
) -> None:
    config, _data = run_config(tmp_path)
    proc = launch("run", "--config", str(config), "--camera", f"porch={rtsp_server.url()}")
    found: list[str] = []

    def listening() -> bool:
        found[:] = re.findall(r"web app at (http://\S+)", proc.stderr())
        return bool(found)

    wait_until(listening, "the web app's address", 30, proc)
    assert "create the owner account" in proc.stderr()
    with httpx.Client(base_url=found[0], timeout=10) as web:
        assert web.get("/api/setup").json() == {"needed": True}
        assert web.get("/", follow_redirects=False).headers["location"] == "/setup"
        assert web.get("/api/cameras").status_code == 401
        created = web.post(
            "/api/setup",
            json={
                "username": "lena",
                "password": "copper kettle on the stove",
                "household": "Home",
            },
        )
        assert created.status_code == 201, created.text
        cameras = web.get("/api/cameras").json()
        assert [c["name"] for c in cameras] == ["porch"]

        def snapshot() -> bool:
            answer = web.get("/api/cameras/porch/snapshot")
            return answer.status_code == 200 and answer.content[:2] == b"\xff\xd8"

        wait_until(snapshot, "a live JPEG of the camera", 30, proc)
    code, _ = proc.stop()
    assert code == 0, proc.stderr()
    assert "Traceback" not in proc.stderr()


@pytest.mark.integration
def test_run_with_the_web_port_taken_says_so_and_exits_2(
    rtsp_server: RtspServer, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config, _data = run_config(tmp_path, web={"port": port})
        done = hearthcam(
            "run", "--config", str(config), "--camera", f"cam={rtsp_server.url()}",
            cwd=tmp_path, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    assert "web.port" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_kill_9_loses_at_most_the_segment_in_flight_and_the_next_start_recovers(
    rtsp_server: RtspServer, launch: Launcher, tmp_path: Path
) -> None:
    config, data = run_config(tmp_path)
    args = ["run", "--config", str(config), "--camera", f"cam={rtsp_server.url()}"]
    first = launch(*args, name="first")
    wait_until(lambda: len(segment_files(data, "cam")) >= 2, "two finished segments", 30, first)
    first.kill9()
    killed_at = time.time()

    before = segment_files(data, "cam")
    parts = part_files(data)
    assert len(parts) <= 1, parts  # only the segment in flight
    rows = indexed(data)
    assert all(path.exists() for path in rows)  # a row is written only for a finished file
    assert len(before - set(rows)) <= 1  # at most one finished but not yet indexed
    assert plaintext_media_signatures(data) == []  # the killed segment is sealed too

    second = launch(*args, name="second")
    wait_until(
        lambda: any(started_at(data, p) > killed_at for p in segment_files(data, "cam")),
        "a new segment after the restart",
        30,
        second,
    )
    assert not any(part.exists() for part in parts)  # recovery salvaged or deleted it
    code, _ = second.stop()
    assert code == 0, second.stderr()
    report = re.search(r"parts_deleted=(\d+).*parts_salvaged=(\d+)", second.stderr())
    assert report, second.stderr()
    deleted, salvaged = int(report[1]), int(report[2])
    assert deleted + salvaged == len(parts)

    after = segment_files(data, "cam")
    assert before < after  # nothing finished was lost, and recording went on
    assert set(indexed(data)) == after  # every file indexed, every row a file
    assert not part_files(data)
    assert not (data / "corrupt").exists()
    assert plaintext_media_signatures(data) == []
    # The killed segment's finished fragments were kept: it plays up to the fragment in flight.
    kept = [p.with_name(p.name.removesuffix(".part")) for p in parts]
    assert sum(p.exists() for p in kept) == salvaged
    with sealed_media(data) as media:
        for path in (p for p in kept if p.exists()):
            with media.open(path) as file, av.open(file, "r") as container:
                assert sum(1 for _ in container.decode(video=0)) > 0


@pytest.mark.integration
def test_a_dead_camera_leaves_a_gap_and_reconnects_while_the_other_keeps_recording(
    rtsp_servers: Callable[..., RtspServer], launch: Launcher, tmp_path: Path
) -> None:
    server_a, server_b = rtsp_servers("cam"), rtsp_servers("cam")
    config, data = run_config(tmp_path)
    proc = launch(
        "run", "--config", str(config),
        "--camera", f"a={server_a.url()}", "--camera", f"b={server_b.url()}",
    )  # fmt: skip
    wait_until(
        lambda: len(segment_files(data, "a")) >= 1 and len(segment_files(data, "b")) >= 1,
        "both cameras recording",
        30,
        proc,
    )
    server_b.stop()  # camera b loses power
    lost_at = time.time()

    def a_since(wall: float) -> list[Path]:
        return [p for p in segment_files(data, "a") if started_at(data, p) > wall]

    wait_until(lambda: len(a_since(lost_at)) >= 2, "camera a recording during b's outage", 20, proc)
    b_during = {p for p in segment_files(data, "b") if started_at(data, p) > lost_at}
    assert not b_during  # nothing recorded from a camera that is off
    server_b.start()
    back_at = time.time()
    wait_until(
        lambda: any(started_at(data, p) > back_at for p in segment_files(data, "b")),
        "camera b recording again after its restart",
        30,
        proc,
    )
    assert proc.running()
    code, _ = proc.stop()
    assert code == 0, proc.stderr()

    gaps = gap_rows(data, "b")
    assert len(gaps) == 1, gaps
    start, end, reason = gaps[0]
    assert start <= lost_at + 1.0
    assert end >= back_at
    assert end - start >= back_at - lost_at - 1.0
    assert reason
    assert gap_rows(data, "a") == []
    assert set(indexed(data)) == segment_files(data)


# --- demo --------------------------------------------------------------------------------------


@pytest.mark.integration
def test_demo_prints_a_table_with_a_threat_and_a_pet(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    done = hearthcam("demo", "--data-dir", str(data), cwd=tmp_path, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    rows = [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in done.stdout.splitlines()
        if line.startswith("│")
    ]
    # A long clip path wraps onto continuation lines whose first cells are empty.
    rows = [row for row in rows if row[0]]
    verdicts = [row[2] for row in rows]
    assert "threat" in verdicts, done.stdout
    assert "pet" in verdicts, done.stdout
    assert "hearthcam demo:" in done.stdout
    spans = json.loads((data / "scene.json").read_text())
    assert [part for part, _start, _end in spans][:2] == ["quiet", "people"]
    assert plaintext_media_signatures(data / "data") == []  # the scene is outside it
    assert len(list((data / "data" / "clips").rglob("*.mp4"))) == len(rows)
    # Each clip's path follows the table on a line of its own, whole, relative to the cwd.
    paths = re.findall(r"^\[(\d+)\] (\S+\.mp4)$", done.stdout, flags=re.MULTILINE)
    assert [int(n) for n, _ in paths] == list(range(1, len(rows) + 1))
    for _, path in paths:
        assert not Path(path).is_absolute()
        assert (tmp_path / path).is_file()
    assert len(list((data / "data" / "snapshots").rglob("*.jpg"))) == len(rows)
    # The hint under the table works as printed: the clip decrypts to a playable file.
    hint = re.search(r"to watch one: hearthcam (media export .+ -o clip\.mp4)$", done.stdout, re.M)
    assert hint is not None, done.stdout
    exported = hearthcam(*hint.group(1).split(), cwd=tmp_path, timeout=60)
    assert exported.returncode == 0, exported.stderr
    with av.open(str(tmp_path / "clip.mp4")) as clip:
        assert sum(1 for _ in clip.decode(video=0)) > 0
