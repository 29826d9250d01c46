"""Composition root: builds the store, detector and camera pipelines from config; owns start/stop.

Nothing else constructs long-lived parts. ``analyze`` runs the live path over one file at full
speed; ``Live`` runs every configured camera until stopped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from hearthcam.alerts.rules import AlertDecider
from hearthcam.config import CameraConfig, Config, InputConfig
from hearthcam.pipeline.detect import Detector, load_detector
from hearthcam.pipeline.events import Change
from hearthcam.pipeline.runner import CameraPipeline, EventListener, PipelineParts
from hearthcam.pipeline.source import CameraStream, SystemClock, probe
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.store.db import Store
from hearthcam.store.recovery import recover
from hearthcam.store.retention import DiskFree, RetentionPolicy, disk_free_bytes, sweep
from hearthcam.types import Event

log = logging.getLogger(__name__)


def open_store(config: Config) -> Store:
    """Creates the data directory and opens (and recovers) the store."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(config.database_url)
    report = recover(store, config.data_dir)
    log.info("recovery: %s", report)
    return store


def camera_name_for(path: str) -> str:
    """A valid camera name derived from a file path or URL."""
    stem = Path(path).stem or "camera"
    return re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:64] or "camera"


def camera_inputs(camera: CameraConfig) -> tuple[str | None, str]:
    """The record URL (None when nothing records) and the detect URL of a camera."""
    record = next((i.path for i in camera.inputs if "record" in i.roles), None)
    detect = next(i.path for i in camera.inputs if "detect" in i.roles)
    return record, detect


def with_cameras(config: Config, cameras: dict[str, str]) -> Config:
    """The config with cameras from NAME=URL pairs (each both record and detect) added/replaced."""
    merged = dict(config.cameras)
    for name, url in cameras.items():
        base = merged.get(name)
        inputs = [InputConfig(path=url)]
        merged[name] = (
            base.model_copy(update={"inputs": inputs}) if base else CameraConfig(inputs=inputs)
        )
    return config.model_copy(update={"cameras": merged})


@dataclass
class Runtime:
    """Everything a running hearthcam holds; built by ``build``, stopped by ``close``."""

    config: Config
    store: Store
    detector: Detector
    pipelines: dict[str, CameraPipeline]
    streams: dict[str, CameraStream]
    clip_pool: ThreadPoolExecutor
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Starts one I/O thread per camera."""
        for name, stream in self.streams.items():
            thread = threading.Thread(target=stream.run, args=(self.stop,), name=f"src-{name}")
            thread.start()
            self.threads.append(thread)

    def close(self) -> None:
        """Stops sources, flushes open events and segments, waits for clips."""
        self.stop.set()
        for thread in self.threads:
            thread.join()
        for pipeline in self.pipelines.values():
            pipeline.finish()
        self.clip_pool.shutdown(wait=True)


def build(
    config: Config,
    listeners: Sequence[EventListener] = (),
    lossless: bool = False,
    realtime: bool = True,
    detector: Detector | None = None,
) -> Runtime:
    """Builds the runtime for every enabled camera of the config."""
    store = open_store(config)
    detector = detector or load_detector(config.detector)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clips")
    parts = PipelineParts(
        config=config,
        detector=detector,
        store=store,
        verdict=RuleVerdict(),
        decider=AlertDecider(config.alerts),
        clip_pool=pool,
        listeners=listeners,
    )
    pipelines: dict[str, CameraPipeline] = {}
    streams: dict[str, CameraStream] = {}
    for name, camera in config.cameras.items():
        if not camera.enabled:
            continue
        pipeline = CameraPipeline(name, camera, parts, lossless=lossless)
        record, detect = camera_inputs(camera)
        pipelines[name] = pipeline
        streams[name] = CameraStream(
            name,
            record,
            detect,
            camera.detect,
            config.source,
            pipeline,
            SystemClock(),
            realtime=realtime,
        )
    return Runtime(config, store, detector, pipelines, streams, pool)


def analyze(
    path: str,
    config: Config,
    progress: Callable[[float], None] | None = None,
    detector: Detector | None = None,
) -> list[Event]:
    """Runs the whole live path over a video file at full speed; returns its finished events."""
    info = probe(path, config.source)
    template = next(iter(config.cameras.values()), None)
    name = next(iter(config.cameras), None) or camera_name_for(path)
    camera = (template or CameraConfig(inputs=[InputConfig(path=path)])).model_copy(
        update={"inputs": [InputConfig(path=path)]}
    )
    config = config.model_copy(update={"cameras": {name: camera}})
    finished: dict[str, Event] = {}

    def collect(change: Change, event: Event) -> None:
        if change is Change.ENDED or event.id in finished:
            finished[event.id] = event

    runtime = build(config, [collect], lossless=True, realtime=False, detector=detector)
    stream, pipeline = runtime.streams[name], runtime.pipelines[name]
    reader = threading.Thread(target=stream.run, args=(runtime.stop,), name=f"src-{name}")
    reader.start()
    while reader.is_alive():
        reader.join(0.1)
        if progress is not None and info.duration:
            progress(min(1.0, pipeline.last_pts / info.duration))
    runtime.close()
    if progress is not None:
        progress(1.0)
    errors = pipeline.stats.errors
    if errors:
        log.warning("%s: %d problems while reading, first: %s", name, len(errors), errors[0])
    events = [runtime.store.get_event(i) or e for i, e in finished.items()]
    return sorted(events, key=lambda e: e.start)


def run_retention(runtime: Runtime, interval: float, disk_free: DiskFree = disk_free_bytes) -> None:
    """Sweeps retention every ``interval`` seconds until the runtime stops."""
    policy = RetentionPolicy(runtime.config.retention)
    while not runtime.stop.wait(interval):
        try:
            report = sweep(
                runtime.store, runtime.config.data_dir, time.time(), disk_free, policy=policy
            )
            log.info("retention: %s", report)
        except Exception:  # the sweep retries next interval; recording must go on
            log.exception("retention sweep failed")
