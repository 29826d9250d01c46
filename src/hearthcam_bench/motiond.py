"""Scenario ``motiond``: motion-only CPU, hearthcam vs Debian's ``motion`` daemon, same clip.

Both read the 640x360 5 fps sub-stream of a simulated camera (people 3 s in every 30 s) at real
rate for 30 s (10 s in quick mode) after a 3 s warm-up. ``motion`` reads the file itself
(``netcam_url file://``, paced by ``netcam_params capture_rate=5``) with a temp config: no
daemon, no pictures or movies, web control and stream off, log in the temp dir. hearthcam runs
its real source (``CameraStream``, realtime) into a sink that only runs ``MotionDetector``:
decode, scale, motion, no detector, no recording. Each is measured alone with psutil.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import psutil

from hearthcam.config import DetectConfig, MotionConfig, SourceConfig
from hearthcam.pipeline.motion import MotionDetector
from hearthcam.pipeline.source import CameraStream, StreamInfo, SystemClock
from hearthcam.types import Frame
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import Meter, Usage, measure_for
from hearthcam_bench.media import CameraClip
from hearthcam_bench.report import Report
from hearthcam_bench.trial import cycles_for

MOTION = "/usr/bin/motion"
WARMUP = 3.0
FPS = 5


class MotionOnly:
    """A StreamSink that runs motion detection on every detect frame and nothing else."""

    def __init__(self, cfg: MotionConfig) -> None:
        self._cfg = cfg
        self._motion: MotionDetector | None = None
        self.frames = 0
        self.moving = 0

    def on_connected(self, info: StreamInfo) -> None:
        """Nothing to do."""

    def on_packet(self, packet: object, stream: object, wall: float) -> None:
        """Never called: the stream has no record input."""

    def on_frame(self, frame: Frame) -> None:
        """Runs motion detection on one frame."""
        if self._motion is None:
            self._motion = MotionDetector(self._cfg, frame.width, frame.height)
        self.frames += 1
        self.moving += int(self._motion.detect(frame.image).moving)

    def on_disconnected(self, last_wall: float, reason: str) -> None:
        """Nothing to do."""

    def on_gap(self, start_wall: float, end_wall: float, reason: str) -> None:
        """Nothing to do."""

    def on_error(self, message: str) -> None:
        """Nothing to do."""


def measure_hearthcam(clip: CameraClip, seconds: float) -> tuple[Usage, str]:
    """hearthcam's decode + motion on the sub-stream at real rate."""
    sink = MotionOnly(MotionConfig())
    detect = DetectConfig(fps=FPS)
    stream = CameraStream(
        "motiond", None, str(clip.sub), detect, SourceConfig(), sink, SystemClock(), realtime=True
    )
    stop = threading.Event()
    reader = threading.Thread(target=stream.run, args=(stop,), name="src-motiond")
    reader.start()
    try:
        time.sleep(WARMUP)
        before = sink.frames, sink.moving
        usage = measure_for(seconds, Meter())
        counted = f"{sink.frames - before[0]} frames, {sink.moving - before[1]} with motion"
    finally:
        stop.set()
        reader.join()
    return usage, counted


def motion_config(workdir: Path, clip: CameraClip) -> Path:
    """A temp config for Debian's motion: read the clip, detect motion, write nothing else."""
    events = workdir / "events.txt"
    lines = [
        "daemon off",
        "setup_mode off",
        f"log_file {workdir / 'motion.log'}",
        "log_level 6",
        f"target_dir {workdir / 'out'}",
        f"netcam_url file://{clip.sub}",
        f"netcam_params capture_rate={FPS}",
        "width 640",
        "height 360",
        f"framerate {FPS}",
        "picture_output off",
        "movie_output off",
        "webcontrol_port 0",
        "stream_port 0",
        f"on_event_start echo start >> {events}",
    ]
    path = workdir / "motion.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _log_tail(workdir: Path, lines: int = 3) -> str:
    log = workdir / "motion.log"
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    return " / ".join(text[-lines:]) or "no log written"


def measure_motion(workdir: Path, clip: CameraClip, seconds: float) -> tuple[Usage | None, str]:
    """Debian motion's CPU on the clip, or None and the reason it could not be measured."""
    if shutil.which(MOTION) is None:
        return None, f"{MOTION} is not installed (scripts/setup.sh installs Debian's motion)"
    config = motion_config(workdir, clip)
    process = subprocess.Popen(
        [MOTION, "-n", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(WARMUP)
        if process.poll() is not None:
            return None, f"motion exited ({process.returncode}) at start: {_log_tail(workdir)}"
        usage = measure_for(seconds, Meter(psutil.Process(process.pid)))
        if process.poll() is not None:
            return None, f"motion exited ({process.returncode}) while measured"
    finally:
        _stop(process)
    log = (workdir / "motion.log").read_text(errors="replace")
    if "connected" not in log:
        return None, f"motion never opened the clip: {_log_tail(workdir)}"
    events = workdir / "events.txt"
    started = events.read_text().count("start") if events.exists() else 0
    return usage, f"{started} motion events started (whole run incl. warm-up)"


def run(ctx: BenchContext) -> list[Report]:
    """Measures motion, then hearthcam, on the same clip; one table."""
    seconds = ctx.seconds(30.0, 10.0)
    # Camera 5's people come 8 s in: inside the measured stretch in both modes.
    clip = ctx.media.camera(5, cycles_for(seconds + WARMUP))
    # No live progress display here: its refreshes would be part of hearthcam's figure.
    each = WARMUP + seconds
    ctx.console.print(
        f"motiond: Debian motion for {each:.0f} s, then hearthcam for {each:.0f} s",
        highlight=False,
    )
    ctx.settle()
    theirs, their_note = measure_motion(ctx.workdir("motiond"), clip, seconds)
    ctx.settle()
    ours, our_note = measure_hearthcam(clip, seconds)
    table = Report(
        f"motiond: motion-only CPU, same 640x360 {FPS} fps clip, {seconds:.0f} s at real rate",
        [
            "system",
            "CPU (% of one core)",
            "median of 1-s samples",
            "others",
            "vs motion",
            "counted",
        ],
    )
    if theirs is None:
        table.add("motion 4.5 (Debian)", "not measured", "", "", "", their_note)
    else:
        table.add(
            "motion 4.5 (Debian)",
            fmt.pct(theirs.cpu_percent, 2),
            fmt.pct(theirs.median_percent, 2),
            fmt.pct(theirs.others_percent, 0),
            "1.00x",
            their_note,
        )
    vs = fmt.ratio(ours.cpu / theirs.cpu) if theirs is not None and theirs.cpu > 0 else "-"
    table.add(
        "hearthcam decode + MotionDetector",
        fmt.pct(ours.cpu_percent, 2),
        fmt.pct(ours.median_percent, 2),
        fmt.pct(ours.others_percent, 0),
        vs,
        our_note,
    )
    table.notes.append(
        "motion analyses every pixel of the 640x360 frame; hearthcam scales it to 320 wide "
        "first. 'vs motion' is hearthcam's CPU over motion's (below 1 is cheaper)."
    )
    return [table]
