"""Composition root: builds the store, detector, camera pipelines and web services from config,
each part once, and hands them out; nothing else constructs long-lived parts.

The running supervisor is ``runtime.Runtime``; ``analysis.analyze`` replays a file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import cv2

from hearthcam.accounts import Accounts, Role
from hearthcam.accounts.choices import HouseholdChoices
from hearthcam.alerts.decision import AlertDecisions
from hearthcam.alerts.notify import build_dispatcher
from hearthcam.alerts.rules import AlertDecider
from hearthcam.alerts.webpush import VapidKeys, WebPushNotifier
from hearthcam.annotate.desk import ReviewDesk
from hearthcam.camera_registry import CameraRegistry
from hearthcam.config import Config
from hearthcam.errors import StoreError
from hearthcam.learn.registry import ModelRegistry
from hearthcam.lock import DataDirLock
from hearthcam.pipeline.detect import Detector, load_detector
from hearthcam.pipeline.learned import VerdictSlot
from hearthcam.pipeline.runner import CameraPipeline, PipelineParts
from hearthcam.privacy.consent import Sharing, WithdrawalListener
from hearthcam.privacy.review import ShareChecks
from hearthcam.recordings.recovery import recover
from hearthcam.runtime import Runtime, camera_parts
from hearthcam.served_model import ModelWatcher, served_verdict
from hearthcam.store.accounts import AccountStore
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.db import Store
from hearthcam.store.push import PushStore
from hearthcam.store.settings import SettingsStore
from hearthcam.store.shares import ShareStore
from hearthcam.types import EventListener
from hearthcam.vault.keyring import Keyring, MediaVault, secret_path
from hearthcam.vault.media import SealedMedia
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


def open_media_to_read(store: Store, data_dir: Path) -> SealedMedia:
    """The media of a data directory a server may be writing, opened to read only: it creates
    no secret (StoreError if there is none: nothing here was sealed) and runs no recovery."""
    if not secret_path(data_dir).is_file():
        raise StoreError(f"no server secret in {secret_path(data_dir).parent}: nothing is sealed")
    return open_media(store, data_dir)


def open_store(config: Config, lock: DataDirLock) -> Store:
    """Opens (and recovers) the store of the data directory whose lock is held."""
    return open_store_and_media(config, lock)[0]


def open_store_and_media(config: Config, lock: DataDirLock) -> tuple[Store, SealedMedia]:
    """Opens the store and its sealed media, and recovers them (start-up recovery).

    Recovery salvages half-written files and destroys the keys of missing ones: beside a live
    recorder it would destroy footage, so it runs only under the data directory's lock.
    Raises LockNotHeld if ``lock`` is not a held lock of the config's data directory.
    """
    lock.require(config.data_dir)
    store = Store.open(config.database_url, data_dir=config.data_dir)
    media = open_media(store, config.data_dir)
    recover(store, config.data_dir, media=media)
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
    parts = PipelineParts(
        config=config,
        detector=detector,
        store=store,
        verdict=slot,
        clip_pool=pool,
        listeners=[*listeners, decisions],
        media=media,
        alerted=decisions.alerted,
    )
    runtime = Runtime(
        config,
        store,
        detector,
        {},
        {},
        pool,
        dispatcher=dispatcher,
        decisions=decisions,
        parts=parts,
        realtime=realtime,
        cameras=cameras,
        media=media,
    )
    cameras.subscribe(runtime)  # an owner's change starts, restarts or stops that camera
    runtime.models = ModelWatcher(slot, store, config.data_dir, retrain=True)
    for name, camera in cameras.items():
        if camera.enabled:
            runtime.pipelines[name], runtime.streams[name] = camera_parts(
                name, camera, parts, realtime, lossless=lossless
            )
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


def share_checks(runtime: Runtime, sharing: Sharing) -> ShareChecks:
    """The machine checks of shared clips; the models load at the first share, not at start."""

    def preparer() -> ClipPreparer:
        # One thread each: the checks run beside the cameras and must not starve them.
        return ClipPreparer(
            SensitiveScanner.load(threads=1), CenterFace(threads=1), runtime.detector
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
    sharing = Sharing(
        ShareStore(runtime.store), runtime.config.data_dir, listeners=listeners, media=runtime.media
    )
    checks = share_checks(runtime, sharing)

    def unlocked(household: int) -> None:
        # Cut the clips and check the shared copies that waited for the owner's sign-in.
        runtime.cut_pending_clips(household)
        checks.notify()

    worker = threading.Thread(target=checks.run_forever, args=(runtime.stop,), name="share-checks")
    worker.start()
    runtime.threads.append(worker)  # joined by close, after stop is set
    view_log = AuditLog(runtime.store, AuditKey.load_or_create(key_path(runtime.config.data_dir)))
    services = WebServices(
        camera_registry=runtime.cameras,  # the runtime listens to it
        health=runtime.health,
        on_shared=checks.notify,
        share_listeners=listeners,
        review_desk=desk,
        sharing_service=sharing,
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
