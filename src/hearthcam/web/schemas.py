"""Pydantic models of every request and response body of the web API (docs/web-api.md).

Requests forbid unknown keys and bound every string, so a malformed or oversized field is a 422
before any work is done. Responses carry only what the contract names: never hashes, secrets or
file paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from hearthcam.accounts import LoginState, Role
from hearthcam.accounts.passwords import MIN_PASSWORD, USERNAME_PATTERN
from hearthcam.config import MAX_RETENTION_HOURS, MIN_RETENTION_HOURS
from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.types import Event, TrackSummary, Verdict

# Event ids are uuid4 hex (pipeline.events); camera names follow the config's rule.
EVENT_ID_PATTERN = r"^[0-9a-f]{32}$"
CAMERA_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_EVENTS = 500

EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
# A new account's name and password. The rules are checked by accounts (whose words the form
# shows, and which cannot all be a schema: a password may not contain the name); the spec
# still documents the shape, so a client knows a name like "£y" is refused.
NewUsername = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(json_schema_extra={"pattern": USERNAME_PATTERN, "minLength": 3}),
]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    Field(json_schema_extra={"minLength": MIN_PASSWORD}),
]
Hours = Annotated[
    float,
    Field(ge=MIN_RETENTION_HOURS, le=MAX_RETENTION_HOURS, description="hours events are kept"),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    """Every 4xx body."""

    detail: str


# Setup and login ------------------------------------------------------------------------------


class SetupStatusOut(BaseModel):
    """Whether first-start setup is still open."""

    needed: bool


class SetupIn(_In):
    """The first owner and their household."""

    username: NewUsername
    password: NewPassword
    household: Annotated[str, StringConstraints(min_length=1, max_length=128)]


class LoginIn(_In):
    """A username and password."""

    username: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    password: Password


class CodeIn(_In):
    """A TOTP code (6 digits) or a recovery code."""

    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class StateOut(BaseModel):
    """The session's login state and its CSRF token (the token changes at every login step)."""

    state: LoginState
    csrf_token: str


class MeOut(BaseModel):
    """The session's user."""

    username: str
    role: Role
    household: str | None
    state: LoginState
    mfa_enabled: bool
    csrf_token: str


class TotpEnrollOut(BaseModel):
    """A new TOTP secret, shown once (``uri`` is what the QR code encodes)."""

    secret: str
    uri: str


class TotpConfirmOut(BaseModel):
    """TOTP is on; the recovery codes are shown this once."""

    state: LoginState
    csrf_token: str
    recovery_codes: list[str]


class PasswordIn(_In):
    """A password change."""

    current: Password
    new: NewPassword


class EncryptionOut(BaseModel):
    """How the caller's household's recordings are protected."""

    available: bool = Field(description="media are encrypted at rest here")
    password_mode: bool = Field(description="the household key also needs the owner's password")
    unlocked: bool = Field(description="the server can open the recordings now")
    can_manage: bool = Field(description="the caller is an owner (may switch modes or lock)")


class EncryptionIn(_In):
    """Switching password mode on or off; the caller's own password, again."""

    password_mode: bool
    password: Password


class UnlockIn(_In):
    """Opening locked recordings in place: the owner's password."""

    password: Password


# Cameras and events ---------------------------------------------------------------------------


class CameraOut(BaseModel):
    """A camera of the caller's household and where its live views are."""

    name: str
    display_name: str
    mse_url: str
    mjpeg_url: str
    snapshot_url: str


class CameraHealthOut(BaseModel):
    """How a camera is doing (``pipeline.health.CameraHealth``), with the server's clock so a
    page can say "3 s ago" whatever its own clock says."""

    camera: str
    connection: Connection
    frames_in: int
    frames_analysed: int
    frames_dropped: int
    analysis_errors: int
    last_frame_at: float | None
    connected_since: float | None
    reconnects: int
    last_error: str | None
    last_error_at: float | None
    last_error_count: int
    analysis_failing: bool
    server_time: float

    @classmethod
    def of(cls, health: CameraHealth, now: float) -> CameraHealthOut:
        return cls(
            camera=health.camera,
            connection=health.connection,
            frames_in=health.frames_in,
            frames_analysed=health.frames_analysed,
            frames_dropped=health.frames_dropped,
            analysis_errors=health.analysis_errors,
            last_frame_at=health.last_frame_at,
            connected_since=health.connected_since,
            reconnects=health.reconnects,
            last_error=health.last_error,
            last_error_at=health.last_error_at,
            last_error_count=health.last_error_count,
            analysis_failing=health.analysis_failing,
            server_time=now,
        )


class TrackOut(BaseModel):
    """One object followed during an event."""

    label: str
    best_score: float
    hits: int
    zones: list[str]

    @classmethod
    def of(cls, track: TrackSummary) -> TrackOut:
        return cls(
            label=track.label,
            best_score=track.best_score,
            hits=track.hits,
            zones=sorted(track.zones),
        )


def cursor_of(event: Event) -> str:
    """The timeline cursor after ``event``: its exact wall start (``repr`` round-trips a float)
    and its id."""
    return f"{event.wall_start!r}~{event.id}"


def parse_cursor(value: str) -> tuple[float, str]:
    """The (wall_start, id) of a cursor made by ``cursor_of``; ValueError if it is not one."""
    when, _, event_id = value.partition("~")
    wall_start = float(when)
    if not 0 <= wall_start <= MAX_TIME:  # also refuses nan and inf
        raise ValueError("a cursor's time is out of range")
    return wall_start, event_id


def _valid_cursor(value: str) -> str:
    parse_cursor(value)
    return value


EventCursor = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9.e+-]{1,32}~[0-9a-f]{32}$"),
    AfterValidator(_valid_cursor),
    Field(description="the `cursor` of the last event of the page before"),
]


class EventOut(BaseModel):
    """An event as the timeline shows it (times ISO 8601, UTC)."""

    id: str
    camera: str
    camera_name: str
    verdict: Verdict
    labels: list[str]
    zones: list[str]
    start: dt.datetime
    end: dt.datetime
    duration: float = Field(description="seconds")
    score: float
    alert: bool
    snapshot_url: str | None
    clip_url: str | None = Field(description="the first clip (of ``clip_urls``)")
    clip_urls: list[str] = Field(
        description="every clip of the event in order: a long event has several consecutive ones"
    )
    reviewed: bool = Field(False, description="someone of the household marked it reviewed")
    cursor: str = Field(description="pass as `after` to list the events after this one")

    @classmethod
    def fields_of(cls, event: Event, camera_name: str, reviewed: bool = False) -> dict[str, object]:
        """The field values for ``event`` (shared with ``EventDetailOut``)."""
        base = f"/api/events/{event.id}"
        return {
            "reviewed": reviewed,
            "cursor": cursor_of(event),
            "id": event.id,
            "camera": event.camera,
            "camera_name": camera_name,
            "verdict": event.verdict,
            "labels": list(event.labels),
            "zones": list(event.zones),
            "start": dt.datetime.fromtimestamp(event.wall_start, dt.UTC),
            "end": dt.datetime.fromtimestamp(event.wall_end, dt.UTC),
            "duration": max(0.0, event.wall_end - event.wall_start),
            "score": event.score,
            "alert": event.alert,
            "snapshot_url": None if event.snapshot is None else f"{base}/snapshot",
            "clip_url": None if event.clip is None else f"{base}/clip",
            "clip_urls": [
                f"{base}/clip" if n == 1 else f"{base}/clip?part={n}"
                for n in range(1, len(event.clips) + 1)
            ],
        }

    @classmethod
    def of(cls, event: Event, camera_name: str, reviewed: bool = False) -> EventOut:
        return cls.model_validate(cls.fields_of(event, camera_name, reviewed))


class ObjectGroupOut(BaseModel):
    """The objects of one label followed during an event: how many, seen how well, where."""

    label: str
    count: int = Field(description="objects (tracks) of this label")
    best_score: float
    hits: int = Field(description="frames they were detected in, all together")
    zones: list[str]


def object_groups(tracks: list[TrackSummary]) -> list[ObjectGroupOut]:
    """``tracks`` grouped by label, the best seen first."""
    by_label: dict[str, list[TrackSummary]] = {}
    for track in tracks:
        by_label.setdefault(track.label, []).append(track)
    groups = [
        ObjectGroupOut(
            label=label,
            count=len(group),
            best_score=max(t.best_score for t in group),
            hits=sum(t.hits for t in group),
            zones=sorted(set().union(*(t.zones for t in group))),
        )
        for label, group in by_label.items()
    ]
    return sorted(groups, key=lambda g: (-g.best_score, g.label))


_RULES = RuleVerdict()


class EventDetailOut(EventOut):
    """An event with the objects followed in it: every track, and the same grouped by label
    (``objects``) apart from the vehicles that stood still (``parked``: the verdict ignores
    them, they are seen whenever motion nearby is checked)."""

    tracks: list[TrackOut]
    objects: list[ObjectGroupOut]
    parked: list[ObjectGroupOut]
    clip_duration: float | None = Field(
        description="seconds of the clip (from the file), null without a readable clip"
    )

    @classmethod
    def detail(
        cls,
        event: Event,
        camera_name: str,
        reviewed: bool = False,
        clip_duration: float | None = None,
    ) -> EventDetailOut:
        fields = cls.fields_of(event, camera_name, reviewed)
        fields["tracks"] = [TrackOut.of(t) for t in event.tracks]
        parked = [t for t in event.tracks if _RULES.parked(t)]
        fields["objects"] = object_groups([t for t in event.tracks if not _RULES.parked(t)])
        fields["parked"] = object_groups(parked)
        fields["clip_duration"] = clip_duration
        return cls.model_validate(fields)


# Names as the config has them (its rules may name any zone or camera); bounded, not patterned.
RuleName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# A detector's class name ("person", "traffic light"); bounded, not patterned.
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# Unix seconds up to the year 9999: bounds that datetime and SQLite both handle.
MAX_TIME = 253_402_300_799.0
UnixTime = Annotated[float, Field(ge=0, le=MAX_TIME, description="unix seconds")]


class EventQuery(BaseModel):
    """The timeline's filters (query parameters; unknown ones, such as a cache buster, are
    ignored)."""

    camera: Annotated[str, StringConstraints(pattern=CAMERA_NAME_PATTERN)] | None = None
    verdict: Verdict | None = None
    since: UnixTime | None = None
    until: UnixTime | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_EVENTS)] = 100
    label: Label | None = None
    zone: RuleName | None = None
    alert: bool | None = Field(None, description="true: alerted events only; false: the others")
    reviewed: bool | None = None
    after: EventCursor | None = None


class ReviewAllIn(_In):
    """Marks reviewed every event that matches these filters (the timeline's, all pages)."""

    camera: Annotated[str, StringConstraints(pattern=CAMERA_NAME_PATTERN)] | None = None
    verdict: Verdict | None = None
    since: UnixTime | None = None
    until: UnixTime | None = None
    label: Label | None = None
    zone: RuleName | None = None
    alert: bool | None = None


class ReviewedOut(BaseModel):
    """An event's reviewed state."""

    reviewed: bool


class ReviewAllOut(BaseModel):
    """How many events were newly marked reviewed."""

    marked: int


class BulkDeleteIn(_In):
    """Events to delete; ids the caller may not see are ignored."""

    ids: Annotated[list[EventId], Field(min_length=1, max_length=MAX_EVENTS)]


class BulkDeleteOut(BaseModel):
    """How many events were deleted."""

    deleted: int


# Settings and users ---------------------------------------------------------------------------


class RetentionHours(_In):
    """Hours events of each verdict are kept."""

    threat: Hours
    pet: Hours
    vehicle: Hours
    motion: Hours


HHMM = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALL_DAYS: list[Day] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ScheduleIO(_In):
    """A time window (local, HH:MM; may wrap midnight) on some days of the week."""

    start: Annotated[str, StringConstraints(pattern=HHMM)]
    end: Annotated[str, StringConstraints(pattern=HHMM)]
    days: list[Day] = Field(default_factory=lambda: list(ALL_DAYS), min_length=1, max_length=7)


class AlertRuleIO(_In):
    """What alerts in one mode: these verdicts, in these zones and cameras (empty: any), at
    these times (empty: always)."""

    # Bounds leave room for what a config file may hold (it is shown here as it is).
    verdicts: list[Verdict] = Field(max_length=16)
    zones: list[RuleName] = Field(default_factory=list, max_length=256)
    cameras: list[RuleName] = Field(default_factory=list, max_length=256)
    schedule: list[ScheduleIO] = Field(default_factory=list, max_length=64)


class AlertRulesIO(_In):
    """The alert rule of each mode."""

    home: AlertRuleIO
    away: AlertRuleIO


class SettingsIO(_In):
    """The household's run-time settings (request and response; a PUT without ``alerts``
    keeps the rules stored)."""

    mode: Literal["home", "away"]
    retention: RetentionHours
    alerts: AlertRulesIO | None = None


# Web Push ---------------------------------------------------------------------------------------


class PushKeyOut(BaseModel):
    """The VAPID public key (base64url, uncompressed P-256 point): the applicationServerKey."""

    public_key: str


class PushKeysIn(_In):
    """The browser's encryption keys for this subscription (RFC 8291)."""

    p256dh: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    auth: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PushSubscriptionIn(_In):
    """``PushSubscription.toJSON()`` as the browser gives it."""

    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    expirationTime: float | None = None
    keys: PushKeysIn


# Camera masks and zones ---------------------------------------------------------------------------

Coordinate = Annotated[float, Field(ge=0, le=1)]
PointIO = Annotated[list[Coordinate], Field(min_length=2, max_length=2)]


class PolygonIO(_In):
    """A polygon in relative coordinates (0..1 of the frame's width and height)."""

    points: list[PointIO] = Field(min_length=3, max_length=256)


class ZoneIO(_In):
    """A named zone: events say which zones their objects touched."""

    # Bounds leave room for what a config file may hold (it is shown here as it is).
    name: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$")]
    points: list[PointIO] = Field(min_length=3, max_length=256)
    objects: list[Annotated[str, StringConstraints(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=16
    )


class GeometryIO(_In):
    """A camera's motion masks (ignored areas) and zones (request and response)."""

    mask: list[PolygonIO] = Field(default_factory=list, max_length=64)
    zones: list[ZoneIO] = Field(default_factory=list, max_length=64)


StreamUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class CameraSourceIn(_In):
    """A camera as the owner enters it: a name and its streams (tested before it is saved)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    detect_url: StreamUrl = Field(
        description="the stream analysed (and recorded, when no main stream is given); a "
        "password shown as *** keeps the stored one"
    )
    record_url: StreamUrl | None = Field(None, description="the main stream, recorded by copy")
    enabled: bool = True


class CameraSourceOut(BaseModel):
    """A camera's name and streams as the owner's form shows them (passwords as ***)."""

    camera: str
    name: str
    detect_url: str
    record_url: str | None
    enabled: bool
    from_config: bool = Field(description="set in the config file: can be edited, not removed")


class StreamTestIn(_In):
    """A stream URL to try; ``camera`` lets a URL whose password shows as *** use the stored one."""

    url: StreamUrl
    camera: Annotated[str, StringConstraints(pattern=CAMERA_NAME_PATTERN)] | None = None


class StreamTestOut(BaseModel):
    """What a stream test found: a decoded frame's size, or why there was none."""

    ok: bool
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    error: str | None = None


ShareStatusName = Literal["consented", "checking", "published", "disposed", "owner_only"]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ReceiptOut(BaseModel):
    """What sharing a clip means, shown before the owner agrees; ``sha256`` goes back with
    the consent so what is stored is exactly what was shown."""

    receipt: dict[str, Any]
    sha256: str


ShareTo = Literal["home", "hub"]


class ShareIn(_In):
    """The owner's consent to the receipt they were shown (for the event's clip ``part``, to
    this home's annotators or to the review hub it is linked to)."""

    receipt_sha256: Sha256Hex
    part: int = Field(1, ge=1, le=1000, description="which of a long event's clips, from 1")
    to: ShareTo = Field("home", description="home: this installation's annotators; hub: the hub")


class HubLogOut(BaseModel):
    """The last scheduled round of checking the hub's view log of this home's clips: ``ok``
    with ``views`` (entries about this home's clips) and ``size`` (the whole log), or the
    ``findings`` an honest hub cannot show."""

    checked_at: dt.datetime
    url: str
    ok: bool
    views: int = 0
    size: int = 0
    findings: list[str] = []


class HubOut(BaseModel):
    """The review hub this home can share clips with (``linked`` false: none; the rest is then
    empty), with the terms its operator stated and its key's fingerprint, and the last round of
    checking its view log (``log``; kept after an unlink: it says what the hub showed)."""

    linked: bool
    log: HubLogOut | None = None
    address: str = ""
    operator: str = ""
    annotators_in: str = ""
    keep_days: int = 0
    fingerprint: str = ""


class HubCopyOut(BaseModel):
    """The review hub's copy of a shared clip, as this home knows it: ``state`` sending, held,
    withdrawing (to be deleted there), deleted (``receipt``: the hub's signed deletion
    receipt), gone (the hub held it no more) or refused (``error``: why)."""

    share_id: str
    state: Literal["sending", "held", "withdrawing", "deleted", "gone", "refused"]
    sent: dt.datetime | None
    updated: dt.datetime
    size: int
    error: str
    receipt: dict[str, Any] | None


class ShareMoveOut(BaseModel):
    """One move in a share's history: what happened, when, from and to which status, and who
    asked (``by``: a username; None for the machine checks); ``note``: the outcome a re-run
    replaced."""

    at: dt.datetime
    event: str
    before: str
    after: str
    by: str | None
    note: str


class ShareOut(BaseModel):
    """One shared clip as its owner sees it under "My shared clips"."""

    id: str
    event_id: str
    camera: str
    clip_start: str | None
    status: ShareStatusName
    reason: str
    shared: dt.datetime
    kept_until: dt.datetime
    receipt: dict[str, Any]
    receipt_sha256: str
    facts: dict[str, Any]
    history: list[ShareMoveOut] = []
    hub: HubCopyOut | None = None


class WithdrawalOut(BaseModel):
    """What a withdrawal deleted."""

    id: str
    files_deleted: int
    actions: list[str]
