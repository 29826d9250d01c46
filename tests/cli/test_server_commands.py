"""One process owns a data directory: ``run`` holds its lock, a second ``run`` is refused, and
``user add`` / ``models promote`` sent while it records go through its control socket without
touching the recording (issue 10: a ``user add`` beside ``run`` used to run start-up recovery and
destroy the segment being written).

Real parts: ``python -m hearthcam`` subprocesses, GStreamer's RTSP server streaming a scene of
real pedestrians, SQLite on disk, the sealed media read back through the app's own media I/O.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import av
import httpx
import pytest
from typer.testing import CliRunner

from hearthcam.accounts import Accounts, Role
from hearthcam.cli import cli
from hearthcam.config import load_config
from hearthcam.learn.registry import ModelRegistry
from hearthcam.pipeline.clips import clip_window
from hearthcam.recordings.recovery import probe_duration
from hearthcam.scenes import Part
from hearthcam.store.accounts import AccountStore
from hearthcam.store.db import Store
from tests.cli.test_cli import (
    HEARTHCAM,
    Hearthcam,
    Launcher,
    _env,
    gap_rows,
    indexed,
    launch,
    run_config,
    sealed_media,
    segment_files,
    wait_until,
)
from tests.conftest import RtspServer, SceneFile, _scene
from tests.learn.test_retrain import Home, annotate, home
from tests.learn.test_train import world

pytestmark = pytest.mark.integration
__all__ = ["home", "launch"]

PASSWORD = "correct-horse-battery"
RECORD = {"segment_seconds": 1, "pre_roll": 3, "post_roll": 2, "min_clip": 8, "max_clip": 15}


def web_url(proc: Hearthcam) -> str | None:
    found = re.findall(r"web app at (http://\S+)", proc.stderr())
    return found[0] if found else None


def command(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m hearthcam ARGS`` to completion, with ``stdin``."""
    return subprocess.run(
        [*HEARTHCAM, *args], cwd=cwd, env=_env(), input=stdin, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_run_with_no_camera_serves_the_app_and_a_second_run_is_refused(
    launch: Launcher, tmp_path: Path
) -> None:
    config, data = run_config(tmp_path)
    first = launch("run", "--config", str(config), name="first")
    wait_until(lambda: web_url(first) is not None, "the web app's address", 60, first)
    url = web_url(first)
    assert f"no cameras yet: add one in the app at {url}/settings (Settings -> Cameras)" in (
        first.stderr()
    )
    with httpx.Client(base_url=str(url), timeout=10) as web:
        page = web.get("/", follow_redirects=True)
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]

    second = command("run", "--config", str(config), cwd=tmp_path)
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr  # one clear line, before anything was touched
    assert f"data directory {data} is in use by pid {first.process.pid} (hearthcam run)" in lines[0]
    assert "since" in lines[0]
    assert "stop that hearthcam first" in lines[0]
    assert first.running()
    code, _ = first.stop()
    assert code == 0, first.stderr()
    assert "Traceback" not in first.stderr()
    assert (data / "hearthcam.lock").read_text() == ""  # a clean stop leaves no stale record


def test_user_add_through_the_server_writes_nothing_for_a_refused_owner(
    launch: Launcher, tmp_path: Path
) -> None:
    config, _ = run_config(tmp_path)
    server = launch("run", "--config", str(config), name="server")
    wait_until(lambda: web_url(server) is not None, "the web app's address", 60, server)

    def add(name: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
        return command(
            "user", "add", name, "--config", str(config), "--password-stdin", *args,
            cwd=tmp_path, stdin=password + "\n",
        )  # fmt: skip

    first = add("alice", "short", "--household", "Maple Street")
    assert first.returncode == 2
    assert "at least 10 characters" in first.stderr
    added = add("alice", PASSWORD, "--household", "Maple Street")
    assert added.returncode == 0, added.stderr
    assert "(by the running server)" in added.stdout  # the socket path, not a local run
    later = add("bob", "short", "--role", "owner", "--household", "Oak Lane")
    assert later.returncode == 2, later.stdout
    assert "at least 10 characters" in later.stderr
    assert "Traceback" not in later.stderr
    assert server.running()
    code, _ = server.stop(timeout=30)
    assert code == 0, server.stderr()
    with Store.open(load_config(config).database_url) as store, AccountStore(store).read() as tx:
        assert [h.name for h in tx.households()] == ["Maple Street"]
        assert [u.username for u in tx.users()] == ["alice"]


@pytest.fixture(scope="module")
def long_people_scene(tmp_path_factory: pytest.TempPathFactory) -> SceneFile:
    """Quiet, 6 s of real pedestrians, then quiet long enough that the stream never ends
    while the test runs (an ended stream would leave a reconnection gap)."""
    return _scene(
        tmp_path_factory, "people-long", [(Part.QUIET, 6), (Part.PEOPLE, 6), (Part.QUIET, 60)]
    )


def finished_clips(data: Path, camera: str) -> list[tuple[str, str]]:
    """(event id, clip path) of the camera's finished events that have their clip."""
    try:
        with closing(sqlite3.connect(data / "hearthcam.db", timeout=10)) as db:
            query = "SELECT id, clip FROM events WHERE camera = ? AND clip IS NOT NULL"
            return [(str(i), str(c)) for i, c in db.execute(query, (camera,))]
    except sqlite3.OperationalError:  # not there yet
        return []


def trained_model(home: Home, config: Path) -> str:
    """A real model registered in the data directory (then rolled back: the rules serve)."""
    events, truth = world(120, seed=2)
    annotate(home, events, truth, households=5)
    runner = CliRunner()
    done = runner.invoke(cli, ["train", "--config", str(config)])
    assert done.exit_code == 0, done.output
    served = home.registry.served()
    assert served is not None
    done = runner.invoke(cli, ["models", "rollback", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert home.registry.served() is None
    return served.id


def test_user_add_and_models_promote_go_through_a_recording_server_and_lose_nothing(
    home: Home,
    rtsp_servers: Callable[..., RtspServer],
    long_people_scene: SceneFile,
    launch: Launcher,
    tmp_path: Path,
) -> None:
    launch_line = (
        f"( filesrc location={long_people_scene.path} ! qtdemux ! h264parse "
        "! rtph264pay name=pay0 pt=96 )"
    )
    camera = rtsp_servers(f"porch={launch_line}")
    config, data = run_config(
        tmp_path,
        record=RECORD,
        retention={"interval": 3600},  # the toy annotated events must stay for the promote
        cameras={"porch": {"inputs": [{"path": camera.url("porch")}]}},
    )
    assert data == home.data
    model_id = trained_model(home, config)

    server = launch("run", "--config", str(config), name="server")
    wait_until(lambda: len(segment_files(data, "porch")) >= 2, "two recorded segments", 90, server)
    added = command(
        "user", "add", "alice", "--config", str(config), "--password-stdin",
        cwd=tmp_path, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added owner alice in household" in added.stdout
    assert "(by the running server)" in added.stdout
    promoted = command("models", "promote", model_id[:12], "--config", str(config), cwd=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    assert f"serving {model_id} (the running server serves it now)" in promoted.stdout
    assert server.running()

    wait_until(lambda: bool(finished_clips(data, "porch")), "the event's clip", 90, server)
    code, _ = server.stop(timeout=30)
    log = server.stderr()
    assert code == 0, log
    for bad in ("has no key", "recording failed", "Traceback"):
        assert bad not in log, log[-3000:]
    assert f"verdicts now by {model_id}" in log  # the server served the promoted model at once

    cfg = load_config(config)
    with Store.open(cfg.database_url, data_dir=data) as store:
        users = {u.username: u for u in Accounts(store).list_users()}
        assert users["alice"].role is Role.OWNER
        served = ModelRegistry(store, data).served()
        assert served is not None
        assert served.id == model_id
        segments = store.segments_between("porch", 0, 1e12)
        events = [e for e in store.events("porch") if e.clip is not None]

    # Recorded without a break: the only edges are the start and the stop.
    assert len(segments) >= 5
    assert gap_rows(data, "porch") == []
    for before, after in itertools.pairwise(segments):
        assert after.start - before.end < 0.5, (before, after)
    assert set(indexed(data)) == segment_files(data)  # every file indexed, every row a file
    assert events
    footage = (segments[0].start, segments[-1].end)
    with sealed_media(data) as media:
        for segment in segments:
            with media.open(segment.path) as file, av.open(file, "r") as container:
                assert next(container.decode(video=0)).width == 768
        for event in events:
            assert event.clip is not None
            start, end = clip_window(
                event.wall_start, event.wall_end, RECORD["pre_roll"], RECORD["post_roll"],
                RECORD["min_clip"], RECORD["max_clip"],
            )  # fmt: skip
            wanted = min(end, footage[1]) - max(start, footage[0])
            assert wanted >= RECORD["min_clip"] - 1  # the footage allowed a full clip
            # Every clip decrypts and is as long as its window: pre-roll included.
            assert probe_duration(event.clip, media) >= wanted - 1.0, event
