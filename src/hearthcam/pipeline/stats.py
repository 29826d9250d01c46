"""A camera's counters (``CameraStats``), read by the CLI and the benchmarks, and the bounded
memory of per-event times they keep, so a run of months holds no more than a run of minutes."""

from __future__ import annotations

from collections import deque
from collections.abc import MutableMapping
from dataclasses import dataclass, field

# What a camera's stats keep of its history.
KEPT_ERRORS = 100
KEPT_EVENT_TIMES = 1000


def remember(times: MutableMapping[str, float], event_id: str, when: float) -> None:
    """Sets ``times[event_id]`` (once), dropping the oldest entries past ``KEPT_EVENT_TIMES``."""
    if event_id in times:
        return
    times[event_id] = when
    while len(times) > KEPT_EVENT_TIMES:
        del times[next(iter(times))]


@dataclass
class CameraStats:
    """Counters for one camera; bounded however long it runs (the last ``KEPT_ERRORS`` errors,
    the times of the last ``KEPT_EVENT_TIMES`` events)."""

    frames_in: int = 0
    frames_analysed: int = 0
    frames_dropped: int = 0
    inferences: int = 0
    motion_frames: int = 0
    packets: int = 0
    segments: int = 0
    gaps: int = 0
    errors: deque[str] = field(default_factory=lambda: deque(maxlen=KEPT_ERRORS))
    event_created_at: dict[str, float] = field(default_factory=dict)
    verdict_at: dict[str, float] = field(default_factory=dict)
    clip_ready_at: dict[str, float] = field(default_factory=dict)
