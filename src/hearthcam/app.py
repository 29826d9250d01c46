"""Composition root: builds the store, detector and camera pipelines from config; owns start/stop.

Nothing else constructs long-lived parts. ``analyze`` runs the live path over one file at full
speed; ``Live`` runs every configured camera until stopped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from hearthcam.accounts import Accounts, Role
from hearthcam.alerts.notify import AlertDispatcher, build_dispatcher
from hearthcam.alerts.rules import AlertDecider
from hearthcam.alerts.webpush import VapidKeys, WebPushNotifier
from hearthcam.annotate.desk import ReviewDesk
from hearthcam.config import AlertRule, CameraConfig, Config, InputConfig
from hearthcam.learn.registry import ModelRegistry
from hearthcam.pipeline.detect import Detector, load_detector
from hearthcam.pipeline.events import Change
from hearthcam.pipeline.learned import VerdictSlot
from hearthcam.pipeline.runner import CameraPipeline, EventListener, PipelineParts
from hearthcam.pipeline.source import CameraStream, SystemClock, probe
from hearthcam.privacy.consent import Sharing, WithdrawalListener
from hearthcam.privacy.review import ShareChecks
from hearthcam.recordings.recovery import recover
from hearthcam.recordings.retention import DiskFree, RetentionPolicy, disk_free_bytes, sweep
from hearthcam.served_model import ModelWatcher, served_verdict
from hearthcam.store.accounts import AccountStore
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.cameras import CameraStore, merged_cameras
from hearthcam.store.db import Store
from hearthcam.store.push import PushStore, PushSubscription
from hearthcam.store.settings import CameraGeometry, SettingsStore, camera_geometry
from hearthcam.store.shares import ShareStore
from hearthcam.types import Event, Verdict
from hearthcam.vault.keyring import Keyring, MediaVault
from hearthcam.vault.media import MediaIO, PlainMedia, SealedMedia
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.prepare import ClipPreparer
from hearthcam.vision.sensitive import SensitiveScanner

if TYPE_CHECKING:
    from hearthcam.live import LiveView
    from hearthcam.web import EventBus, ServerHandle

log = logging.getLogger(__name__)


def open_media(store: Store, data_dir: Path) -> SealedMedia:
    """The data directory's media, sealed: each file under its own key, wrapped to the key of
    its camera's household (a camera nobody owns: household 0). The server secret is made in
    ``<data_dir>/secrets/`` on first use."""
    accounts = AccountStore(store)

    def household_of(camera: str) -> int | None:
        with accounts.read() as tx:
            return tx.camera_household(camera)

    return SealedMedia(MediaVault(Keyring.open(store, data_dir), data_dir), household_of)


def open_store(config: Config) -> Store:
    """Creates the data directory and opens (and recovers) the store."""
    return open_store_and_media(config)[0]


def open_store_and_media(config: Config) -> tuple[Store, SealedMedia]:
    """Creates the data directory, opens the store and its sealed media, and recovers them."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(config.database_url)
    media = open_media(store, config.data_dir)
    recover(store, config.data_dir, media=media)
    return store, media


class HouseholdChoices:
    """What owners changed in the app (alert rules and mode, hours kept), looked up per camera
    at each use.

    The app stores them per household (``store.settings``); the pipeline and the sweeper know
    only cameras. A camera no household owns follows the config.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        cameras: Mapping[str, CameraConfig] | None = None,
    ) -> None:
        # The account tables only (``Accounts`` would set up password hashing it never uses).
        self._accounts = AccountStore(store)
        self._settings = SettingsStore(store)
        self._push = PushStore(store)
        self._config = config
        # The cameras running now (the config's and the app's); the config's when not given.
        self._cameras = config.cameras if cameras is None else cameras

    def _household(self, camera: str) -> int | None:
        with self._accounts.read() as tx:
            return tx.camera_household(camera)

    def push_targets(self, camera: str) -> list[PushSubscription]:
        """The browsers subscribed to push by members the camera's household has now (a user
        removed from it, and their browsers, get nothing more)."""
        with self._accounts.read() as tx:
            household = tx.camera_household(camera)
            if household is None:
                return []
            members = {u.id for u in tx.users(household)}
        return [s for s in self._push.of_household(household) if s.user_id in members]

    def rule_of(self, camera: str) -> AlertRule | None:
        """The alert rule of the mode the camera's household is in (None: the config's)."""
        household = self._household(camera)
        if household is None:
            return None
        return self._settings.household(household, self._config).rule()

    def retention(self) -> RetentionPolicy:
        """The retention policy now: the config's, with each household's own hours."""
        default = dict(self._config.retention.events)
        own: dict[str, dict[Verdict, float]] = {}
        for camera in list(self._cameras):
            household = self._household(camera)
            if household is None:
                continue
            hours = self._settings.household(household, self._config).retention
            if hours != default:
                own[camera] = hours
        return RetentionPolicy(self._config.retention, cameras=own)


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


def vapid_path(config: Config) -> Path:
    """Where the server's VAPID private key lives (created on first use, mode 0600)."""
    return config.data_dir / "secrets" / "vapid.pem"


def wants_web_push(config: Config) -> bool:
    """Web Push needs the web app: browsers subscribe there."""
    return config.web.enabled and config.alerts.web_push.enabled


def web_push(config: Config, store: Store, choices: HouseholdChoices) -> WebPushNotifier:
    """The Web Push channel: every subscribed browser of the camera's household."""
    push = PushStore(store)
    return WebPushNotifier(
        VapidKeys.load_or_create(vapid_path(config)),
        config.alerts.web_push.contact,
        targets=choices.push_targets,
        gone=push.remove,
        allow_local=config.alerts.web_push.allow_http_endpoints,
    )


def tune_libraries() -> None:
    """Process-wide library settings the pipeline is measured with (docs/benchmarks.md).

    OpenCV's thread pool splits each call across cores; on the small frames motion works on
    (320x180) waking the pool costs more than it saves (0.71 vs 0.47 ms of CPU a frame on
    2 cores), and cameras already run side by side in their own threads.
    """
    cv2.setNumThreads(1)


def build(
    config: Config,
    listeners: Sequence[EventListener] = (),
    lossless: bool = False,
    realtime: bool = True,
    detector: Detector | None = None,
    alerts: bool = True,
) -> Runtime:
    """Builds the runtime for every enabled camera of the config.

    With ``alerts`` the configured channels (MQTT, webhooks, ntfy, Web Push) get alert-worthy
    events; ``analyze`` turns them off: replaying a file must not page anyone.
    """
    # Media paths go into the database and the output: absolute, so they stay valid from any cwd.
    config = config.model_copy(update={"data_dir": config.data_dir.expanduser().absolute()})
    tune_libraries()
    store, media = open_store_and_media(config)
    detector = detector or load_detector(config.detector)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clips")
    # The config's cameras with what owners added or changed in the app.
    cameras = CurrentCameras(merged_cameras(config, CameraStore(SettingsStore(store)).entries()))
    choices = HouseholdChoices(store, config, cameras)
    dispatcher = None
    if alerts:
        extra = [web_push(config, store, choices)] if wants_web_push(config) else []
        dispatcher = build_dispatcher(config.alerts, cameras, extra)
    if dispatcher is not None:
        listeners = [*listeners, dispatcher]
    slot = served_verdict(store, config.data_dir)  # the served model, or the rules
    parts = PipelineParts(
        config=config,
        detector=detector,
        store=store,
        verdict=slot,
        decider=AlertDecider(config.alerts, rule_of=choices.rule_of),
        clip_pool=pool,
        listeners=listeners,
        media=media,
    )
    runtime = Runtime(
        config,
        store,
        detector,
        {},
        {},
        pool,
        dispatcher=dispatcher,
        parts=parts,
        realtime=realtime,
        media=media,
    )
    runtime.cameras = cameras
    runtime.models = ModelWatcher(slot, store, config.data_dir, retrain=True)
    for name, camera in cameras.items():
        if camera.enabled:
            runtime.pipelines[name], runtime.streams[name] = camera_parts(
                name, camera, parts, realtime, lossless=lossless
            )
    return runtime


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

    runtime = build(
        config, [collect], lossless=True, realtime=False, detector=detector, alerts=False
    )
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


def adopt_cameras(accounts: Accounts, cameras: Sequence[str]) -> list[str]:
    """Gives configured cameras that no household owns to the household, if there is just one.

    The first owner gets every camera at setup; a camera added to the config later would
    otherwise be visible to nobody. With several households the admin assigns it instead.
    Returns the cameras adopted.
    """
    households = {
        u.household_id
        for u in accounts.list_users()
        if u.role is Role.OWNER and u.household_id is not None
    }
    if len(households) != 1:
        return []
    (household,) = households
    adopted = [c for c in cameras if accounts.camera_household(c) is None]
    for camera in adopted:
        accounts.assign_camera(camera, household)
    return adopted


def review_desk(runtime: Runtime) -> ReviewDesk:
    """Annotators' leases on published shared clips; pre-labels by the runtime's detector."""
    slot = None if runtime.parts is None else runtime.parts.verdict
    return ReviewDesk(
        AnnotationStore(runtime.store),
        ShareStore(runtime.store),
        runtime.store,
        runtime.config.data_dir,
        runtime.media,
        runtime.config.review,
        detector=lambda: runtime.detector,
        # The served model's probabilities rank the queue (uncertain clips first); rules-only
        # ranking while none is served.
        scorer=slot.probabilities if isinstance(slot, VerdictSlot) else lambda event: None,
    )


def share_listeners(runtime: Runtime) -> list[WithdrawalListener]:
    """Everything that holds something made from shared clips, told when one is withdrawn:
    leases and annotations first (nobody keeps watching a withdrawn clip), then the models."""
    return [review_desk(runtime), ModelRegistry(runtime.store, runtime.config.data_dir)]


def share_checks(runtime: Runtime) -> ShareChecks:
    """The machine checks of shared clips; the models load at the first share, not at start."""

    def preparer() -> ClipPreparer:
        # One thread each: the checks run beside the cameras and must not starve them.
        return ClipPreparer(
            SensitiveScanner.load(threads=1), CenterFace(threads=1), runtime.detector
        )

    sharing = Sharing(
        ShareStore(runtime.store),
        runtime.config.data_dir,
        listeners=share_listeners(runtime),
        media=runtime.media,
    )
    return ShareChecks(sharing, preparer)


class LiveViews(Mapping[str, "LiveView"]):
    """Camera -> live view of the pipelines running now (cameras come and go while serving)."""

    def __init__(self, pipelines: Mapping[str, CameraPipeline]) -> None:
        self._pipelines = pipelines

    def __getitem__(self, camera: str) -> LiveView:
        return self._pipelines[camera].live

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._pipelines))

    def __len__(self) -> int:
        return len(self._pipelines)


def serve_web(runtime: Runtime, bus: EventBus) -> ServerHandle:
    """Starts the owner's web app over the runtime's store and live views.

    ``bus`` must be one of the runtime's listeners (``build(..., listeners=[bus.on_change])``)
    so new events reach open timelines. Raises ``ServerError`` when the port cannot be used.
    """
    from hearthcam.web import WebServices, start_server  # FastAPI: only when serving

    accounts = Accounts(runtime.store)
    adopted = adopt_cameras(accounts, list(runtime.cameras))
    if adopted:
        log.info("cameras %s given to the only household", ", ".join(adopted))
    push_key = None
    if wants_web_push(runtime.config):
        push_key = VapidKeys.load_or_create(vapid_path(runtime.config)).application_server_key

    def geometry_changed(camera: str, geometry: CameraGeometry) -> None:
        pipeline, configured = runtime.pipelines.get(camera), runtime.cameras.get(camera)
        if pipeline is not None and configured is not None:
            pipeline.set_geometry(geometry.applied(configured))

    def camera_changed(camera: str, configured: CameraConfig | None) -> None:
        if configured is None:
            runtime.stop_camera(camera, forget=True)
        else:
            runtime.start_camera(camera, configured)

    checks = share_checks(runtime)

    def unlocked(household: int) -> None:
        # Cut the clips and check the shared copies that waited for the owner's sign-in.
        runtime.cut_pending_clips(household)
        checks.notify()

    worker = threading.Thread(target=checks.run_forever, args=(runtime.stop,), name="share-checks")
    worker.start()
    runtime.threads.append(worker)  # joined by close, after stop is set
    listeners: list[WithdrawalListener] = share_listeners(runtime)
    if runtime.models is not None:
        listeners.append(runtime.models)  # after the registry: it looks once models are tainted
    desk = next(x for x in listeners if isinstance(x, ReviewDesk))
    view_log = AuditLog(runtime.store, AuditKey.load_or_create(key_path(runtime.config.data_dir)))
    services = WebServices(
        on_geometry=geometry_changed,
        on_camera=camera_changed,
        on_shared=checks.notify,
        share_listeners=listeners,
        review_desk=desk,
        view_log=view_log,
        on_unlocked=unlocked,
        push_key=push_key,
        config=runtime.config,
        store=runtime.store,
        accounts=accounts,
        live=LiveViews(runtime.pipelines),
        media=runtime.media,
        bus=bus,
        secure_cookies=runtime.config.web.secure_cookies,
    )
    runtime.cut_pending_clips()  # what waited for a household no longer locked
    return start_server(services, runtime.config.web.host, runtime.config.web.port)
