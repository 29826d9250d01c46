"""Typed, immutable configuration: YAML in, pydantic models out; every unknown key is an error.

The shape follows Frigate's (cameras -> inputs with roles, detect, motion masks, zones, objects,
record/retention) so a Frigate user recognises it. Loaded once; no runtime state lives here.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hearthcam.errors import ConfigError, HearthcamError
from hearthcam.types import Verdict

Point = tuple[float, float]
Role = Literal["record", "detect"]
ALL_ROLES: tuple[Role, ...] = ("record", "detect")
#: Output decoders the detector knows (pipeline.detect has one function per kind).
DetectorKind = Literal["nanodet", "centernet"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    """Accepts only an http(s) URL with a host: alerts must never reach file://, gopher:// or a
    local path, whatever a config file (or whoever wrote it) says."""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"expected an http:// or https:// URL, got {shown}")
    if not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


def _parse_polygon(value: Any) -> Any:
    """Accepts Frigate's "x1,y1,x2,y2,..." string or a list of [x, y] pairs (relative 0..1)."""
    if isinstance(value, str):
        numbers = [float(v) for v in re.split(r"[,\s]+", value.strip()) if v]
        if len(numbers) % 2:
            raise ValueError("a polygon string needs an even number of coordinates")
        return [(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)]
    return value


def _check_polygon(points: list[Point]) -> list[Point]:
    if len(points) < 3:
        raise ValueError("a polygon needs at least 3 points")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"coordinates are relative to the frame (0..1), got ({x}, {y})")
    return points


class Polygon(_Model):
    """A polygon in relative coordinates (0..1 of the frame width/height)."""

    points: list[Point]

    @model_validator(mode="before")
    @classmethod
    def _from_any(cls, value: Any) -> Any:
        if isinstance(value, str | list):
            return {"points": _parse_polygon(value)}
        return value

    @field_validator("points")
    @classmethod
    def _valid(cls, points: list[Point]) -> list[Point]:
        return _check_polygon(points)


class InputConfig(_Model):
    """One stream of a camera. ``record`` is stored by copy; ``detect`` is decoded and analysed."""

    path: str = Field(description="rtsp://, http(s)://, a file path, or a USB camera (/dev/videoN)")
    roles: list[Role] = Field(default_factory=lambda: list(ALL_ROLES), min_length=1)


class DetectConfig(_Model):
    """How the detect stream is analysed."""

    enabled: bool = True
    fps: float = Field(5.0, gt=0, le=30, description="analysed frames per second")
    width: int | None = Field(
        None, ge=64, le=3840, description="detect width (default: 640, or the source if smaller)"
    )
    height: int | None = Field(
        None, ge=64, le=2160, description="detect height (default: keeps the source aspect)"
    )

    def size_for(self, source_width: int, source_height: int) -> tuple[int, int]:
        """The detect frame size for a source, keeping its aspect where not configured."""
        width = self.width or min(640, source_width)
        if self.height is not None:
            height = self.height
        else:
            height = round(source_height * width / source_width)
        # Even sizes keep the scaler's chroma handling exact.
        return width - width % 2, max(2, height - height % 2)


class MotionConfig(_Model):
    """Frame-difference motion detection on a downscaled grey frame."""

    threshold: int = Field(25, ge=1, le=255, description="per-pixel change to count as motion")
    contour_area: float = Field(
        0.001, gt=0, lt=1, description="smallest moving blob, as a fraction of the frame"
    )
    scale_width: int = Field(320, ge=32, le=1920, description="width of the motion analysis frame")
    frame_alpha: float = Field(0.1, gt=0, le=1, description="background adaptation rate")
    lightning_threshold: float = Field(
        0.8, gt=0, le=1, description="changed fraction above which motion is a global light change"
    )
    mask: list[Polygon] = Field(default_factory=list, description="areas ignored for motion")

    @field_validator("mask", mode="before")
    @classmethod
    def _one_mask(cls, value: Any) -> Any:
        # Frigate accepts a single polygon string as well as a list of them.
        return [value] if isinstance(value, str) else value


class ObjectFilter(_Model):
    """Per-label thresholds."""

    min_score: float = Field(0.5, ge=0, le=1)
    min_area: float = Field(0.0005, ge=0, le=1, description="smallest box, fraction of the frame")


DEFAULT_TRACK = ["person", "cat", "dog", "bird", "horse", "car", "truck", "bus", "motorcycle"]
#: Labels whose default ``min_score`` is 0.4, not 0.5. Pets: a pet never alerts. Vehicles: both
#: packaged detectors score real vehicles mostly 0.3-0.5 (small, blurred, seen from a high
#: mount), so at 0.5 a car park camera saw only "motion"; a vehicle event also needs its track
#: to travel (``pipeline.runner.MIN_TRAVEL``), which keeps a lower score from making events of
#: parked cars.
#: Chosen from the hand-labelled footage of ``hearthcam bench detector`` (the same figures that
#: report it: vehicle sightings kept 10 of 31 at 0.4 against 1 at 0.5 with NanoDet-m, 26
#: against 2 with CenterNet, no false group at 0.4), so not an independent measure.
LOWER_BAR = ("cat", "dog", "car", "truck", "bus", "motorcycle")


class ObjectsConfig(_Model):
    """Which objects are tracked and how sure the detector must be."""

    track: list[str] = Field(default_factory=lambda: list(DEFAULT_TRACK))
    min_score: float = Field(0.5, ge=0, le=1, description="default for labels without a filter")
    filters: dict[str, ObjectFilter] = Field(
        default_factory=lambda: {a: ObjectFilter(min_score=0.4) for a in LOWER_BAR},
        description="per-label thresholds; pets and vehicles default to 0.4 (see LOWER_BAR)",
    )

    @field_validator("track")
    @classmethod
    def _known(cls, labels: list[str]) -> list[str]:
        from hearthcam.labels import COCO_LABELS

        unknown = [label for label in labels if label not in COCO_LABELS]
        if unknown:
            raise ValueError(f"unknown labels {unknown}; use COCO names such as person, cat, dog")
        return labels


class ZoneConfig(_Model):
    """A named polygon; events record the zones their objects touched."""

    coordinates: Polygon
    objects: list[str] = Field(default_factory=list, description="only these labels count (all)")


#: Bounds of ``events.gap``: a detect frame or more, and no longer than a calm may last.
GAP_RANGE = (0.2, 120.0)


def _check_gap(value: float) -> float:
    low, high = GAP_RANGE
    if not low <= value <= high:
        raise ValueError(
            f"seconds without a tracked object that end an event: expected {low:g} to {high:g},"
            f" got {value:g}"
        )
    return value


class EventsConfig(_Model):
    """When activity becomes an event and when the event ends.

    ``gap`` (default 2.5 s) ends an event that has seen an object once no object has been seen
    for that long, so each visit is its own event. Chosen from real footage (Debian opencv-doc's
    vtest.avi, 40 people tracked over 69 s, docs/events.md): the longest a tracked person went
    unseen and was found again was 2.2 s (the tracker keeps a lost one for 2 s), so 2.5 s does
    not split one person's visit there; a room empty for 3 s between two visitors (the shortest
    gap of issue 12's recording) leaves at least 2.8 s between the last frame with a person and
    the last one without at the default 5 detect frames a second (2.5 s at 2 a second).
    """

    end_after: float = Field(4.0, gt=0, le=120, description="seconds of calm that end an event")
    gap: float = Field(
        2.5, description="seconds without a tracked object that end an event that saw one"
    )
    motion_min_seconds: float = Field(
        2.0, gt=0, le=60, description="sustained motion with no object before a motion event"
    )
    motion_events: bool = Field(True, description="record events of motion with no object")
    max_seconds: float = Field(300.0, ge=10, le=3600, description="longer activity is split")

    @field_validator("gap")
    @classmethod
    def _gap(cls, value: float) -> float:
        return _check_gap(value)


class CameraEventsConfig(_Model):
    """A camera's own event settings; what it leaves out comes from the global ``events``."""

    gap: float | None = Field(
        None, description="seconds without a tracked object that end an event (events.gap)"
    )

    @field_validator("gap")
    @classmethod
    def _gap(cls, value: float | None) -> float | None:
        return None if value is None else _check_gap(value)

    def over(self, defaults: EventsConfig) -> EventsConfig:
        """``defaults`` with this camera's settings on top."""
        if self.gap is None:
            return defaults
        return defaults.model_copy(update={"gap": self.gap})


class CameraConfig(_Model):
    """One camera: its streams, detection, motion masks, zones and objects."""

    enabled: bool = True
    name: str | None = Field(None, description="display name (defaults to the key)")
    inputs: list[InputConfig] = Field(min_length=1)
    detect: DetectConfig = Field(default_factory=DetectConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    zones: dict[str, ZoneConfig] = Field(default_factory=dict)
    objects: ObjectsConfig | None = Field(None, description="overrides the global objects")
    events: CameraEventsConfig = Field(
        default_factory=CameraEventsConfig, description="overrides keys of the global events"
    )

    def objects_or(self, defaults: ObjectsConfig) -> ObjectsConfig:
        """The objects this camera tracks: its own, else ``defaults`` (the config's)."""
        return self.objects if self.objects is not None else defaults

    def events_over(self, defaults: EventsConfig) -> EventsConfig:
        """This camera's event settings: its own keys over ``defaults`` (the config's)."""
        return self.events.over(defaults)

    @model_validator(mode="after")
    def _roles(self) -> CameraConfig:
        roles = [r for i in self.inputs for r in i.roles]
        for role in ("record", "detect"):
            if roles.count(role) > 1:
                raise ValueError(f"only one input may have the role {role!r}")
        if "detect" not in roles:
            raise ValueError("one input needs the role 'detect'")
        return self


class RecordConfig(_Model):
    """Continuous recording by stream copy, and how event clips are cut from it."""

    enabled: bool = True
    segment_seconds: float = Field(4.0, ge=1, le=60, description="length of recorded segments")
    pre_roll: float = Field(5.0, ge=0, le=30, description="seconds kept before an event")
    post_roll: float = Field(5.0, ge=0, le=30, description="seconds kept after an event")
    min_clip: float = Field(20.0, ge=1, le=300, description="shortest clip, seconds")
    max_clip: float = Field(
        30.0, ge=1, le=600, description="longest clip, seconds; longer events get several"
    )

    @model_validator(mode="after")
    def _order(self) -> RecordConfig:
        if self.min_clip > self.max_clip:
            raise ValueError("min_clip must not exceed max_clip")
        return self


# Retention bounds: below an hour a clip may be deleted before its owner could look at it (a
# fuzzer's 5e-324 h wiped a household at the next sweep); above a year is a typo, not a wish.
MIN_RETENTION_HOURS = 1.0
MAX_RETENTION_HOURS = 24.0 * 365
Hours = Annotated[float, Field(ge=MIN_RETENTION_HOURS, le=MAX_RETENTION_HOURS)]


def in_retention_bounds(hours: float) -> bool:
    """Whether ``hours`` is a retention the app accepts."""
    return MIN_RETENTION_HOURS <= hours <= MAX_RETENTION_HOURS


def _default_event_hours() -> dict[Verdict, float]:
    return {v: 24.0 for v in Verdict}


class RetentionConfig(_Model):
    """How long media are kept, and the disk-space floor below which the oldest go first."""

    events: dict[Verdict, Hours] = Field(
        default_factory=_default_event_hours, description="hours per verdict"
    )
    segments: Hours = Field(1.0, description="hours to keep segments no event uses")
    min_free_mb: float = Field(1024.0, ge=0, description="purge oldest media below this")
    keep_recent_minutes: float = Field(
        10.0,
        ge=0,
        le=24 * 60,
        description="minutes of the newest footage never deleted, even below min_free_mb",
    )
    interval: float = Field(60.0, gt=0, description="seconds between retention sweeps")

    @field_validator("events")
    @classmethod
    def _fill(cls, hours: dict[Verdict, float]) -> dict[Verdict, float]:
        return {**_default_event_hours(), **hours}


#: Built-in detector model names (pipeline.detect maps each to its packaged file).
BUILTIN_DETECTORS = ("nanodet-m-416", "mb3-centernet-512")
#: The output decoder each built-in model needs (``detector.kind`` follows the model name).
BUILTIN_DETECTOR_KINDS: dict[str, DetectorKind] = {
    "nanodet-m-416": "nanodet",
    "mb3-centernet-512": "centernet",
}


def _model_file(value: str) -> str:
    """A detector model is a built-in name or a readable regular ``.onnx`` file.

    Whether ONNX Runtime can load the file is checked where the detector is built (``config
    check`` and start-up), not here: parsing a config must not load models.
    """
    if value in BUILTIN_DETECTORS:
        return value
    path = Path(value).expanduser()
    expected = f"a built-in name ({', '.join(BUILTIN_DETECTORS)}) or a path to an .onnx file"
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"expected {expected}, got {value!r}")
    if not path.is_file():
        missing = "no such file" if not path.exists() else "not a regular file"
        raise ValueError(f"{value}: {missing}; expected {expected}")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{value}: not readable")
    return value


class DetectorConfig(_Model):
    """The ONNX object detector."""

    model: str = Field("nanodet-m-416", description="built-in model name or path to an .onnx file")
    kind: DetectorKind | None = Field(
        None,
        validate_default=True,
        description="output decoder: set by a built-in name; for an .onnx path, nanodet if unset",
    )
    input_size: int | None = Field(
        None, ge=32, le=1280, description="square model input in pixels (unset: the model's own)"
    )
    providers: list[str] = Field(
        default_factory=lambda: ["CUDAExecutionProvider", "OpenVINOExecutionProvider", "CPU"],
        description="ONNX Runtime providers in order of preference (missing ones skipped)",
    )
    threads: int = Field(0, ge=0, le=64, description="intra-op threads (0 = one per core)")
    full_frame_ratio: float = Field(
        0.6,
        gt=0,
        le=1,
        description="detector crops covering more than this fraction -> one full-frame pass",
    )

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return _model_file(value)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: DetectorKind | None, info: ValidationInfo) -> DetectorKind:
        model = info.data.get("model")  # absent when the model key itself was wrong
        builtin = BUILTIN_DETECTOR_KINDS.get(model) if isinstance(model, str) else None
        if builtin is not None and value not in (None, builtin):
            raise ValueError(
                f"{model} is a {builtin} model: leave kind unset or set it to {builtin!r}"
            )
        # An .onnx path without a kind is read as NanoDet, as every config before kinds was.
        return builtin or value or "nanodet"


class ScheduleRule(_Model):
    """Alerts wanted on given days between two times (local, HH:MM; may wrap midnight)."""

    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS))
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d|24:00", value):
            raise ValueError("expected a time as HH:MM")
        return value


class AlertRule(_Model):
    """Which events are alert-worthy for one mode."""

    verdicts: list[Verdict] = Field(default_factory=lambda: [Verdict.THREAT])
    zones: list[str] = Field(default_factory=list, description="only these zones (any)")
    cameras: list[str] = Field(default_factory=list, description="only these cameras (all)")
    schedule: list[ScheduleRule] = Field(default_factory=list, description="when (always)")


class MqttConfig(_Model):
    """Home Assistant-compatible MQTT alerts (discovery, per-verdict binary sensors, events)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    topic_prefix: str = Field("hearthcam", description="state and event topics live under it")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant discovery prefix")
    client_id: str = "hearthcam"

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        # A URL here (mqtt://host/...) would be looked up as a host name and fail at run time.
        if not value.strip() or "/" in value or any(c.isspace() for c in value):
            raise ValueError("expected a host name or address, not a URL (port is its own key)")
        return value


class WebhookConfig(_Model):
    """A JSON webhook, signed with HMAC-SHA256 of the body in the X-Hearthcam-Signature header."""

    url: str = Field(description="http(s) URL receiving a POST per alert")
    secret: str = Field(min_length=16, description="HMAC-SHA256 key (at least 16 characters)")
    retries: int = Field(5, ge=0, le=20, description="retries with exponential backoff")
    timeout: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class NtfyConfig(_Model):
    """Push through an ntfy-compatible HTTP endpoint (POST to <url>/<topic>)."""

    url: str = Field(description="server base URL, e.g. https://ntfy.example.org")
    topic: str = Field(min_length=1)
    token: str | None = Field(None, description="bearer token, if the server wants one")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class WebPushConfig(_Model):
    """Browser Web Push to the installed web app (needs the web app; browsers subscribe there)."""

    enabled: bool = True
    contact: str = Field(
        "mailto:admin@localhost",
        description="VAPID contact (mailto: or https:) push services may use to reach you",
    )
    allow_http_endpoints: bool = Field(
        False,
        description="accept plain-http and LAN/loopback push endpoints (tests and self-hosted "
        "push services only)",
    )

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://")):
            raise ValueError("expected a mailto: or https:// URL")
        return value


class AlertsConfig(_Model):
    """The alert decision (per home/away mode: verdicts, zones, times) and where alerts go."""

    mode: Literal["home", "away"] = "away"
    home: AlertRule = Field(default_factory=lambda: AlertRule(verdicts=[Verdict.THREAT]))
    away: AlertRule = Field(
        default_factory=lambda: AlertRule(verdicts=[Verdict.THREAT, Verdict.VEHICLE])
    )
    cooldown: float = Field(60.0, ge=0, description="seconds between alerts of one camera")
    base_url: str = Field(
        "http://127.0.0.1:8971", description="where the web app is reached (links in alerts)"
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    ntfy: NtfyConfig | None = None
    web_push: WebPushConfig = Field(default_factory=WebPushConfig)

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return _http_url(value)


class SourceConfig(_Model):
    """How sources connect and reconnect."""

    connect_timeout: float = Field(10.0, gt=0, le=120, description="seconds to open a stream")
    read_timeout: float = Field(10.0, gt=0, le=120, description="seconds without data = dead")
    # A camera that comes back (power cut, Wi-Fi drop, reboot) is recorded again within about
    # backoff_max seconds: 1 s doubling to 4 s brought that to 3.1 s after a 16 s outage (the
    # old 30 s cap: 15.8 s), and one refused RTSP connect every 4 s costs the camera and the
    # box next to nothing. Retries go on at that pace for as long as the camera is down.
    backoff_initial: float = Field(1.0, gt=0, le=60, description="first reconnect delay, seconds")
    backoff_max: float = Field(
        4.0, gt=0, le=600, description="longest reconnect delay (retries never stop), seconds"
    )
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    # Over TCP the kernel holds what a camera sends while the reader of a record-only input
    # naps: fewer wake-ups (docs/benchmarks.md, "idle over RTSP"), the live view up to 0.2 s
    # later. Detect inputs are read as their packets come either way.
    read_bursts: bool = Field(
        True, description="read record-only live TCP inputs in bursts of up to 0.2 s"
    )


# A DNS name (letters, digits, hyphens, dots) or a leading "*." wildcard; compared lower-case.
HostName = Annotated[
    str,
    Field(
        min_length=1, max_length=253, pattern=r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$"
    ),
]
ProxyNetwork = Annotated[str, Field(min_length=1, max_length=64)]


class WebConfig(_Model):
    """The owner's web app served by ``hearthcam run``."""

    enabled: bool = True
    host: str = Field("127.0.0.1", description="listen address (0.0.0.0 for the whole LAN)")
    port: int = Field(8971, ge=0, le=65535, description="listen port (0 = any free port)")
    secure_cookies: bool = Field(
        False, description="mark the session cookie Secure (set it behind a TLS proxy)"
    )
    allowed_hosts: tuple[HostName, ...] = Field(
        (),
        max_length=64,
        description="host names browsers may reach the app by (besides loopback, this machine's"
        " own names and any IP address); '*.example.org' allows its subdomains",
    )
    trusted_proxies: tuple[ProxyNetwork, ...] = Field(
        (),
        max_length=64,
        description="addresses or networks of reverse proxies whose X-Forwarded-For is believed",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as error:
                raise ValueError(f"{entry!r} is not an address or network") from error
        return value


class ReviewConfig(_Model):
    """The annotator workbench: leases on redacted shared clips, quotas and the view-log flags."""

    lease_minutes: float = Field(
        10.0, gt=0, le=240, description="minutes an annotator holds a clip before the lease expires"
    )
    daily_quota: int = Field(
        50, ge=1, le=10_000, description="leases an annotator may take per UTC day"
    )
    quota_factor: float = Field(
        2.0, ge=1, le=100, description="views in a day above quota x this are flagged"
    )
    household_views: int = Field(
        20, ge=1, description="views of one household by one viewer within a day that are flagged"
    )
    keyframes: int = Field(
        4, ge=0, le=16, description="keyframes the detector pre-labels at lease time"
    )


class ExportsConfig(_Model):
    """Exports of a time range of one camera as MP4 (kept sealed, listed under Exports)."""

    keep_days: float = Field(
        7.0, gt=0, le=365, description="days a finished export is kept before it is deleted"
    )
    max_minutes: float = Field(
        120.0, gt=0, le=24 * 60, description="longest range one export may cover, minutes"
    )


class AuditConfig(_Model):
    """The view log's signed checkpoints sent to the owner over the alert channels."""

    checkpoint_every_hours: float = Field(
        24.0,
        ge=0,
        le=24 * 365,
        description="hours between checks that send a new signed view log checkpoint over the "
        "alert channels when the log grew (0 = never)",
    )


class ClusterConfig(_Model):
    """Where the heavy work runs: this process (``local``, the default) or a Ray cluster
    (docs/scale.md): the share checks (scan, redaction, second check) and, with ``cameras``,
    the camera pipelines."""

    engine: Literal["local", "ray"] = Field(
        "local", description="local: everything in this process; ray: work on a Ray cluster"
    )
    address: str | None = Field(
        None, description="the Ray cluster's address, HOST:PORT of its head (engine: ray)"
    )
    share_cpus: float = Field(
        1.0, gt=0, le=64, description="CPUs each share-check task declares to Ray"
    )
    cameras: bool = Field(
        False,
        description="engine ray: run each camera's pipeline as a Ray actor on any node (moved "
        "to a live node when its node dies) instead of in this process",
    )
    camera_cpus: float = Field(
        0.25, gt=0, le=64, description="CPUs each camera's actor declares to Ray"
    )
    detector_service: bool = Field(
        False,
        description="cameras: true: one detector per node that the node's cameras share, "
        "instead of one per camera (docs/scale.md)",
    )

    @model_validator(mode="after")
    def _address(self) -> ClusterConfig:
        if self.engine == "ray" and not self.address:
            raise ValueError("engine ray needs address: the head's HOST:PORT (ray start --head)")
        if self.cameras and self.engine != "ray":
            raise ValueError("cameras: true runs cameras on a Ray cluster: set engine: ray")
        if self.detector_service and not self.cameras:
            raise ValueError("detector_service: true serves cameras on the cluster: set cameras")
        return self


# Where home cameras are: the private ranges and loopback (a restreamer on the same box).
DEFAULT_CAMERA_NETWORKS = (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128",
)  # fmt: skip


def _default_camera_networks() -> list[IPvAnyNetwork]:
    return [ipaddress.ip_network(n) for n in DEFAULT_CAMERA_NETWORKS]


class Config(_Model):
    """The whole configuration file."""

    data_dir: Path = Field(Path("hearthcam-data"), description="media and database live here")
    database: str | None = Field(None, description="SQLAlchemy URL (SQLite in data_dir if unset)")
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    source: SourceConfig = Field(default_factory=SourceConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    exports: ExportsConfig = Field(default_factory=ExportsConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    cameras: dict[str, CameraConfig] = Field(default_factory=dict)
    cameras_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=_default_camera_networks,
        description="CIDR networks where cameras added in the app may be (config cameras are "
        "not limited); link-local, metadata, multicast and unspecified addresses never are",
    )

    @field_validator("cameras")
    @classmethod
    def _names(cls, cameras: dict[str, CameraConfig]) -> dict[str, CameraConfig]:
        for name in cameras:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
                raise ValueError(f"camera name {name!r}: use letters, digits, _ and - only")
        return cameras

    @model_validator(mode="after")
    def _cluster_database(self) -> Config:
        if self.cluster.engine == "ray" and self.database_url.startswith("sqlite"):
            raise ValueError(
                "cluster.engine ray needs a database every node reaches: set database: "
                "postgresql+psycopg://... (docs/scale.md)"
            )
        return self

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'hearthcam.db'}"


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item == "[key]":
            parts.append(" (the key)")
        elif item == "points" or item.startswith(("function-", "tagged-")):
            # "points" is the inner field of a polygon given as a string or list in YAML.
            continue
        elif item not in ("str", "list[...]"):
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def format_errors(error: ValidationError) -> list[str]:
    """One line per problem: the key path, then what was expected."""
    lines = []
    for err in error.errors():
        path = _location(tuple(err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{path}: {message}")
    return lines


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validates a parsed YAML document, raising ConfigError with every key path that is wrong."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["(top level): expected a mapping of keys"])
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, format_errors(error)) from None


MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; anything near this is the wrong file


class _DuplicateKey(HearthcamError):
    """A mapping holds one key twice (YAML says it must not; PyYAML keeps the last silently)."""

    def __init__(self, key: object, first: int, again: int) -> None:
        super().__init__(f"line {again}: duplicate key {key!r} (first at line {first})")


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (two ``front:`` cameras would
    otherwise merge into the last one without a word). Merge keys (``<<``) may still override."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise _DuplicateKey(key, seen[key], line)
                seen[key] = line
            except TypeError:  # an unhashable key: SafeLoader itself refuses it below
                continue
        return super().construct_mapping(node, deep=deep)


def read_document(path: Path) -> Any:
    """Reads a YAML file into plain data (None when it holds nothing), or raises ConfigError:
    unreadable, not UTF-8 (with the byte where it stops being so), not YAML, a duplicate key."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            # A FIFO would block and /dev/zero never end: a config is a plain file.
            raise ConfigError(str(path), ["(file): not a regular file"])
        with path.open("rb") as file:
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError(str(path), [f"(file): cannot read: {error.strerror}"]) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(str(path), [f"(file): over {MAX_CONFIG_BYTES} bytes: not a config"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(str(path), [f"(file): not UTF-8 text at byte {error.start}"]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except _DuplicateKey as error:
        raise ConfigError(str(path), [str(error)]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(path), [f"{where}: not valid YAML: {error}"]) from None


def load_config(path: Path) -> Config:
    """Reads and validates a YAML config file (an empty one is every default)."""
    return parse_config(read_document(path), str(path))
