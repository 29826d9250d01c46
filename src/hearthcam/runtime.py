"""The supervisor of a running hearthcam: starts and stops camera pipelines one at a time, runs
the retention sweeper and the model watcher, and closes everything in order."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from hearthcam.accounts.choices import HouseholdChoices
from hearthcam.alerts.checkpoints import CheckpointSchedule
from hearthcam.alerts.decision import AlertDecisions
from hearthcam.alerts.notify import AlertDispatcher
from hearthcam.camera_registry import CameraRegistry
from hearthcam.config import CameraConfig, Config, InputConfig
from hearthcam.errors import is_disk_full
from hearthcam.exports import Exporter
from hearthcam.live import LiveSource
from hearthcam.lock import DataDirLock
from hearthcam.pipeline.camera import camera_parts, run_camera
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.health import CameraHealth
from hearthcam.pipeline.load import CameraLoad
from hearthcam.pipeline.runner import CameraPipeline, PipelineParts, cut_locked_clips
from hearthcam.pipeline.source import CameraStream
from hearthcam.recordings.retention import (
    DiskFree,
    RetentionPolicy,
    WaitingClip,
    disk_free_bytes,
    sweep,
)
from hearthcam.recordings.storage import StorageWatch
from hearthcam.served_model import ModelWatcher
from hearthcam.store.db import Store
from hearthcam.store.pending_clips import PendingClips
from hearthcam.vault.media import MediaIO, PlainMedia

log = logging.getLogger(__name__)


def camera_name_for(path: str) -> str:
    """A valid camera name derived from a file path or URL."""
    stem = Path(path).stem or "camera"
    return re.sub(r"[^A-Za-z0-9_-]", "_", stem)[:64] or "camera"


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


class RemoteCameras(Protocol):
    """Cameras that run elsewhere (``cluster.cameras``: Ray actors on the cluster's nodes,
    ``hearthcam.cluster.cameras.RayCameras``), started and stopped by the runtime."""

    def start(self, name: str, camera: CameraConfig) -> None:
        """Runs ``camera`` as ``name`` (replacing the one running as ``name``)."""
        ...

    def stop(self, name: str) -> None:
        """Stops one camera after it flushed its open event and segment."""
        ...

    def set_geometry(self, name: str, camera: CameraConfig) -> None: ...

    def cut_pending(self) -> None: ...

    def health(self, name: str) -> CameraHealth | None: ...

    def load(self, name: str) -> CameraLoad | None: ...

    def needed_from(self) -> float | None: ...

    def waiting_for_space(self) -> list[WaitingClip]: ...

    def give_up(self, clip: WaitingClip) -> bool: ...

    @property
    def live(self) -> Mapping[str, LiveSource]:
        """The running cameras' live views, relayed (camera -> view)."""
        ...

    def run_forever(self, stop: threading.Event) -> None:
        """Relays the cameras' event changes to the runtime's listeners, and their live views
        to the web app's viewers, until ``stop``."""
        ...

    def close(self) -> None:
        """Stops every camera."""
        ...


@dataclass
class Runtime:
    """Everything a running hearthcam holds; built by ``build``, stopped by ``close``.

    Cameras can be started, replaced and stopped one at a time while the others keep running:
    the runtime listens to ``cameras`` (the registry of the config's and the app's cameras), so
    an owner adding, editing or removing one in the app starts, restarts or stops just that one.
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
    # The alert decision, a listener of every pipeline that passes changes on to ``dispatcher``.
    decisions: AlertDecisions | None = None
    parts: PipelineParts | None = None  # what ``start_camera`` builds new pipelines from
    realtime: bool = True
    cameras: CameraRegistry = field(default_factory=lambda: CameraRegistry(Config()))
    media: MediaIO = field(default_factory=PlainMedia)
    # Keeps the live verdict on the registry's served model (started with the cameras).
    models: ModelWatcher | None = None
    # The data directory's lock when ``build`` took it (released last by ``close``); None when
    # the caller holds it (``run``: its control socket outlives the cameras).
    data_lock: DataDirLock | None = None
    # The storage condition: pipelines tell it of writes the disk refused (which wakes the
    # sweeper), the sweeper of each pass, the web app shows it. None: one of the config's.
    storage: StorageWatch | None = None
    # Export jobs (its worker renders them and deletes expired ones; started with the cameras).
    exporter: Exporter | None = None
    # Sends the view log's signed checkpoints over the alert channels (None: audit off).
    checkpoints: CheckpointSchedule | None = None
    # Cameras run on a cluster instead of in this process (``pipelines`` and ``streams`` stay
    # empty then: their live views come through ``remote.live``).
    remote: RemoteCameras | None = None
    _camera_stops: dict[str, threading.Event] = field(default_factory=dict)
    _camera_threads: dict[str, threading.Thread] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        if self.storage is None:
            self.storage = StorageWatch.of(self.config.retention)

    def start(self, retention: bool = True) -> None:
        """Starts one supervised I/O thread per camera, the retention sweeper, the model
        watcher (promotes and rollbacks from another process; queued retrains) and the view log
        checkpoint sender."""
        with self._lock:
            for name in list(self.streams):
                self._launch(name)
        if self.remote is not None:
            for name, camera in self.cameras.items():
                if camera.enabled:
                    self.remote.start(name, camera)
            relay = threading.Thread(
                target=self.remote.run_forever, args=(self.stop,), name="cluster-cameras"
            )
            relay.start()
            self.threads.append(relay)
        if self.models is not None:
            watcher = threading.Thread(
                target=self.models.run_forever, args=(self.stop,), name="models"
            )
            watcher.start()
            self.threads.append(watcher)
        if self.exporter is not None:
            self.exporter.start()
        if self.checkpoints is not None:
            sender = threading.Thread(
                target=self.checkpoints.run_forever, args=(self.stop,), name="checkpoints"
            )
            sender.start()
            self.threads.append(sender)
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
        if self.remote is not None:
            if camera.enabled and not self.stop.is_set():
                self.remote.start(name, camera)
            else:
                self.remote.stop(name)
            return
        if self.parts is None:
            raise RuntimeError("this runtime was not built to start cameras")
        with self._lock:
            self.stop_camera(name)
            if not camera.enabled or self.stop.is_set():
                return
            pipeline, stream = camera_parts(name, camera, self.parts, self.realtime)
            self.pipelines[name], self.streams[name] = pipeline, stream
            self._launch(name)
        log.info("%s: started", name)

    def stop_camera(self, name: str) -> None:
        """Stops one camera: its reading ends, its open event and segment are flushed."""
        if self.remote is not None:
            self.remote.stop(name)
            return
        with self._lock:
            stop, thread = self._camera_stops.pop(name, None), self._camera_threads.pop(name, None)
            pipeline = self.pipelines.pop(name, None)
            self.streams.pop(name, None)
        if stop is not None and thread is not None:
            stop.set()
            thread.join()
        if pipeline is not None:
            pipeline.finish()
            log.info("%s: stopped", name)

    def camera_changed(self, name: str, camera: CameraConfig | None) -> None:
        """The registry's news: ``name`` runs as ``camera`` now, or (None) is gone."""
        if camera is None:
            self.stop_camera(name)
        else:
            self.start_camera(name, camera)

    def geometry_changed(self, name: str, camera: CameraConfig) -> None:
        """The registry's news: ``name`` has new masks and zones, taken at its next frame."""
        if self.remote is not None:
            self.remote.set_geometry(name, camera)
        pipeline = self.pipelines.get(name)
        if pipeline is not None:
            pipeline.set_geometry(camera)

    def health(self, name: str) -> CameraHealth | None:
        """How a running camera is doing (None: it does not run)."""
        if self.remote is not None:
            return self.remote.health(name)
        pipeline = self.pipelines.get(name)
        return None if pipeline is None else pipeline.health()

    def load(self, name: str) -> CameraLoad | None:
        """How hard a running camera works (None: it does not run)."""
        if self.remote is not None:
            return self.remote.load(name)
        pipeline = self.pipelines.get(name)
        return None if pipeline is None else pipeline.load()

    # -- retention.LiveFootage: what the running cameras still need ---------------------------
    def needed_from(self) -> float | None:
        """The earliest footage an open event or a clip on its way needs, over all cameras."""
        with self._lock:
            pipelines = list(self.pipelines.values())
        needed = [t for p in pipelines if (t := p.needed_from()) is not None]
        if self.remote is not None and (remote := self.remote.needed_from()) is not None:
            needed.append(remote)
        return min(needed, default=None)

    def waiting_for_space(self) -> list[WaitingClip]:
        """The clips a full disk refused, over all cameras, oldest first."""
        with self._lock:
            pipelines = list(self.pipelines.items())
        clips = [
            WaitingClip(w.event.id, name, w.start, w.end, w.event.verdict)
            for name, pipeline in pipelines
            for w in pipeline.waiting_for_space()
        ]
        if self.remote is not None:
            clips += self.remote.waiting_for_space()
        return sorted(clips, key=lambda c: c.start)

    def give_up(self, clip: WaitingClip) -> bool:
        """Drops a clip that waited for space (retention needs its footage)."""
        if self.remote is not None and clip.camera not in self.pipelines:
            return self.remote.give_up(clip)
        pipeline = self.pipelines.get(clip.camera)
        return pipeline is not None and pipeline.give_up_clip(clip.event_id)

    def _supervise(self, name: str, own_stop: threading.Event) -> None:
        # Each camera has its own stop event (``close`` sets them all), so one can be stopped alone.
        run_camera(name, self.streams[name], self.pipelines[name], own_stop)

    def _sweep_loop(self) -> None:
        choices = HouseholdChoices(self.store, self.config, self.cameras)
        storage = self.storage
        assert storage is not None
        interval = self.config.retention.interval
        while not self.stop.is_set():
            storage.wait(interval)  # or less: a write that found the disk full wakes it
            if self.stop.is_set():
                return
            try:
                self._sweep_once(choices, storage)
            except Exception as error:  # the sweep retries next interval; recording must go on
                if not is_disk_full(error):
                    log.exception("retention sweep failed")
                else:  # its rows could not be written yet: the files it deleted made room
                    log.warning("retention sweep stopped, the disk is full: %s", error)
            # A disk that stays full wakes the sweeper with every refused write: one pass a
            # second at most.
            self.stop.wait(min(interval, 1.0))

    def _sweep_once(self, choices: HouseholdChoices, storage: StorageWatch) -> None:
        """One retention pass (aiming higher after a refused write), told to ``storage``; clips
        that waited for space are cut once the pass has freed some."""
        failure = storage.take_failure()
        # each pass: an owner may have changed the hours
        record = self.config.record
        policy = RetentionPolicy(
            self.config.retention,
            # An open event's clip reaches back by its pre-roll, widened to min_clip at most.
            clip_margin=record.pre_roll + record.min_clip,
            cameras=choices.camera_hours(),
        )
        data_dir = self.config.data_dir
        report = sweep(
            self.store,
            data_dir,
            time.time(),
            self.disk_free,
            policy=policy,
            media=self.media,
            disk_full=failure is not None,
            live=self,
        )
        floor = policy.floor_bytes(failure is not None)
        storage.swept(report, self.disk_free(data_dir), floor, time.time())
        log.debug("retention: %s", report)
        # Whenever a pass freed room (not only once it met the floor: on a disk the floor can
        # never be met, clips waiting for space would hold their segments for ever and the
        # protected footage would grow until nothing could be freed at all).
        if report.bytes_freed > 0 or (failure is not None and not report.below_floor):
            self.cut_pending_clips()

    def cut_pending_clips(self, _household_id: int | None = None) -> None:
        """Cuts, on the clip pool, the clips that waited for a locked household (each camera
        cuts its own; clips still locked stay pending)."""
        with self._lock:
            pipelines = list(self.pipelines.values())
        for pipeline in pipelines:
            self.clip_pool.submit(pipeline.cut_pending)
        if self.remote is not None:
            self.remote.cut_pending()  # the clips waiting for space on the nodes
            if self.parts is not None:  # a locked household's clips: here, which holds its key
                self.clip_pool.submit(self._cut_remote_locked, self.parts)

    def _cut_remote_locked(self, parts: PipelineParts) -> None:
        cameras = sorted({window.camera for window in PendingClips(self.store).windows()})
        if cameras and (cut := cut_locked_clips(parts, cameras)):
            log.info("cut %d clip(s) of the cluster's cameras that waited for an unlock", cut)

    def close(self) -> None:
        """Stops sources and the sweeper, flushes open events and segments, waits for clips."""
        self.stop.set()
        if self.storage is not None:
            self.storage.wake()  # the sweeper's wait
        with self._lock:
            for event in self._camera_stops.values():
                event.set()
            threads = [*self._camera_threads.values(), *self.threads]
        for thread in threads:
            thread.join()
        if self.remote is not None:
            self.remote.close()  # each camera flushes on its node; their last changes come here
        if self.exporter is not None:
            self.exporter.close()  # after the job in hand; queued ones fail at the next start
        for pipeline in list(self.pipelines.values()):
            pipeline.finish()
        self.clip_pool.shutdown(wait=True)
        if self.decisions is not None:
            # After the clips (their follow-ups pass through it), before the channels close.
            self.decisions.close()
        if self.dispatcher is not None:
            # Last, so the alerts and clip-ready follow-ups of the final events still go out.
            self.dispatcher.close()
        if self.data_lock is not None:
            self.data_lock.release()
