"""A real camera recorded onto a real small disk until it is full, with and without a floor.

The runtime over the RTSP server fixture, its data directory on a tmpfs: retention degrades in
its stated order and never crashes, the newest minutes and what events need are kept, recording
goes on after space is freed, writes the disk refused are reported once (no tracebacks), and the
owner-facing status says the disk is full.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hearthcam import app
from hearthcam.config import parse_config
from hearthcam.layout import parse_segment_path
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.runtime import Runtime
from tests.conftest import RtspServer
from tests.support.small_disk import leave_free, small_disk

KEEP_RECENT_S = 6.0  # keep_recent_minutes = 0.1
CLIP_FAILED = re.compile(r"failed: no recording covers (?P<start>[\d.]+)\.\.(?P<end>[\d.]+)$")


def build(data: Path, url: str, floor_mb: float) -> Runtime:
    """The runtime of one camera at ``url``: 1 s segments, short events and clips, a sweep
    every half second, the newest 6 s kept."""
    config = parse_config(
        {
            "data_dir": str(data),
            "record": {"segment_seconds": 1, "pre_roll": 0, "post_roll": 0, "min_clip": 1},
            "events": {"motion_min_seconds": 1, "max_seconds": 10},
            "retention": {
                "min_free_mb": floor_mb,
                "interval": 0.5,
                "keep_recent_minutes": KEEP_RECENT_S / 60,
            },
            "cameras": {"cam": {"inputs": [{"path": url}]}},
        }
    )
    return app.build(config, detector=ScriptedDetector([]), alerts=False)


class Footage:
    """Polls the camera's segment files: when each was first seen and when it vanished."""

    def __init__(self, data: Path) -> None:
        self.recordings = data / "recordings"
        self.seen: dict[Path, float] = {}
        self.gone: dict[Path, float] = {}

    def poll(self) -> None:
        now = time.time()
        on_disk = set(self.recordings.rglob("*.mp4"))
        for path in on_disk - self.seen.keys():
            self.seen[path] = now
        for path in self.seen.keys() - on_disk - self.gone.keys():
            self.gone[path] = now

    def start(self, path: Path) -> float:
        return parse_segment_path(self.recordings, path)[1]

    def recorded_after(self, wall: float) -> int:
        """Segments that began after ``wall``."""
        return sum(1 for p in self.seen if self.start(p) > wall)


def run_until(
    runtime: Runtime, footage: Footage, done: Callable[[], bool], what: str, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        footage.poll()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def check_no_traceback_and_nothing_needed_went(
    caplog: pytest.LogCaptureFixture, footage: Footage
) -> None:
    records = caplog.records
    assert not [r for r in records if r.exc_info or r.levelno >= logging.ERROR], "a traceback"
    # An event whose footage went before its clip was cut would say so here; a clip may fail
    # only for a window the full disk refused all footage of (no segment file began in it).
    for record in records:
        if "clip for event" not in record.getMessage():
            continue
        failed = CLIP_FAILED.search(record.getMessage())
        assert failed is not None, record.getMessage()
        start, end = float(failed["start"]), float(failed["end"])
        inside = sorted(s for s in map(footage.start, footage.seen) if start <= s < end)
        assert not inside, (record.getMessage(), inside, sorted(map(footage.start, footage.gone)))
    # Never the newest minutes: each deleted segment began well before it went.
    for path, gone_at in footage.gone.items():
        assert footage.start(path) < gone_at - KEEP_RECENT_S, f"{path} went too soon"


@pytest.mark.integration
def test_a_floor_larger_than_the_disk_keeps_the_newest_footage_and_clips_and_says_disk_full(
    rtsp_server: RtspServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: with the floor unreachable, retention deleted the newest (protected) segments,
    # so new events got no clip.
    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk", 16 * 1024) as disk:
        runtime = build(disk / "data", rtsp_server.url(), floor_mb=100)
        footage = Footage(disk / "data")
        storage = runtime.storage
        assert storage is not None
        clipped: set[str] = set()  # events seen with their clip (older ones' go, motion first)

        def going_on() -> bool:
            clipped.update(e.id for e in runtime.store.events() if e.clip is not None)
            if len(footage.gone) < 5 or len(clipped) < 2:
                return False
            return footage.recorded_after(min(footage.gone.values())) >= 5

        runtime.start()
        try:
            run_until(
                runtime, footage, going_on, "old footage deleted, recording on, events clipped"
            )
            status = storage.status()
        finally:
            runtime.close()
        try:
            footage.poll()
            assert status.disk_full
            assert status.problem is not None
            assert status.problem.startswith("disk full: ")
            assert status.last_sweep is not None
            assert status.last_sweep.below_floor
            check_no_traceback_and_nothing_needed_went(caplog, footage)
            # The newest footage is all there.
            newest = max(footage.seen, key=footage.start)
            assert newest.exists()
        finally:
            runtime.store.close()


@pytest.mark.integration
@pytest.mark.parametrize("room", [200 * 1024, 20 * 1024], ids=["some-room", "no-room"])
def test_with_no_floor_a_full_disk_is_reported_once_freed_and_recording_goes_on(
    rtsp_server: RtspServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, room: int
) -> None:
    # Before: the writes the full disk refused came back as tracebacks from the camera's
    # threads, and nothing freed space (no floor), so recording stopped for good. Then (no
    # room: the disk fills before the open event's clip could be cut, its row's "finished"
    # write refused) the event's clip waited for a recording the full disk refused, and its
    # row stayed open: retention kept everything after it and recording stopped for good.
    caplog.set_level(logging.INFO)
    with small_disk(tmp_path / "disk", 16 * 1024) as disk:
        runtime = build(disk / "data", rtsp_server.url(), floor_mb=0)
        footage = Footage(disk / "data")
        storage = runtime.storage
        assert storage is not None
        runtime.start()
        try:
            run_until(runtime, footage, lambda: len(footage.seen) >= 3, "recording to start")
            leave_free(disk, room)  # the rest of the disk fills within seconds

            def failed_at() -> float:
                failure = storage.status().last_write_failure
                return float("inf") if failure is None else failure.at

            run_until(runtime, footage, lambda: failed_at() < float("inf"), "the disk to fill")
            first_failure = failed_at()
            health = runtime.health("cam")
            assert health is not None
            run_until(
                runtime,
                footage,
                lambda: footage.recorded_after(first_failure + 1) >= 4,
                "recording to go on after retention freed space",
            )
            health = runtime.health("cam")
            status = storage.status()
        finally:
            runtime.close()
        try:
            footage.poll()
            assert health is not None
            assert health.last_error is not None
            assert health.last_error.startswith("disk full: cam")
            assert status.last_write_failure is not None
            assert status.last_write_failure.message.startswith("disk full: cam")
            assert status.last_sweep is not None
            assert footage.gone  # retention freed space (no floor: after the refused write)
            check_no_traceback_and_nothing_needed_went(caplog, footage)
            told = [r for r in caplog.records if r.getMessage().startswith("disk full: cam")]
            assert 1 <= len(told) <= 3  # reported once per run of repeats, not per write
        finally:
            runtime.store.close()
