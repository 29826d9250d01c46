"""Composition root: builds the store, detector, camera pipelines and web services from config,
each part once, and hands them out; nothing else constructs long-lived parts.

The running supervisor is ``runtime.Runtime``; ``analysis.analyze`` replays a file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
from sqlalchemy.engine import make_url

from hearthcam.accounts import Accounts, Role
from hearthcam.accounts.choices import HouseholdChoices
from hearthcam.alerts.checkpoints import CheckpointSchedule
from hearthcam.alerts.checkpoints import state_path as checkpoint_state_path
from hearthcam.alerts.decision import AlertDecisions
from hearthcam.alerts.notify import build_dispatcher
from hearthcam.alerts.rules import AlertDecider
from hearthcam.alerts.webpush import VapidKeys, WebPushNotifier
from hearthcam.annotate.desk import ReviewDesk
from hearthcam.camera_registry import CameraRegistry
from hearthcam.config import Config
from hearthcam.errors import StoreError
from hearthcam.exports import Exporter
from hearthcam.hub.client import HubClient
from hearthcam.hub.delivery import HubDelivery, features_from_events, owners_alarm
from hearthcam.hub.home import destination as hub_destination
from hearthcam.hub.home import read_check as read_hub_check
from hearthcam.hub.pull import PullOutcome, pull_model
from hearthcam.learn.registry import ModelRegistry
from hearthcam.lock import DataDirLock
from hearthcam.pipeline.camera import camera_parts
from hearthcam.pipeline.detect import Detector, load_detector
from hearthcam.pipeline.learned import VerdictSlot
from hearthcam.pipeline.recovered import RecoveredEvents
from hearthcam.pipeline.runner import CameraPipeline, PipelineParts
from hearthcam.privacy.consent import Sharing, WithdrawalListener
from hearthcam.privacy.familiar import FamiliarFaces
from hearthcam.privacy.familiar_live import Sightings, live_watch
from hearthcam.privacy.review import RemoteChecks, ShareChecks
from hearthcam.recordings.recovery import recover
from hearthcam.recordings.storage import StorageWatch
from hearthcam.runtime import Runtime
from hearthcam.served_model import ModelWatcher, served_verdict
from hearthcam.store.accounts import AccountStore
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.familiar import FamiliarStore
from hearthcam.store.hub_deliveries import HubDeliveryStore
from hearthcam.store.migrate import holds_no_table
from hearthcam.store.push import PushStore
from hearthcam.store.settings import SettingsStore
from hearthcam.store.shares import ShareStore
from hearthcam.types import EventListener
from hearthcam.vault.household import cameras_household as cameras_household
from hearthcam.vault.household import open_media as open_media
from hearthcam.vault.household import open_media_to_read as open_media_to_read
from hearthcam.vault.inventory import first_media
from hearthcam.vault.media import SealedMedia
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path
from hearthcam.vision.prepare import share_preparer

if TYPE_CHECKING:
    from hearthcam.live import LiveSource
    from hearthcam.web import EventBus, ServerHandle

log = logging.getLogger(__name__)


def open_store(config: Config, lock: DataDirLock) -> Store:
    """Opens (and recovers) the store of the data directory whose lock is held."""
    return open_store_and_media(config, lock)[0]


def open_database(config: Config) -> Store:
    """Opens the data directory's database for a start that will recover and write it.

    Refuses (StoreError, one line, nothing touched) a database file that does not open, and a
    missing or empty SQLite file where the data directory holds media: beginning afresh there
    would reopen the owner's setup to anyone who reaches the app, and recovery would set every
    file aside as unknown. Such a database is restored from backup (docs/operations.md).
    """
    url = make_url(config.database_url)
    path = Path(url.database) if url.get_backend_name() == "sqlite" and url.database else None
    if path is not None and path.name != ":memory:":
        empty = not path.exists() or (path.is_file() and path.stat().st_size == 0)
        media = first_media(config.data_dir) if empty else None
        if media is not None:
            raise StoreError(
                f"no database at {path}, but {config.data_dir} holds media "
                f"({media.relative_to(config.data_dir)}): restore {path.name} from your backup "
                "(docs/operations.md); the media are kept untouched"
            )
    elif (  # a server's database with no table where the data directory holds media: the
        # same refusal (the usual cause: a move to PostgreSQL whose copy was never made)
        url.get_backend_name() != "sqlite"
        and (media := first_media(config.data_dir)) is not None
        and holds_no_table(config.database_url)
    ):
        raise StoreError(
            f"the database {url.render_as_string(hide_password=True)} is empty, but "
            f"{config.data_dir} holds media ({media.relative_to(config.data_dir)}): copy "
            "this install's database into it first (hearthcam db copy, docs/scale.md) or "
            "restore it from your backup; the media are kept untouched"
        )
    try:
        return Store.open(config.database_url, data_dir=config.data_dir)
    except StoreError as error:
        shown = path if path is not None else url.render_as_string(hide_password=True)
        raise StoreError(
            f"cannot open the database {shown}: {_root_cause(error)}; restore it from your "
            "backup (docs/operations.md); nothing was changed"
        ) from error


def _root_cause(error: BaseException) -> str:
    """The innermost cause's message, on one line (a driver's, not SQLAlchemy's wrapping)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return " ".join(str(error).split()) or type(error).__name__


def open_store_and_media(config: Config, lock: DataDirLock) -> tuple[Store, SealedMedia]:
    """Opens the store and its sealed media, and recovers them (start-up recovery).

    Recovery salvages half-written files and destroys the keys of missing ones: beside a live
    recorder it would destroy footage, so it runs only under the data directory's lock.
    Raises LockNotHeld if ``lock`` is not a held lock of the config's data directory; the
    refusals of ``open_database`` and ``open_media`` come before recovery touches anything.
    """
    lock.require(config.data_dir)
    store = open_database(config)
    try:
        store.claim_for_server()  # PostgreSQL: no other server's recovery runs on these rows
        media = open_media(store, config.data_dir)
        # Events a crash left open are finished from their footage with the live clip rules.
        finisher = RecoveredEvents(config.record, store, media, config.data_dir)
        recover(store, config.data_dir, media=media, finisher=finisher)
    except BaseException:
        store.close()
        raise
    return store, media


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
        household_targets=choices.household_push_targets,
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
    lock: DataDirLock | None = None,
) -> Runtime:
    """Builds the runtime for every enabled camera of the config.

    With ``alerts`` the configured channels (MQTT, webhooks, ntfy, Web Push) get alert-worthy
    events; ``analyze`` turns them off: replaying a file must not page anyone. ``lock`` is the
    held lock of the data directory; without one, build takes it (DataDirBusy if another process
    has it) and the runtime gives it back when it closes.
    """
    # Media paths go into the database and the output: absolute, so they stay valid from any cwd.
    config = config.model_copy(update={"data_dir": config.data_dir.expanduser().absolute()})
    if lock is None:
        owned = DataDirLock.acquire(config.data_dir)
        try:
            runtime = build(config, listeners, lossless, realtime, detector, alerts, lock=owned)
        except BaseException:
            owned.release()
            raise
        runtime.data_lock = owned
        return runtime
    tune_libraries()
    store, media = open_store_and_media(config, lock)
    try:
        runtime = _assemble(config, store, media, listeners, lossless, realtime, detector, alerts)
    except BaseException:
        store.close()  # the workers of a half-built runtime are daemons: nothing else to stop
        raise
    return runtime


def _assemble(
    config: Config,
    store: Store,
    media: SealedMedia,
    listeners: Sequence[EventListener],
    lossless: bool,
    realtime: bool,
    detector: Detector | None,
    alerts: bool,
) -> Runtime:
    """The runtime over an opened store: the detector, alerts, verdict and camera pipelines."""
    detector = detector or load_detector(config.detector)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="clips")
    # The config's cameras and what owners added, changed or drew in the app, resolved alike.
    cameras = CameraRegistry.load(config, SettingsStore(store))
    choices = HouseholdChoices(store, config, cameras)
    dispatcher = None
    if alerts:
        extra = [web_push(config, store, choices)] if wants_web_push(config) else []
        dispatcher = build_dispatcher(config.alerts, cameras, extra)
    # The decision is taken (and stored) even with alerts off: ``analyze`` shows the flag.
    decider = AlertDecider(config.alerts, rule_of=choices.rule_of)
    decisions = AlertDecisions(decider, store, [] if dispatcher is None else [dispatcher])
    slot = served_verdict(store, config.data_dir)  # the served model, or the rules
    storage = StorageWatch.of(config.retention)  # writes the disk refused wake retention
    exporter = Exporter(store, media, config.data_dir, config.exports)
    exporter.fail_unfinished()  # their worker was the last run's
    familiar = FamiliarFaces(FamiliarStore(store), media.vault.keyring)
    faces = live_watch(familiar, cameras_household(store))
    parts = PipelineParts(
        config=config,
        detector=detector,
        store=store,
        verdict=slot,
        clip_pool=pool,
        listeners=[*listeners, decisions, Sightings(faces, familiar)],
        media=media,
        alerted=decisions.alerted,
        disk_full=storage.write_failed,
        faces=faces,
    )
    checkpoints = None
    if dispatcher is not None and config.audit.checkpoint_every_hours > 0:
        key = AuditKey.load_or_create(key_path(config.data_dir))
        checkpoints = CheckpointSchedule(
            AuditLog(store, key),
            dispatcher.send_checkpoint,
            checkpoint_state_path(config.data_dir),
            config.audit.checkpoint_every_hours,
        )
    runtime = Runtime(
        config,
        store,
        detector,
        {},
        {},
        pool,
        dispatcher=dispatcher,
        checkpoints=checkpoints,
        decisions=decisions,
        parts=parts,
        realtime=realtime,
        cameras=cameras,
        media=media,
        storage=storage,
        exporter=exporter,
    )
    try:
        cameras.subscribe(runtime)  # an owner's change starts, restarts or stops that camera
        trainer = None
        if config.cluster.engine == "ray":  # trainings as Ray tasks (connected at the first)
            from hearthcam.cluster.training import RayTraining

            trainer = RayTraining(config)
        runtime.models = ModelWatcher(slot, store, config.data_dir, retrain=True, trainer=trainer)
        if config.cluster.cameras:  # each camera an actor on the cluster, started by start()
            from hearthcam.cluster.cameras import RayCameras

            runtime.remote = RayCameras(config, parts.listeners)
            return runtime
        for name, camera in cameras.items():
            if camera.enabled:
                runtime.pipelines[name], runtime.streams[name] = camera_parts(
                    name, camera, parts, realtime, lossless=lossless
                )
    except BaseException:
        runtime.close()  # the pipelines made so far, the pool, the alert workers
        raise
    return runtime


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


def share_checks(
    runtime: Runtime, sharing: Sharing, on_published: Callable[[str], None] = lambda _: None
) -> ShareChecks:
    """The machine checks of shared clips; the models load at the first share, not at start.
    With ``cluster.engine: ray`` they run on the cluster's workers (connected at the first
    share; Ray is imported only then). ``on_published`` hears of each share published."""
    config = runtime.config
    remote = None
    if config.cluster.engine == "ray":

        def remote() -> RemoteChecks:
            from hearthcam.cluster.shares import RayShareChecks

            return RayShareChecks.connect(config)

    return ShareChecks(
        sharing,
        lambda: share_preparer(config, runtime.detector),
        remote=remote,
        on_published=on_published,
    )


class LiveViews(Mapping[str, "LiveSource"]):
    """Camera -> live view of the cameras running now (cameras come and go while serving): a
    pipeline's own, or the relay of a camera running on the cluster."""

    def __init__(
        self,
        pipelines: Mapping[str, CameraPipeline],
        remote: Mapping[str, LiveSource] | None = None,
    ) -> None:
        self._pipelines = pipelines
        self._remote: Mapping[str, LiveSource] = remote if remote is not None else {}

    def __getitem__(self, camera: str) -> LiveSource:
        pipeline = self._pipelines.get(camera)
        return pipeline.live if pipeline is not None else self._remote[camera]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._pipelines, *self._remote])

    def __len__(self) -> int:
        return len(self._pipelines) + len(self._remote)


def serve_web(runtime: Runtime, bus: EventBus) -> ServerHandle:
    """Starts the owner's web app over the runtime's store and live views.

    ``bus`` must be one of the runtime's listeners (``build(..., listeners=[bus.on_change])``)
    so new events reach open timelines. Raises ``ServerError`` when the port cannot be used.
    """
    from hearthcam.hub.web_links import HomeHubLinks  # the web's HubLinks: only when serving
    from hearthcam.web import WebServices, start_server  # FastAPI: only when serving

    # What can fail comes before any thread: a failed start leaves nothing running.
    view_log = AuditLog(runtime.store, AuditKey.load_or_create(key_path(runtime.config.data_dir)))
    accounts = Accounts(runtime.store)
    adopted = adopt_cameras(accounts, list(runtime.cameras))
    if adopted:
        log.info("cameras %s given to the only household", ", ".join(adopted))
    push_key = None
    if wants_web_push(runtime.config):
        push_key = VapidKeys.load_or_create(vapid_path(runtime.config)).application_server_key

    # Built once: the checks, the web app and the withdrawal all go through this one Sharing.
    # Everything holding something made from shared clips hears of a withdrawal: leases and
    # annotations first (nobody keeps watching a withdrawn clip), then the models, then the
    # watcher (after the registry: it looks once the models are tainted).
    desk = review_desk(runtime)
    listeners: list[WithdrawalListener] = [
        desk,
        ModelRegistry(runtime.store, runtime.config.data_dir),
    ]
    if runtime.models is not None:
        listeners.append(runtime.models)
    data_dir = runtime.config.data_dir
    sharing = Sharing(
        ShareStore(runtime.store),
        data_dir,
        listeners=listeners,
        media=runtime.media,
        hub=lambda: hub_destination(data_dir),  # read anew: `hub link` may run beside us
    )

    # Last: the hub is asked to delete its copy once everything at home let go of the share.
    def pull(client: HubClient, home_key_id: str, hub_url: str) -> PullOutcome:
        return pull_model(runtime.store, data_dir, client, home_key_id, hub_url, time.time())

    def households() -> list[int]:
        with AccountStore(runtime.store).read() as tx:
            return [h.id for h in tx.households()]

    # A view log round with findings goes to the owners on their alert channels, at once.
    dispatcher = runtime.dispatcher
    delivery = HubDelivery(
        sharing, HubDeliveryStore(runtime.store), data_dir, pull=pull,
        features=features_from_events(runtime.store.get_event),
        alarm=owners_alarm(
            lambda notice: None if dispatcher is None else dispatcher.send_hub_alarm(notice),
            households,
        ),
    )  # fmt: skip
    sharing.listeners.append(delivery)  # Sharing keeps its own list
    listeners.append(delivery)
    checks = share_checks(runtime, sharing, on_published=lambda _: delivery.notify())

    def unlocked(household: int) -> None:
        # Cut the clips and check the shared copies that waited for the owner's sign-in.
        runtime.cut_pending_clips(household)
        checks.notify()

    services = WebServices(
        camera_registry=runtime.cameras,  # the runtime listens to it
        health=runtime.health,
        load=runtime.load,
        storage=runtime.storage,
        on_shared=checks.notify,
        share_listeners=listeners,
        review_desk=desk,
        sharing_service=sharing,
        hub_log_check=lambda: read_hub_check(data_dir),
        # A link or an unlink made in the app: the delivery takes it in at once.
        hub_links=HomeHubLinks(data_dir, on_change=delivery.notify),
        view_log=view_log,
        on_unlocked=unlocked,
        exporter=runtime.exporter,
        push_key=push_key,
        config=runtime.config,
        store=runtime.store,
        accounts=accounts,
        live=LiveViews(runtime.pipelines, runtime.remote.live if runtime.remote else None),
        media=runtime.media,
        bus=bus,
        secure_cookies=runtime.config.web.secure_cookies,
    )
    handle = start_server(services, runtime.config.web.host, runtime.config.web.port)
    for name, work in (
        ("share-checks", checks.run_forever),
        ("hub-delivery", delivery.run_forever),
    ):
        worker = threading.Thread(target=work, args=(runtime.stop,), name=name)
        worker.start()
        runtime.threads.append(worker)  # joined by close, after stop is set
    runtime.cut_pending_clips()  # what waited for a household no longer locked
    return handle
