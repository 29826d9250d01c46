"""``kill -9`` while an event is open: the next start finishes the event from what was recorded
(its end at the last recorded footage, its clip cut from the segments, a snapshot from the
footage) and records the downtime as a gap (issue 14). Three kills in a row, each measured.

Real parts: ``python -m hearthcam run`` subprocesses killed with SIGKILL, GStreamer's RTSP
server streaming a scene of real pedestrians, SQLite on disk, the sealed media read back through
the app's own media I/O.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from hearthcam.config import load_config
from hearthcam.pipeline.clips import clip_window
from hearthcam.recordings.recovery import probe_duration
from hearthcam.scenes import Part
from hearthcam.store.db import Store
from hearthcam.types import Event
from tests.cli.test_cli import (
    Hearthcam,
    Launcher,
    gap_rows,
    launch,
    run_config,
    sealed_media,
    segment_files,
    wait_until,
)
from tests.conftest import RtspServer, SceneFile, _scene

pytestmark = pytest.mark.integration
__all__ = ["launch"]  # the fixture

RECORD = {"segment_seconds": 1, "pre_roll": 3, "post_roll": 2, "min_clip": 8, "max_clip": 15}
TRIES = 3
EVENT_AGE = 6.0  # seconds an event has been open when the process is killed
# The segment in flight: a segment closes at the first keyframe (1 s apart in the scene) after
# segment_seconds, so it runs up to two; it is one fragment, lost whole with the process.
IN_FLIGHT = 2 * RECORD["segment_seconds"] + 1.0
WAIT = 120.0  # generous: three cameras' worth of helpers share two cores


@pytest.fixture(scope="module")
def people_then_quiet(tmp_path_factory: pytest.TempPathFactory) -> SceneFile:
    """Quiet, 6 s of real pedestrians, then quiet long enough that the stream never ends while
    one try runs (each new client of the shared mount starts the file again)."""
    return _scene(
        tmp_path_factory, "people-kill9", [(Part.QUIET, 6), (Part.PEOPLE, 6), (Part.QUIET, 60)]
    )


def open_events(data: Path) -> list[tuple[str, float]]:
    """(id, wall start) of the open events (read while hearthcam may be writing)."""
    try:
        with closing(sqlite3.connect(data / "hearthcam.db", timeout=10)) as db:
            query = "SELECT id, wall_start FROM events WHERE finished = 0"
            return [(str(i), float(w)) for i, w in db.execute(query)]
    except sqlite3.OperationalError:  # not there yet
        return []


def finished(data: Path, event_id: str) -> bool:
    """Whether the event's row is finished."""
    with closing(sqlite3.connect(data / "hearthcam.db", timeout=10)) as db:
        row = db.execute("SELECT finished FROM events WHERE id = ?", (event_id,)).fetchone()
    return bool(row and row[0])


def recorded_spans(data: Path) -> list[tuple[float, float]]:
    """(start, end) of every indexed segment, oldest first."""
    with closing(sqlite3.connect(data / "hearthcam.db", timeout=10)) as db:
        query = 'SELECT start, "end" FROM segments ORDER BY start'
        return [(float(s), float(e)) for s, e in db.execute(query)]


@dataclass
class Kill:
    """One kill -9 during an open event, and what the next start made of it."""

    event_id: str
    killed_at: float
    restarted_at: float
    files_before: set[Path]
    recorded_until: float = 0.0  # the last recorded moment before the kill, after recovery

    @property
    def lost(self) -> float:
        """Seconds of footage the kill cost: from the last kept moment to the kill."""
        return self.killed_at - self.recorded_until


def kill_during_an_event(proc: Hearthcam, data: Path, seen: set[str]) -> Kill:
    """Waits for a new event open for EVENT_AGE s in ``run``, then kills it."""

    def aged_event() -> str | None:
        for event_id, wall_start in open_events(data):
            if event_id not in seen and time.time() - wall_start >= EVENT_AGE:
                return event_id
        return None

    wait_until(lambda: aged_event() is not None, "an event open for a while", WAIT, proc)
    event_id = aged_event()
    assert event_id is not None
    files_before = segment_files(data, "porch")
    proc.kill9()
    killed_at = time.time()
    seen.add(event_id)
    return Kill(event_id, killed_at, time.time(), files_before)


def restart_and_recover(launch: Launcher, args: list[str], data: Path, kill: Kill) -> Hearthcam:
    """Starts ``run`` again and waits until its recovery has finished the killed event."""
    kill.restarted_at = time.time()
    proc = launch(*args, name="run")
    wait_until(lambda: finished(data, kill.event_id), "the open event finished", WAIT, proc)
    spans = [s for s in recorded_spans(data) if s[0] < kill.killed_at]
    kill.recorded_until = max(end for _, end in spans)
    # Up and recording again (and past start-up, so it can be stopped cleanly).
    wait_until(
        lambda: any(start > kill.restarted_at for start, _ in recorded_spans(data)),
        "a new segment after the restart",
        WAIT,
        proc,
    )
    return proc


def check_event(event: Event, kill: Kill, spans: list[tuple[float, float]], data: Path) -> None:
    """The event ends at the last recorded moment and has a clip over its window and a snapshot."""
    assert event.wall_end == pytest.approx(kill.recorded_until, abs=0.05), event
    assert event.wall_end - event.wall_start > EVENT_AGE - IN_FLIGHT, event
    assert event.end - event.start == pytest.approx(event.wall_end - event.wall_start, abs=0.05)
    assert event.clip is not None, event
    assert event.snapshot is not None, event
    start, end = clip_window(
        event.wall_start, event.wall_end, RECORD["pre_roll"], RECORD["post_roll"],
        RECORD["min_clip"], RECORD["max_clip"],
    )  # fmt: skip
    first_recorded = min(s for s, _ in spans)
    covered = min(end, kill.recorded_until) - max(start, first_recorded)
    with sealed_media(data) as media:
        # The clip decrypts and covers the event's window, as far as footage exists.
        assert probe_duration(event.clip, media) >= covered - 1.0, (event, covered)
        with media.open(event.snapshot) as file:
            assert file.read(3) == b"\xff\xd8\xff"  # a JPEG, decrypted


def test_kill_9_during_an_event_finishes_it_from_the_footage_and_records_the_downtime(
    rtsp_servers: Callable[..., RtspServer],
    people_then_quiet: SceneFile,
    launch: Launcher,
    tmp_path: Path,
) -> None:
    launch_line = (
        f"( filesrc location={people_then_quiet.path} ! qtdemux ! h264parse "
        "! rtph264pay name=pay0 pt=96 )"
    )
    camera = rtsp_servers(f"porch={launch_line}")
    config, data = run_config(
        tmp_path, record=RECORD, cameras={"porch": {"inputs": [{"path": camera.url("porch")}]}}
    )
    args = ["run", "--config", str(config)]
    kills: list[Kill] = []
    seen: set[str] = set()
    proc = launch(*args, name="run")
    for _ in range(TRIES):
        # Each start is a new client of the mount: the scene plays from its start again.
        kill = kill_during_an_event(proc, data, seen)
        kills.append(kill)
        proc = restart_and_recover(launch, args, data, kill)
    code, _ = proc.stop(timeout=60)
    assert code == 0, proc.stderr()[-3000:]

    cfg = load_config(config)
    spans = recorded_spans(data)
    gaps = gap_rows(data, "porch")
    with Store.open(cfg.database_url, data_dir=cfg.data_dir) as store:
        events = {kill.event_id: store.get_event(kill.event_id) for kill in kills}
    losses = [round(kill.lost, 2) for kill in kills]
    print(f"footage lost per kill -9: {losses} s")
    for kill in kills:
        event = events[kill.event_id]
        assert event is not None
        check_event(event, kill, spans, data)
        # Nothing finished before the kill was lost; at most the segment in flight was.
        assert kill.files_before <= segment_files(data, "porch")
        assert 0 <= kill.lost <= IN_FLIGHT, kill
        # The downtime, from the last recorded moment to the restart, is a gap.
        downtime = [g for g in gaps if g[0] == pytest.approx(kill.recorded_until, abs=0.05)]
        assert len(downtime) == 1, (gaps, kill)
        assert downtime[0][1] >= kill.restarted_at, (downtime, kill)
