"""Event lifecycle for one camera: activity in, started / updated / ended events out.

One event spans one visit: a person walking through is one event however many frames and tracks
it takes, and the next person who comes after the room has been empty for a while is the next
event. An event opens at the first confirmed object, or after sustained motion with no object.
Once it has seen an object it ends when no object has been seen for ``gap`` seconds, whatever
still moves (a motion detector's background takes a while to forget someone who left); an event
of motion alone ends after ``end_after`` seconds of calm. Either is split at ``max_seconds``. A
motion run that was going on when an object event ended belongs to that event: it opens no
motion event of its own. The verdict comes from an injected ``VerdictModel`` each time the
tracks change, so a motion event can become a threat while it is open. Pure: no I/O, time comes
from frames.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from hearthcam.config import EventsConfig
from hearthcam.labels import label_of
from hearthcam.types import Change as Change  # re-exported for callers not yet on hearthcam.types
from hearthcam.types import Detections, Event, Frame, MotionResult, TrackSummary, Verdict


class VerdictModel(Protocol):
    """Anything that can judge an event from its tracks (rules now, a trained model later)."""

    def decide(
        self, tracks: Sequence[TrackSummary], event: Event | None = None
    ) -> tuple[Verdict, float]:
        """The verdict and its confidence; ``event`` (its times and zones, ``tracks`` as its
        tracks) is given by the event builder for models that use more than the tracks."""
        ...

    def labels(self, tracks: Sequence[TrackSummary]) -> tuple[str, ...]:
        """The labels the event reports."""
        ...


class EventState(enum.Enum):
    """Lifecycle of a camera's current event."""

    IDLE = "idle"
    ACTIVE = "active"


def transition(state: EventState, active_now: bool, quiet_for: float, limit: float) -> EventState:
    """The one transition function of the event state machine: an open event ends once it has
    been quiet (no object for an object event, calm for a motion event) for ``limit`` seconds."""
    if state is EventState.IDLE:
        return EventState.ACTIVE if active_now else EventState.IDLE
    return EventState.IDLE if quiet_for >= limit else EventState.ACTIVE


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The frame that best shows an event, with the detections drawn on it."""

    frame: Frame
    detections: Detections
    score: float


@dataclass(frozen=True, slots=True)
class EventChange:
    """An event that started, changed verdict/labels, or ended, with its best snapshot so far."""

    change: Change
    event: Event
    snapshot: Snapshot | None


@dataclass
class _TrackAcc:
    """Running statistics of one tracked object."""

    tracker_id: int
    first_pts: float
    last_pts: float
    first_centre: tuple[float, float]
    votes: dict[str, float] = field(default_factory=dict)
    best_score: float = 0.0
    score_sum: float = 0.0
    hits: int = 0
    travel: float = 0.0
    max_area_ratio: float = 0.0
    zones: set[str] = field(default_factory=set)

    def add(self, pts: float, box: Sequence[float], label: str, score: float, frame: Frame) -> None:
        diag = math.hypot(frame.width, frame.height)
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        self.travel = max(
            self.travel,
            math.hypot(centre[0] - self.first_centre[0], centre[1] - self.first_centre[1]) / diag,
        )
        area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
        self.max_area_ratio = max(self.max_area_ratio, area / (frame.width * frame.height))
        self.votes[label] = self.votes.get(label, 0.0) + score
        self.best_score = max(self.best_score, score)
        self.score_sum += score
        self.hits += 1
        self.last_pts = pts

    def summary(self) -> TrackSummary:
        label = max(self.votes, key=lambda k: self.votes[k])
        return TrackSummary(
            tracker_id=self.tracker_id,
            label=label,
            best_score=self.best_score,
            mean_score=self.score_sum / max(1, self.hits),
            hits=self.hits,
            first_pts=self.first_pts,
            last_pts=self.last_pts,
            max_area_ratio=self.max_area_ratio,
            travel=self.travel,
            zones=frozenset(self.zones),
            votes=tuple(sorted(self.votes.items())),
        )


#: A step between frames this many times the regular one (and over ``end_after``) is a leap.
JUMP_FACTOR = 3.0


def _new_id() -> str:
    return uuid.uuid4().hex


class EventBuilder:
    """Builds the events of one camera from its analysed frames."""

    def __init__(
        self,
        camera: str,
        cfg: EventsConfig,
        verdict: VerdictModel,
        new_id: Callable[[], str] = _new_id,
    ) -> None:
        self._camera = camera
        self._cfg = cfg
        self._verdict = verdict
        self._new_id = new_id
        self._state = EventState.IDLE
        self._event: Event | None = None
        self._tracks: dict[int, _TrackAcc] = {}
        self._snapshot: Snapshot | None = None
        self._motion_since: float | None = None
        self._last_motion: float | None = None
        self._last_active: float = 0.0
        self._last_object: float | None = None  # when the open event last saw an object
        self._motion_spent = False  # the motion run now going on belonged to an ended event
        self._last_frame: tuple[float, float] | None = None  # (pts, wall) of the last frame
        self._interval: float | None = None  # the last regular step between frames

    @property
    def current(self) -> Event | None:
        """The open event, if any."""
        return self._event

    def update(
        self,
        frame: Frame,
        motion: MotionResult,
        tracked: Detections,
        zones: Sequence[frozenset[str]] = (),
    ) -> list[EventChange]:
        """Feeds one analysed frame; returns the event changes it caused (often none)."""
        changes = self._after_jump(frame)
        self._note_motion(frame.pts, motion)
        self._add_tracks(frame, tracked, zones)
        has_objects = len(tracked) > 0
        if has_objects or motion.moving:
            self._last_active = frame.pts
        if has_objects:
            self._last_object = frame.pts
        # The run itself must have lasted, not the time since it began (a blip then quiet).
        sustained = (
            self._cfg.motion_events
            and self._motion_since is not None
            and self._last_motion is not None
            and self._last_motion - self._motion_since >= self._cfg.motion_min_seconds
        )
        opening = has_objects or sustained
        if self._event is not None and frame.pts - self._event.start >= self._cfg.max_seconds:
            changes.append(self._end(frame))
        state = transition(self._state, opening, *self._quiet(frame.pts))
        if self._state is EventState.IDLE and state is EventState.ACTIVE:
            changes.append(self._start(frame))
        elif self._state is EventState.ACTIVE and state is EventState.IDLE:
            # What moves now (a background still forgetting the visitor) was part of this event.
            self._motion_spent = self._moving_at(frame.pts)
            changes.append(self._end(frame))
        elif state is EventState.ACTIVE:
            changed = self._refresh(frame)
            if changed is not None:
                changes.append(changed)
        self._state = state
        return changes

    def _quiet(self, pts: float) -> tuple[float, float]:
        """How long the open event has been quiet at ``pts``, and how long ends it: since an
        object was last seen and ``gap`` once it has seen one, else calm and ``end_after``."""
        if self._last_object is not None:
            return pts - self._last_object, self._cfg.gap
        return pts - self._last_active, self._cfg.end_after

    def _last_seen(self, pts: float) -> float:
        """When the open event last saw what it is about, at the latest ``pts``: its last object
        (what moved after it left is not the visit), else its last motion."""
        last = self._last_object if self._last_object is not None else self._last_active
        return min(pts, last)

    def finish(self, frame_pts: float, frame_wall: float) -> list[EventChange]:
        """Ends the open event at end of input (file end, shutdown)."""
        if self._event is None:
            return []
        end = self._last_seen(frame_pts)
        event = self._judge(
            replace(self._event, end=end, wall_end=self._wall(end, frame_pts, frame_wall))
        )
        self._reset()
        return [EventChange(Change.ENDED, event, self._take_snapshot())]

    def _after_jump(self, frame: Frame) -> list[EventChange]:
        """Starts a new timeline segment when time leaps forward between two frames.

        A leap is longer than ``end_after`` (the calm that would have ended any event) and
        than JUMP_FACTOR regular frame steps (so a low detect rate is no leap; before a regular
        step is known, longer than ``max_seconds``). Nothing was
        seen in it, so no event, motion run or track may span it: the open event ends at the
        last frame before the leap, as it would at the end of the input.
        """
        last, self._last_frame = self._last_frame, (frame.pts, frame.wall)
        if last is None:
            return []
        step = frame.pts - last[0]
        regular = self._interval
        # Until one regular step is known, only a step longer than any event is a leap.
        leap = self._cfg.max_seconds if regular is None else JUMP_FACTOR * regular
        if step <= max(self._cfg.end_after, leap):
            if step > 0:  # a live stream's time restarts at 0 after a reconnect: no step
                self._interval = step
            return []
        changes = self.finish(*last)
        self._reset()
        self._last_motion = None
        self._snapshot = None
        return changes

    def _moving_at(self, pts: float) -> bool:
        """Whether a motion run is going on at ``pts`` (quiet for a second or less)."""
        return self._last_motion is not None and pts - self._last_motion <= 1.0

    def _note_motion(self, pts: float, motion: MotionResult) -> None:
        if motion.moving:
            if self._motion_since is None and not self._motion_spent:
                self._motion_since = pts
            self._last_motion = pts
        elif self._last_motion is not None and pts - self._last_motion > 1.0:
            # A second without motion breaks a run; single quiet frames inside one do not.
            self._motion_since = None
            self._motion_spent = False

    def _add_tracks(
        self, frame: Frame, tracked: Detections, zones: Sequence[frozenset[str]]
    ) -> None:
        for i in range(len(tracked)):
            tid = int(tracked.tracker_id[i])
            box = [float(v) for v in tracked.xyxy[i]]
            acc = self._tracks.get(tid)
            if acc is None:
                centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
                acc = _TrackAcc(tid, frame.pts, frame.pts, centre)
                self._tracks[tid] = acc
            score = float(tracked.confidence[i])
            acc.add(frame.pts, box, label_of(int(tracked.class_id[i])), score, frame)
            if i < len(zones):
                acc.zones |= zones[i]
            if self._snapshot is None or score > self._snapshot.score:
                self._snapshot = Snapshot(frame, tracked, score)

    def _wall(self, pts: float, ref_pts: float, ref_wall: float) -> float:
        return ref_wall - (ref_pts - pts)

    def _start(self, frame: Frame) -> EventChange:
        starts = [acc.first_pts for acc in self._tracks.values()]
        if self._motion_since is not None:
            starts.append(self._motion_since)
        start = min(starts, default=frame.pts)
        if self._snapshot is None:
            self._snapshot = Snapshot(frame, Detections.empty(), 0.0)
        event = Event(
            id=self._new_id(),
            camera=self._camera,
            verdict=Verdict.MOTION,
            labels=(),
            start=start,
            end=frame.pts,
            wall_start=self._wall(start, frame.pts, frame.wall),
            wall_end=frame.wall,
            score=0.0,
        )
        self._event = self._judge(event)
        return EventChange(Change.STARTED, self._event, self._snapshot)

    def _judge(self, event: Event) -> Event:
        summaries = [acc.summary() for acc in self._tracks.values()]
        zones = sorted({z for s in summaries for z in s.zones})
        seen = replace(event, zones=tuple(zones), tracks=tuple(summaries))
        verdict, score = self._verdict.decide(summaries, seen)
        return replace(
            seen, verdict=verdict, score=round(score, 4), labels=self._verdict.labels(summaries)
        )

    def _refresh(self, frame: Frame) -> EventChange | None:
        assert self._event is not None
        before = self._event
        after = self._judge(replace(before, end=frame.pts, wall_end=frame.wall))
        self._event = after
        if (after.verdict, after.labels, after.zones) != (
            before.verdict,
            before.labels,
            before.zones,
        ):
            return EventChange(Change.UPDATED, after, self._snapshot)
        return None

    def _end(self, frame: Frame) -> EventChange:
        assert self._event is not None
        end = max(self._event.start, self._last_seen(frame.pts))
        event = self._judge(
            replace(self._event, end=end, wall_end=self._wall(end, frame.pts, frame.wall))
        )
        snapshot = self._take_snapshot()
        self._reset()
        return EventChange(Change.ENDED, event, snapshot)

    def _take_snapshot(self) -> Snapshot | None:
        snapshot, self._snapshot = self._snapshot, None
        return snapshot

    def _reset(self) -> None:
        self._event = None
        self._state = EventState.IDLE
        self._tracks.clear()
        self._motion_since = None
        self._last_object = None
