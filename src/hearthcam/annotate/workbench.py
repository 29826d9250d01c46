"""The annotator workbench's rules: the lease lifecycle, quotas, time-of-day buckets, verdicts
and keyframe interpolation. Pure: no I/O, so every rule is tested without a database.

A lease is one annotator's exclusive, short hold on one published shared clip. It starts
``ACTIVE`` and ends exactly once: ``SUBMITTED`` (an annotation was recorded), ``RELEASED`` (given
back unannotated), ``EXPIRED`` (its minutes ran out) or ``REVOKED`` (the share was withdrawn or
reported). Only an active, unexpired lease may stream its clip. ``annotate.desk`` runs these
rules over the stores.
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from hearthcam.errors import HearthcamError


class LeaseState(enum.StrEnum):
    """Where a lease stands."""

    ACTIVE = "active"
    SUBMITTED = "submitted"
    RELEASED = "released"
    EXPIRED = "expired"
    REVOKED = "revoked"


class LeaseEvent(enum.StrEnum):
    """What can happen to a lease."""

    SUBMIT = "submit"
    RELEASE = "release"
    EXPIRE = "expire"
    REVOKE = "revoke"


class LeaseTransitionError(HearthcamError, ValueError):
    """An event that is not allowed in the lease's state (still a ValueError for older callers)."""


_TRANSITIONS: dict[tuple[LeaseState, LeaseEvent], LeaseState] = {
    (LeaseState.ACTIVE, LeaseEvent.SUBMIT): LeaseState.SUBMITTED,
    (LeaseState.ACTIVE, LeaseEvent.RELEASE): LeaseState.RELEASED,
    (LeaseState.ACTIVE, LeaseEvent.EXPIRE): LeaseState.EXPIRED,
    (LeaseState.ACTIVE, LeaseEvent.REVOKE): LeaseState.REVOKED,
}


def transition(state: LeaseState, event: LeaseEvent) -> LeaseState:
    """The state after ``event``; LeaseTransitionError if it cannot happen in ``state``."""
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise LeaseTransitionError(f"a lease that is {state.value} cannot {event.value}") from None


def is_live(state: LeaseState, expires: float, now: float) -> bool:
    """Whether a lease may still show its clip: active and within its minutes."""
    return state is LeaseState.ACTIVE and now < expires


# Quota -----------------------------------------------------------------------------------------


def utc_day_start(now: float) -> float:
    """Unix time of the UTC midnight that began ``now``'s day (quotas count per UTC day)."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def quota_left(taken_today: int, daily_quota: int) -> int:
    """Leases the annotator may still take today (never below 0)."""
    return max(0, daily_quota - taken_today)


# Time of day -----------------------------------------------------------------------------------


class TimeBucket(enum.StrEnum):
    """All an annotator learns of when a clip was recorded."""

    NIGHT = "night"  # 00-06
    MORNING = "morning"  # 06-12
    AFTERNOON = "afternoon"  # 12-18
    EVENING = "evening"  # 18-24


def time_bucket(wall: float, tz: dt.tzinfo | None = None) -> TimeBucket:
    """The bucket of ``wall`` (Unix s) in local time (``tz``; the server's zone when None)."""
    hour = dt.datetime.fromtimestamp(wall, dt.UTC).astimezone(tz).hour
    return (TimeBucket.NIGHT, TimeBucket.MORNING, TimeBucket.AFTERNOON, TimeBucket.EVENING)[
        hour // 6
    ]


# Verdicts --------------------------------------------------------------------------------------


class ReviewVerdict(enum.StrEnum):
    """What the annotator says the event was."""

    THREAT = "threat"
    BENIGN_PERSON = "benign_person"
    PET = "pet"
    VEHICLE = "vehicle"
    FALSE_ALARM = "false_alarm"


class FalseAlarmReason(enum.StrEnum):
    """Why a false alarm fired."""

    LIGHT = "light"
    SHADOW = "shadow"
    RAIN = "rain"
    INSECT = "insect"
    OTHER = "other"


def check_verdict(verdict: ReviewVerdict, reason: FalseAlarmReason | None) -> None:
    """ValueError unless a false alarm has a reason and nothing else does."""
    if (verdict is ReviewVerdict.FALSE_ALARM) != (reason is not None):
        raise ValueError("a false alarm needs a reason (light, shadow, rain, insect, other); "
                         "other verdicts take none")  # fmt: skip


# The model's verdict (types.Verdict values) -> the verdict the workbench suggests confirming.
SUGGESTED: dict[str, ReviewVerdict] = {
    "threat": ReviewVerdict.THREAT,
    "pet": ReviewVerdict.PET,
    "vehicle": ReviewVerdict.VEHICLE,
    "motion": ReviewVerdict.FALSE_ALARM,
}


# Keyframes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LabeledBox:
    """One box on one frame: relative ``xyxy`` (0..1), a label, and the object it follows."""

    xyxy: tuple[float, float, float, float]
    label: str
    track: int = 0  # boxes of one object share it across keyframes


@dataclass(frozen=True, slots=True)
class Keyframe:
    """The corrected boxes on one frame."""

    frame: int
    boxes: tuple[LabeledBox, ...]


def _lerp(a: LabeledBox, b: LabeledBox, t: float) -> LabeledBox:
    xyxy = tuple(x + (y - x) * t for x, y in zip(a.xyxy, b.xyxy, strict=True))
    return LabeledBox((xyxy[0], xyxy[1], xyxy[2], xyxy[3]), a.label, a.track)


def interpolate(keyframes: Sequence[Keyframe], frame: int) -> tuple[LabeledBox, ...]:
    """The boxes on ``frame``: a keyframe's own, or, between two keyframes, each object seen on
    both moved linearly; nothing before the first or after the last keyframe."""
    ordered = sorted(keyframes, key=lambda k: k.frame)
    for before, after in itertools.pairwise(ordered):
        if before.frame <= frame <= after.frame:
            if frame == before.frame:
                return before.boxes
            if frame == after.frame:
                return after.boxes
            t = (frame - before.frame) / (after.frame - before.frame)
            later = {b.track: b for b in after.boxes}
            return tuple(_lerp(b, later[b.track], t) for b in before.boxes if b.track in later)
    if len(ordered) == 1 and ordered[0].frame == frame:
        return ordered[0].boxes
    return ()


def keyframe_indexes(frames: int, count: int) -> list[int]:
    """``count`` frames spread evenly inside a clip of ``frames`` (never the very ends)."""
    if frames <= 0 or count <= 0:
        return []
    picks = {min(frames - 1, round(frames * (i + 1) / (count + 1))) for i in range(count)}
    return sorted(picks)
