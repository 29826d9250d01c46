"""Unusual patterns in the view log, to flag to the admin and to the owners concerned.

Pure functions over entries. Two patterns, each with explicit thresholds: an annotator viewing
far more clips in a (UTC) day than their quota allows, and one viewer coming back to one
household's clips again and again within a time window. A *view* is one look at one clip: the
first entry of each (viewer, clip, lease), since a player fetching a clip in byte ranges logs
an entry per range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hearthcam.viewlog.log import ViewEntry

ANNOTATOR = "annotator"  # the role the quota applies to (accounts.Role.ANNOTATOR's value)


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    """The thresholds; a pattern is flagged when its count is above its limit."""

    daily_quota: int  # clips an annotator is meant to view in a UTC day
    quota_factor: float = 2.0  # flagged above daily_quota * quota_factor views in a day
    household_views: int = 20  # flagged above this many views of one household by one viewer
    household_window_s: float = 24 * 3600.0  # ... within any window this long


@dataclass(frozen=True, slots=True)
class OverQuota:
    """An annotator viewed far more clips in one day than their quota."""

    viewer_id: int
    day: date
    views: int
    limit: float
    household_ids: frozenset[int]  # whose clips they were: those owners are told

    def __str__(self) -> str:
        return (
            f"annotator {self.viewer_id} viewed {self.views} clips on {self.day} "
            f"(flagged above {self.limit:g})"
        )


@dataclass(frozen=True, slots=True)
class RepeatedHousehold:
    """One viewer came back to one household's clips many times within a window."""

    viewer_id: int
    household_id: int
    views: int
    first: float  # Unix time of the first and last view of the busiest window
    last: float

    def __str__(self) -> str:
        hours = (self.last - self.first) / 3600
        return (
            f"user {self.viewer_id} viewed household {self.household_id}'s clips "
            f"{self.views} times in {hours:.1f} h"
        )


Anomaly = OverQuota | RepeatedHousehold


def views(entries: Iterable[ViewEntry]) -> list[ViewEntry]:
    """The first entry of each (viewer, clip, lease), in time order."""
    seen: set[tuple[int, str, str | None]] = set()
    first: list[ViewEntry] = []
    for entry in sorted(entries, key=lambda e: e.time):
        key = (entry.viewer_id, entry.clip_id, entry.lease_id)
        if key not in seen:
            seen.add(key)
            first.append(entry)
    return first


def over_quota(looks: Sequence[ViewEntry], rules: AnomalyRules) -> list[OverQuota]:
    """Annotators whose views in a UTC day are above the quota * factor."""
    limit = rules.daily_quota * rules.quota_factor
    days: dict[tuple[int, date], list[ViewEntry]] = defaultdict(list)
    for entry in looks:
        if entry.viewer_role == ANNOTATOR:
            day = datetime.fromtimestamp(entry.time, UTC).date()
            days[entry.viewer_id, day].append(entry)
    return [
        OverQuota(viewer, day, len(group), limit, frozenset(e.household_id for e in group))
        for (viewer, day), group in sorted(days.items())
        if len(group) > limit
    ]


def _busiest_window(times: Sequence[float], window: float) -> tuple[int, int]:
    """(start, end) of the most views of sorted ``times`` within ``window`` seconds."""
    best, start = (0, 0), 0
    for end, time in enumerate(times):
        while time - times[start] > window:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return best


def repeated_households(looks: Sequence[ViewEntry], rules: AnomalyRules) -> list[RepeatedHousehold]:
    """Viewers with more than ``household_views`` views of one household within the window."""
    groups: dict[tuple[int, int], list[float]] = defaultdict(list)
    for entry in looks:
        groups[entry.viewer_id, entry.household_id].append(entry.time)
    flagged = []
    for (viewer, household), times in sorted(groups.items()):
        start, end = _busiest_window(times, rules.household_window_s)
        if end - start > rules.household_views:
            flagged.append(
                RepeatedHousehold(viewer, household, end - start, times[start], times[end - 1])
            )
    return flagged


def anomalies(entries: Iterable[ViewEntry], rules: AnomalyRules) -> list[Anomaly]:
    """Every unusual pattern in ``entries``: over-quota days first, then repeated households."""
    looks = views(entries)
    return [*over_quota(looks, rules), *repeated_households(looks, rules)]
