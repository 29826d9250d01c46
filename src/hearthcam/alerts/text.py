"""What an alert says: its words, its link, and the JSON document every channel sends.

Pure: an event and the config in, text out. Nothing here reads a file, opens a socket or reads
the clock. No file path ever reaches the output: media are named by their URLs in the web app,
which asks the viewer to log in before it serves them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias
from urllib.parse import quote

from hearthcam.config import AlertsConfig, CameraConfig
from hearthcam.types import Event, Verdict

JsonValue: TypeAlias = "str | int | float | bool | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = dict[str, JsonValue]

_SUBJECTS = {
    Verdict.THREAT: "Person",
    Verdict.VEHICLE: "Vehicle",
    Verdict.MOTION: "Motion",
    Verdict.FAMILIAR: "Household member",
}
_PETS = {"cat": "Cat", "dog": "Dog"}


class AlertKind(enum.Enum):
    """Which message about an event this is."""

    NEW = "alert"  # the first (and usually only) message about an alert-worthy event
    CLIP = "clip"  # the follow-up once the event's clip is ready, for channels that want it


@dataclass(frozen=True, slots=True)
class Alert:
    """One message about one event, the same for every channel.

    ``event`` is kept for channels that publish media themselves (MQTT reads the snapshot file);
    ``payload`` is what leaves the box and never holds a path.
    """

    event: Event
    kind: AlertKind
    camera_name: str
    title: str
    body: str
    link: str
    payload: Mapping[str, JsonValue]


@dataclass(frozen=True, slots=True)
class CameraActivity:
    """The verdicts of a camera's open events right now: the state its binary sensors show."""

    camera: str
    active: frozenset[Verdict]


@dataclass(frozen=True, slots=True)
class CheckpointNotice:
    """A signed view log checkpoint for one household's owner to keep outside the database.

    ``text`` is the JSON ``hearthcam audit verify --against`` reads (``checkpoint_json``),
    compact; ``size`` and ``root`` (hex) repeat its head for channels that only show a notice.
    """

    household_id: int
    size: int
    root: str
    text: str


@dataclass(frozen=True, slots=True)
class HubLogAlarm:
    """The review hub's view log did not check out in the home's round: for the owner, at once.

    ``findings`` are ``hub.monitor.Finding`` texts (a missing or changed entry, a log cut back
    or forked, a checkpoint not signed by the hub's key)."""

    household_id: int
    hub_url: str
    findings: tuple[str, ...]
    checked_at: float

    title = "hearthcam: the review hub's view log does not check out"

    @property
    def body(self) -> str:
        """One paragraph: what was found (the first five findings) and where to look."""
        shown = "; ".join(self.findings[:5])
        more = len(self.findings) - 5
        if more > 0:
            shown += f"; and {more} more"
        return (
            f"The review hub at {self.hub_url} showed the log of who viewed your shared clips in "
            f"a way an honest hub cannot: {shown}. Open My shared clips; consider withdrawing "
            "what you shared there and unlinking."
        )

    def payload(self) -> dict[str, JsonValue]:
        """The JSON form (webhooks, MQTT)."""
        return {
            "type": "hub_log_alarm", "household": self.household_id, "hub": self.hub_url,
            "findings": list(self.findings), "checked_at": int(self.checked_at),
        }  # fmt: skip


def subject(event: Event) -> str:
    """The word for what was seen: Person, Cat, Dog, Animal, Vehicle or Motion."""
    if event.verdict is not Verdict.PET:
        return _SUBJECTS[event.verdict]
    pets = [word for label, word in _PETS.items() if label in event.labels]
    # Both or neither (a bird, a horse): the generic word is the honest one.
    return pets[0] if len(pets) == 1 else "Animal"


def display_name(key: str) -> str:
    """A config key as people read it: ``front_door`` -> ``Front door``."""
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def camera_display_name(camera: str, cameras: Mapping[str, CameraConfig]) -> str:
    """The camera's configured display name, or its key made readable."""
    config = cameras.get(camera)
    if config is not None and config.name:
        return config.name
    return display_name(camera)


class DisplayNames(Mapping[str, str]):
    """Camera key -> display name, read from a camera mapping at each lookup, so cameras an
    owner adds or renames while running are named right at once."""

    def __init__(self, cameras: Mapping[str, CameraConfig], enabled_only: bool = False) -> None:
        self._cameras = cameras
        self._enabled_only = enabled_only

    def _keys(self) -> list[str]:
        return [k for k, c in list(self._cameras.items()) if c.enabled or not self._enabled_only]

    def __getitem__(self, camera: str) -> str:
        config = self._cameras.get(camera)
        if config is None or (self._enabled_only and not config.enabled):
            raise KeyError(camera)
        return camera_display_name(camera, self._cameras)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


def clock_time(wall: float, tz: dt.tzinfo | None = None) -> str:
    """HH:MM of a Unix time in ``tz`` (the machine's local zone when None)."""
    return dt.datetime.fromtimestamp(wall, tz).strftime("%H:%M")


def iso_time(wall: float) -> str:
    """ISO-8601 of a Unix time in UTC, to the millisecond (for machines, not people)."""
    return dt.datetime.fromtimestamp(wall, dt.UTC).isoformat(timespec="milliseconds")


def event_link(base_url: str, event_id: str) -> str:
    """The web app's page of an event (the app asks for a login first)."""
    return f"{base_url.rstrip('/')}/events/{quote(event_id, safe='')}"


def media_url(base_url: str, event_id: str, media: Literal["snapshot", "clip"]) -> str:
    """The authenticated API URL of an event's snapshot or clip."""
    return f"{base_url.rstrip('/')}/api/events/{quote(event_id, safe='')}/{media}"


@dataclass(frozen=True)
class AlertFormatter:
    """Turns events into alerts for one installation (its web address, camera names, zone)."""

    base_url: str
    names: Mapping[str, str]
    tz: dt.tzinfo | None = None

    @classmethod
    def from_config(
        cls, cfg: AlertsConfig, cameras: Mapping[str, CameraConfig], tz: dt.tzinfo | None = None
    ) -> AlertFormatter:
        """A formatter for the configured cameras; ``tz`` None means the machine's zone."""
        return cls(cfg.base_url, DisplayNames(cameras), tz)

    def camera_name(self, camera: str) -> str:
        """Display name of a camera, also for one missing from the config."""
        return self.names.get(camera) or display_name(camera)

    def title(self, event: Event) -> str:
        """``Person at Front door, 21:04``."""
        when = clock_time(event.wall_start, self.tz)
        return f"{subject(event)} at {self.camera_name(event.camera)}, {when}"

    def body(self, event: Event, kind: AlertKind) -> str:
        """The message text: the title, the zones, and whether the clip is ready."""
        title = self.title(event)
        if kind is AlertKind.CLIP:
            return f"Clip ready: {title}."
        if event.zones:
            return f"{title}, in {', '.join(display_name(z).lower() for z in event.zones)}."
        return f"{title}."

    def payload(self, event: Event, kind: AlertKind) -> JsonObject:
        """The JSON document webhooks, MQTT and receivers get (URLs only, never paths)."""
        snapshot = media_url(self.base_url, event.id, "snapshot") if event.snapshot else None
        clip = media_url(self.base_url, event.id, "clip") if event.clip else None
        return {
            "id": event.id,
            "kind": kind.value,
            "camera": event.camera,
            "camera_name": self.camera_name(event.camera),
            "verdict": event.verdict.value,
            "labels": list(event.labels),
            "zones": list(event.zones),
            "start": iso_time(event.wall_start),
            "end": iso_time(event.wall_end),
            "score": round(float(event.score), 4),
            "title": self.title(event),
            "message": self.body(event, kind),
            "link": event_link(self.base_url, event.id),
            "snapshot_url": snapshot,
            "clip_url": clip,
        }

    def alert(self, event: Event, kind: AlertKind = AlertKind.NEW) -> Alert:
        """The alert about ``event``."""
        return Alert(
            event=event,
            kind=kind,
            camera_name=self.camera_name(event.camera),
            title=self.title(event),
            body=self.body(event, kind),
            link=event_link(self.base_url, event.id),
            payload=self.payload(event, kind),
        )
