"""``WebServices``: everything the web app uses, built once by the composition root.

The app never constructs long-lived parts itself; ``create_app(services)`` puts this object in
the lifespan state and routes reach it through ``Depends`` (``deps.get_services``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hearthcam.accounts import Accounts, DeviceKeys
from hearthcam.alerts.endpoints import Resolver, resolve
from hearthcam.annotate.desk import ReviewDesk
from hearthcam.camera_registry import CameraRegistry
from hearthcam.config import CameraConfig, Config
from hearthcam.exports import Exporter
from hearthcam.live import LiveSource
from hearthcam.pipeline.health import CameraHealth
from hearthcam.pipeline.load import CameraLoad
from hearthcam.pipeline.source import StreamInfo, probe
from hearthcam.privacy.consent import Sharing, WithdrawalListener
from hearthcam.privacy.familiar import FamiliarFaces
from hearthcam.privacy.familiar_enrol import Enroller, Models
from hearthcam.privacy.familiar_live import face_models
from hearthcam.recordings.storage import StorageWatch
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.cameras import CameraStore
from hearthcam.store.db import Store
from hearthcam.store.familiar import FamiliarStore
from hearthcam.store.push import PushStore
from hearthcam.store.settings import SettingsStore
from hearthcam.store.shares import ShareStore
from hearthcam.types import EventListener
from hearthcam.vault.media import MediaIO, PlainMedia
from hearthcam.viewlog.log import AuditLog
from hearthcam.viewlog.signing import AuditKey, key_path
from hearthcam.web.bus import EventBus
from hearthcam.web.camera_hosts import HostPolicy
from hearthcam.web.client_address import TrustedProxies
from hearthcam.web.household_keys import HouseholdKeys
from hearthcam.web.hub_links import HubLinks
from hearthcam.web.log_buffer import LogBuffer
from hearthcam.web.stream_budget import StreamTestBudget
from hearthcam.web.stream_test import guarded_probe

# Request bodies are small JSON documents; anything bigger is refused before it is read.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class WebServices:
    """The graph the web app runs on.

    ``live`` maps a camera name to its live views (fMP4 for MSE and MJPEG of the detect stream);
    a camera without an entry has no live view. ``clock`` gives Unix time (tests pass a fake).
    ``secure_cookies`` marks the session cookie Secure even on plain-HTTP requests: set it when
    a TLS proxy in front of the app speaks HTTPS to browsers.
    """

    config: Config
    store: Store
    accounts: Accounts
    clock: Callable[[], float] = time.time
    live: Mapping[str, LiveSource] = field(default_factory=dict)
    bus: EventBus = field(default_factory=EventBus)
    secure_cookies: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    # The VAPID public key browsers subscribe with; None: Web Push is off.
    push_key: str | None = None
    # The cameras (the config's and the app's, resolved alike); the routes tell it of every
    # change an owner makes and the runtime listens to it. None: one loaded from this store.
    camera_registry: CameraRegistry | None = None
    # How a running camera is doing (None: it does not run); the runtime's ``health``.
    health: Callable[[str], CameraHealth | None] = field(default=lambda _c: None)
    # How hard a running camera works (None: it does not run); the runtime's ``load``.
    load: Callable[[str], CameraLoad | None] = field(default=lambda _c: None)
    # The last log records (the System page's logs); ``start_server`` hangs it on the root
    # logger while it serves.
    logs: LogBuffer = field(default_factory=LogBuffer)
    # The storage condition (the runtime's); None: one of the config's, with no pass yet.
    storage: StorageWatch | None = None
    # Told when a clip was shared, so the machine checks start at once (not at their next pass).
    on_shared: Callable[[], None] = field(default=lambda: None)
    # Everyone holding something made from shared clips, told on withdrawal (privacy.consent).
    share_listeners: Sequence[WithdrawalListener] = ()
    # Looks a host name up (push endpoints must not resolve into this box or its LAN).
    resolve_host: Resolver = resolve
    # Opens a stream URL and decodes a frame (raises SourceError); the form's "Test" button.
    # None: the real probe, kept to addresses ``camera_hosts`` allows (``web.stream_test``).
    probe_stream: Callable[[str], StreamInfo] | None = None
    # Stream tests each user may run per minute (adding and editing cameras test too).
    stream_tests: StreamTestBudget = field(default_factory=StreamTestBudget)
    # How media files are read, written and deleted (the composition root passes SealedMedia).
    media: MediaIO = field(default_factory=PlainMedia)
    # The view log every delivery of a clip to a non-owner is appended to before its bytes go
    # (built once by the composition root; None: one over this store and data directory).
    view_log: AuditLog | None = None
    # Annotators' leases and annotations (None: one over this store); also a share listener.
    review_desk: ReviewDesk | None = None
    # Sharing and withdrawal (the composition root passes the one its share checks use, with
    # ``share_listeners``; None: one over this store, the desk and the listeners).
    sharing_service: Sharing | None = None
    # The last scheduled round of checking the review hub's view log (None: none yet).
    hub_log_check: Callable[[], dict[str, Any] | None] = field(default=lambda: None)
    # Links the installation to a review hub and unlinks it (an admin, on the Settings page);
    # None: this server offers no linking (the composition root passes hub.web_links').
    hub_links: HubLinks | None = None
    # Told when a password-mode household was unlocked (its waiting clips can be cut now).
    on_unlocked: Callable[[int], None] = field(default=lambda _h: None)
    # When the web app's services were built (monotonic seconds): the admin's uptime.
    started: float = field(default_factory=time.monotonic)
    # Export jobs (the runtime's, whose worker it starts and stops; None: one over this store,
    # its worker started by the first export).
    exporter: Exporter | None = None
    # The face models enrolment uses (CenterFace and dlib), loaded at the first enrolment.
    face_models: Models = face_models
    settings: SettingsStore = field(init=False)
    push: PushStore = field(init=False)
    camera_entries: CameraStore = field(init=False)
    registry: CameraRegistry = field(init=False)
    sharing: Sharing = field(init=False)
    audit: AuditLog = field(init=False)
    desk: ReviewDesk = field(init=False)
    keys: HouseholdKeys = field(init=False)
    disk: StorageWatch = field(init=False)
    # Signs the known-device cookie (secret under the data directory; accounts.devices).
    devices: DeviceKeys = field(init=False)
    # Whose X-Forwarded-For is believed (``web.trusted_proxies``).
    proxies: TrustedProxies = field(init=False)
    exports: Exporter = field(init=False)
    # Familiar faces (None where media are not sealed: no household key to seal faces under).
    familiar: FamiliarFaces | None = field(init=False)
    enroller: Enroller = field(init=False)

    def __post_init__(self) -> None:
        # Derived from the store, so callers cannot hand in one over another database.
        object.__setattr__(self, "settings", SettingsStore(self.store))
        object.__setattr__(self, "push", PushStore(self.store))
        object.__setattr__(self, "camera_entries", CameraStore(self.settings))
        registry = self.camera_registry
        if registry is None:
            registry = CameraRegistry.load(self.config, self.settings)
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "keys", HouseholdKeys(self.media, self.on_unlocked))
        object.__setattr__(self, "disk", self.storage or StorageWatch.of(self.config.retention))
        object.__setattr__(self, "devices", DeviceKeys.load_or_create(self.config.data_dir))
        proxies = TrustedProxies.parse(self.config.web.trusted_proxies)
        object.__setattr__(self, "proxies", proxies)
        shares = ShareStore(self.store)
        desk = self.review_desk or ReviewDesk(
            AnnotationStore(self.store), shares, self.store, self.config.data_dir, self.media,
            self.config.review, clock=self.clock,
        )  # fmt: skip
        sharing = self.sharing_service
        if sharing is None:
            listeners = [desk, *(x for x in self.share_listeners if x is not desk)]
            sharing = Sharing(shares, self.config.data_dir, listeners=listeners, media=self.media)
        object.__setattr__(self, "sharing", sharing)
        object.__setattr__(self, "desk", desk)
        audit = self.view_log
        if audit is None:
            audit = AuditLog(self.store, AuditKey.load_or_create(key_path(self.config.data_dir)))
        object.__setattr__(self, "audit", audit)
        exporter = self.exporter or Exporter(
            self.store, self.media, self.config.data_dir, self.config.exports, clock=self.clock
        )
        object.__setattr__(self, "exports", exporter)
        ring = self.keys.keyring
        familiar = None if ring is None else FamiliarFaces(FamiliarStore(self.store), ring)
        object.__setattr__(self, "familiar", familiar)
        object.__setattr__(self, "enroller", Enroller(self.face_models))

    def cameras(self) -> Mapping[str, CameraConfig]:
        """Every camera as it runs: the config's and the app's (``registry``)."""
        return self.registry

    @property
    def camera_hosts(self) -> HostPolicy:
        """Where cameras added in the app may be (``cameras_allowed_networks``)."""
        return HostPolicy(self.config.cameras_allowed_networks, self.resolve_host)

    def probe(self, url: str, *, guarded: bool = True) -> StreamInfo:
        """Opens ``url`` and decodes one frame, in bounded time, only at addresses
        ``camera_hosts`` allows (StreamRefused; SourceError if it cannot). ``guarded=False``
        is for a config camera's own URL (the admin chose it: files, any network)."""
        if self.probe_stream is None:
            if not guarded:
                return probe(url, self.config.source)
            return guarded_probe(url, self.config.source, self.camera_hosts)
        if not guarded:
            return self.probe_stream(url)
        host = urlsplit(url).hostname
        if host is not None:
            self.camera_hosts.vetted(host)  # the same refusals, before a fake probe runs
        return self.probe_stream(url)

    @property
    def data_dir(self) -> Path:
        """Where media live (every file the app serves or deletes is inside it)."""
        return self.config.data_dir

    @property
    def events_listener(self) -> EventListener:
        """Register this with the runtime so the SSE stream hears about new events."""
        return self.bus.on_change
