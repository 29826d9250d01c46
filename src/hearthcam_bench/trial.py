"""One timed run of N simulated cameras through the real runtime (``app.build``), served at real
rate; shared by the ``cameras``, ``latency`` and ``alerts`` scenarios.

hearthcam's cameras record the 1080p main stream by copy and analyse the 640x360 sub-stream at
5 fps. The naive baseline records and decodes the 1080p main stream (scaled to 640x360 at 5 fps)
and runs the detector full-frame on every detect frame; motion, tracking, events, recording and
clips stay the real ones, so only the gating differs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hearthcam import app
from hearthcam import runtime as runtime_module
from hearthcam.config import AlertsConfig, CameraConfig, Config, InputConfig
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.runner import CameraPipeline
from hearthcam.types import BGRImage, Change, Detections, Event, MotionResult, Verdict
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import Meter, Usage
from hearthcam_bench.media import CYCLE_SECONDS, PEOPLE_SECONDS, CameraClip

FPS = 5.0
# A camera passes if it got this share of the detect frames real time owed it (the first
# fraction of a second goes to opening the files, more so with many cameras starting at once).
DELIVERED_MIN = 0.9
# Other processes using more than this (% of one core) during a trial make its figures suspect.
CONTENDED = 50.0


@dataclass(frozen=True)
class TrialSpec:
    """What to run: how many cameras, how long, and which system."""

    cameras: int
    seconds: float
    naive: bool = False
    queue_size: int | None = None  # an investigation: a longer frame queue than the runner's
    detector_threads: int | None = None  # an investigation: ONNX Runtime intra-op threads


@dataclass(frozen=True)
class Entrance:
    """One appearance of people on one camera, and what followed (seconds after it)."""

    camera: str
    created: float | None  # event STARTED
    threat: float | None  # the event first judged a threat
    clip: float | None  # clip ready, after event end + post-roll
    event_id: str | None = None  # the event it started
    appeared: float | None = None  # wall time of the first frame with the people


@dataclass
class TrialResult:
    """What a trial measured."""

    spec: TrialSpec
    usage: Usage
    frames_in: int
    frames_owed: int
    dropped: int
    queued_at_stop: int
    inferences: int
    worst_delivery: float
    events: int
    threats: int
    entrances: list[Entrance] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No detect frame dropped and every camera fed at real rate."""
        return self.dropped == 0 and self.worst_delivery >= DELIVERED_MIN

    @property
    def contended(self) -> bool:
        """Whether other processes took a large share of the machine meanwhile."""
        return self.usage.others_percent > CONTENDED


class FullFrameDetector:
    """The baseline's detector: every call is one full-frame inference, whatever the regions."""

    def __init__(self, inner: Detector) -> None:
        self._inner = inner
        self.inferences = 0

    def detect(self, image: BGRImage) -> Detections:
        """Full-frame detection."""
        self.inferences += 1
        return self._inner.detect(image)

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        """Full-frame detection (the boxes are ignored)."""
        return self.detect(image)


def detect_every_frame(pipeline: CameraPipeline) -> None:
    """Makes a pipeline ask the detector on every frame (the runner asks only where motion is).

    The runner has no switch for this, so the baseline replaces this one pipeline's region
    choice with a whole-frame box; everything else in the pipeline stays as it is.
    """
    if not callable(getattr(pipeline, "_regions", None)):
        raise RuntimeError("CameraPipeline._regions is gone: update bench/trial.py's baseline")
    whole = np.array([[0, 0, 1 << 15, 1 << 15]], dtype=np.int32)

    def regions(motion: MotionResult) -> NDArray[np.int32]:
        return whole

    vars(pipeline)["_regions"] = regions


class EventLog:
    """An EventListener that keeps every change with the wall time it was seen."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, Change, Event]] = []

    def __call__(self, change: Change, event: Event) -> None:
        """Records one change (called on the analysis threads; list.append is atomic)."""
        self.changes.append((time.time(), change, event))


def camera_config(clip: CameraClip, naive: bool) -> CameraConfig:
    """A simulated camera: main recorded, sub analysed; the baseline analyses the main."""
    if naive:
        return CameraConfig(inputs=[InputConfig(path=str(clip.main))])
    return CameraConfig(
        inputs=[
            InputConfig(path=str(clip.main), roles=["record"]),
            InputConfig(path=str(clip.sub), roles=["detect"]),
        ]
    )


def cycles_for(seconds: float) -> int:
    """Cycles of media a camera needs to stream for ``seconds`` without reaching the end."""
    return max(1, math.ceil((seconds + 5.0) / CYCLE_SECONDS))


def build_config(
    data_dir: Path, clips: list[CameraClip], naive: bool, alerts: AlertsConfig | None = None
) -> Config:
    """The config of a trial: one camera per clip, ``alerts`` if given, everything else default."""
    cameras = {f"cam{i:02d}": camera_config(c, naive) for i, c in enumerate(clips)}
    return Config(data_dir=data_dir, cameras=cameras, alerts=alerts or AlertsConfig())


def _clip_delay(
    runtime: runtime_module.Runtime, event: Event, log: EventLog, stop_wall: float
) -> float | None:
    """Seconds from the event's end + post-roll to its playable clip."""
    ended = [e for t, c, e in log.changes if c is Change.ENDED and e.id == event.id]
    ready = runtime.pipelines[event.camera].stats.clip_ready_at.get(event.id)
    if not ended or ready is None or ready > stop_wall:
        return None  # not ended, or its clip was only cut at shutdown
    return ready - (ended[-1].wall_end + runtime.config.record.post_roll)


def _entrance(
    runtime: runtime_module.Runtime, event: Event, people_at: float, log: EventLog, stop_wall: float
) -> Entrance:
    # For a file, frame wall = wall when the input opened + media time; the event's start
    # gives that opening time, and so the wall time of the frame where the people appear.
    appear = event.wall_start - event.start + people_at
    created = runtime.pipelines[event.camera].stats.event_created_at.get(event.id)
    threat = next(
        (t for t, _, e in log.changes if e.id == event.id and e.verdict is Verdict.THREAT),
        None,
    )
    return Entrance(
        event.camera,
        None if created is None else created - appear,
        None if threat is None or threat > stop_wall else threat - appear,
        _clip_delay(runtime, event, log, stop_wall),
        event.id,
        appear,
    )


def find_entrances(
    runtime: runtime_module.Runtime,
    clips: list[CameraClip],
    log: EventLog,
    stop_wall: float,
    seconds: float,
) -> list[Entrance]:
    """Every appearance of people a camera streamed, matched with the event it started."""
    started = [e for t, c, e in log.changes if c is Change.STARTED and t <= stop_wall]
    out = []
    for i, clip in enumerate(clips):
        name = f"cam{i:02d}"
        for people_at in clip.people:
            if people_at > seconds - 1.0:
                continue  # too close to the end of the trial to be judged
            match = next(
                (
                    e
                    for e in started
                    if e.camera == name and people_at - 1.0 <= e.start <= people_at + PEOPLE_SECONDS
                ),
                None,
            )
            if match is None:
                out.append(Entrance(name, None, None, None))
            else:
                out.append(_entrance(runtime, match, people_at, log, stop_wall))
    return out


def _stream_for(seconds: float, meter: Meter, tick: Callable[[float], None] | None) -> Usage:
    meter.start()
    started = time.perf_counter()
    while (left := started + seconds - time.perf_counter()) > 0:
        time.sleep(min(1.0, left))
        meter.lap()
        if tick is not None:
            tick(min(1.0, (time.perf_counter() - started) / seconds))
    return meter.stop()


def _prepare(runtime: runtime_module.Runtime, spec: TrialSpec) -> None:
    for pipeline in runtime.pipelines.values():
        if spec.naive:
            detect_every_frame(pipeline)
        if spec.queue_size is not None:
            # queue.Queue reads maxsize on every put, so a longer queue takes effect at once.
            vars(pipeline)["_frames"].maxsize = spec.queue_size


def _result(
    runtime: runtime_module.Runtime, spec: TrialSpec, usage: Usage, inferences: int, log: EventLog
) -> TrialResult:
    stats = [p.stats for p in runtime.pipelines.values()]
    # Real time owes a camera the frame at 0 s and one per 1/FPS after, until the stop.
    owed = math.floor(usage.wall * FPS) + 1
    seen = {e.id: e for _, _, e in log.changes}
    threats = {e.id for _, _, e in log.changes if e.verdict is Verdict.THREAT}
    return TrialResult(
        spec=spec,
        usage=usage,
        frames_in=sum(s.frames_in for s in stats),
        frames_owed=owed * len(stats),
        dropped=sum(s.frames_dropped for s in stats),
        queued_at_stop=max(s.frames_in - s.frames_analysed - s.frames_dropped for s in stats),
        inferences=inferences,
        worst_delivery=min(s.frames_in for s in stats) / owed,
        events=len(seen),
        threats=len(threats),
        errors=[m for s in stats for m in s.errors],
    )


def run_trial(
    ctx: BenchContext,
    spec: TrialSpec,
    tick: Callable[[float], None] | None = None,
    alerts: AlertsConfig | None = None,
) -> TrialResult:
    """Streams ``spec.cameras`` simulated cameras at real rate for ``spec.seconds`` (alerts go
    to the channels ``alerts`` configures; none by default)."""
    clips = [ctx.media.camera(i, cycles_for(spec.seconds)) for i in range(spec.cameras)]
    kind = "naive" if spec.naive else "hearthcam"
    config = build_config(ctx.workdir(f"{kind}-{spec.cameras}"), clips, spec.naive, alerts)
    shared = ctx.detector(spec.detector_threads)
    detector: Detector = FullFrameDetector(shared) if spec.naive else shared
    log = EventLog()
    runtime = app.build(config, listeners=[log], realtime=True, detector=detector)
    _prepare(runtime, spec)
    before = shared.inferences
    ctx.settle()
    runtime.start()
    try:
        usage = _stream_for(spec.seconds, Meter(), tick)
        stop_wall = time.time()
        # Counted at the stop, before shutdown drains the queues and ends open events.
        result = _result(runtime, spec, usage, shared.inferences - before, log)
    finally:
        runtime.close()
    result.entrances = find_entrances(runtime, clips, log, stop_wall, spec.seconds)
    runtime.store.close()
    return result
