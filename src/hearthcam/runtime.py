"""The supervisor of a running hearthcam: starts and stops camera pipelines one at a time, runs
the retention sweeper and the model watcher, and closes everything in order."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hearthcam.alerts.notify import AlertDispatcher
from hearthcam.config import CameraConfig, Config, InputConfig
from hearthcam.lock import DataDirLock
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.runner import CameraPipeline, PipelineParts
from hearthcam.pipeline.source import CameraStream
from hearthcam.recordings.retention import DiskFree, disk_free_bytes, sweep
from hearthcam.served_model import ModelWatcher
from hearthcam.store.db import Store
from hearthcam.vault.media import MediaIO, PlainMedia

if TYPE_CHECKING:
    pass

from hearthcam.accounts.choices import HouseholdChoices
from hearthcam.pipeline.source import SystemClock
from hearthcam.store.settings import SettingsStore, camera_geometry

log = logging.getLogger(__name__)


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


class CurrentCameras(Mapping[str, CameraConfig]):
    """The cameras a runtime runs now (the config's and the app's), read at each use.

    Writers replace the whole dict, so a reader iterating it never sees it change underneath.
    """

    def __init__(self, cameras: Mapping[str, CameraConfig] = {}) -> None:
        self._now: dict[str, CameraConfig] = dict(cameras)

    def __getitem__(self, name: str) -> CameraConfig:
        return self._now[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._now)

    def __len__(self) -> int:
        return len(self._now)

    def put(self, name: str, camera: CameraConfig) -> None:
        """Sets one camera."""
        self._now = {**self._now, name: camera}

    def drop(self, name: str) -> None:
        """Forgets one camera."""
        self._now = {k: v for k, v in self._now.items() if k != name}


@dataclass
class Runtime:
    """Everything a running hearthcam holds; built by ``build``, stopped by ``close``.

    Cameras can be started, replaced and stopped one at a time while the others keep running
    (``start_camera`` / ``stop_camera``: an owner added or edited one in the app); ``cameras``
    is what runs now, the config's merged with the app's.
    """

    config: Config
    store: Store
    detector: Detector
    pipelines: dict[str, CameraPipeline]
    streams: dict[str, CameraStream]
    clip_pool: ThreadPoolExecutor
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    disk_free: DiskFree = disk_free_bytes
    dispatcher: AlertDispatcher | None = None
    parts: PipelineParts | None = None  # what ``start_camera`` builds new pipelines from
    realtime: bool = True
    cameras: CurrentCameras = field(default_factory=CurrentCameras)
    media: MediaIO = field(default_factory=PlainMedia)
    # Keeps the live verdict on the registry's served model (started with the cameras).
    models: ModelWatcher | None = None
    # The data directory's lock when ``build`` took it (released last by ``close``); None when
    # the caller holds it (``run``: its control socket outlives the cameras).
    data_lock: DataDirLock | None = None
    _camera_stops: dict[str, threading.Event] = field(default_factory=dict)
    _camera_threads: dict[str, threading.Thread] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def start(self, retention: bool = True) -> None:
        """Starts one supervised I/O thread per camera, the retention sweeper and the model
        watcher (promotes and rollbacks from another process; queued retrains)."""
        with self._lock:
            for name in list(self.streams):
                self._launch(name)
        if self.models is not None:
            watcher = threading.Thread(
                target=self.models.run_forever, args=(self.stop,), name="models"
            )
            watcher.start()
            self.threads.append(watcher)
        if retention:
            sweeper = threading.Thread(target=self._sweep_loop, name="retention")
            sweeper.start()
            self.threads.append(sweeper)

    def _launch(self, name: str) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=self._supervise, args=(name, stop), name=f"src-{name}")
        self._camera_stops[name], self._camera_threads[name] = stop, thread
        thread.start()

    def start_camera(self, name: str, camera: CameraConfig) -> None:
        """Runs ``camera`` as ``name`` now, replacing (stopping, flushing) the one running as
        ``name``; a disabled camera only stops. The others are not touched."""
        if self.parts is None:
            raise RuntimeError("this runtime was not built to start cameras")
        with self._lock:
            self.stop_camera(name)
            self.cameras.put(name, camera)
            if not camera.enabled or self.stop.is_set():
                return
            pipeline, stream = camera_parts(name, camera, self.parts, self.realtime)
            self.pipelines[name], self.streams[name] = pipeline, stream
            self._launch(name)
        log.info("%s: started", name)

    def stop_camera(self, name: str, forget: bool = False) -> None:
        """Stops one camera: its reading ends, its open event and segment are flushed."""
        with self._lock:
            stop, thread = self._camera_stops.pop(name, None), self._camera_threads.pop(name, None)
            pipeline = self.pipelines.pop(name, None)
            self.streams.pop(name, None)
            if forget:
                self.cameras.drop(name)
        if stop is not None and thread is not None:
            stop.set()
            thread.join()
        if pipeline is not None:
            pipeline.finish()
            log.info("%s: stopped", name)

    def _supervise(self, name: str, own_stop: threading.Event) -> None:
        # A bug that escapes a camera's loop must not silently end its recording: log it and
        # start the camera again after a pause; the other cameras never notice.
        # Each camera has its own stop event (``close`` sets them all), so one can be stopped alone.
        stream, pipeline = self.streams[name], self.pipelines[name]
        stop = own_stop
        delay = 1.0
        while not stop.is_set():
            try:
                stream.run(stop)
                return
            except Exception:
                log.exception("%s: camera loop crashed; restarting in %.0f s", name, delay)
                pipeline.on_error(f"{name}: camera loop crashed")
                if stop.wait(delay):
                    return
                delay = min(delay * 2, 60.0)

    def _sweep_loop(self) -> None:
        choices = HouseholdChoices(self.store, self.config, self.cameras)
        while not self.stop.wait(self.config.retention.interval):
            try:
                policy = choices.retention()  # each pass: an owner may have changed the hours
                report = sweep(
                    self.store,
                    self.config.data_dir,
                    time.time(),
                    self.disk_free,
                    policy=policy,
                    media=self.media,
                )
                log.info("retention: %s", report)
            except Exception:  # the sweep retries next interval; recording must go on
                log.exception("retention sweep failed")

    def cut_pending_clips(self, _household_id: int | None = None) -> None:
        """Cuts, on the clip pool, the clips that waited for a locked household (each camera
        cuts its own; clips still locked stay pending)."""
        with self._lock:
            pipelines = list(self.pipelines.values())
        for pipeline in pipelines:
            self.clip_pool.submit(pipeline.cut_pending)

    def close(self) -> None:
        """Stops sources and the sweeper, flushes open events and segments, waits for clips."""
        self.stop.set()
        with self._lock:
            for event in self._camera_stops.values():
                event.set()
            threads = [*self._camera_threads.values(), *self.threads]
        for thread in threads:
            thread.join()
        for pipeline in list(self.pipelines.values()):
            pipeline.finish()
        self.clip_pool.shutdown(wait=True)
        if self.dispatcher is not None:
            # Last, so the alerts and clip-ready follow-ups of the final events still go out.
            self.dispatcher.close()
        if self.data_lock is not None:
            self.data_lock.release()


def camera_parts(
    name: str,
    configured: CameraConfig,
    parts: PipelineParts,
    realtime: bool,
    lossless: bool = False,
) -> tuple[CameraPipeline, CameraStream]:
    """The pipeline and stream of one camera, with the masks and zones an owner drew."""
    drawn = camera_geometry(SettingsStore(parts.store), name)
    camera = configured if drawn is None else drawn.applied(configured)
    pipeline = CameraPipeline(name, camera, parts, lossless=lossless)
    record, detect = camera_inputs(camera)
    stream = CameraStream(
        name, record, detect, camera.detect, parts.config.source, pipeline, SystemClock(), realtime
    )
    return pipeline, stream
