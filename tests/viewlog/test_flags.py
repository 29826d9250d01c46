"""Unusual viewing patterns: an annotator far over quota, one viewer back at one household."""

from __future__ import annotations

from datetime import date

from hearthcam.viewlog.flags import (
    AnomalyRules,
    OverQuota,
    RepeatedHousehold,
    anomalies,
    views,
)
from hearthcam.viewlog.log import Derivative, ViewEntry

DAY0 = 1_760_054_400.0  # 2025-10-10 00:00 UTC
HOUR = 3600.0


def seen(
    viewer: int,
    clip: str,
    at: float,
    household: int = 1,
    role: str = "annotator",
    lease: str | None = None,
) -> ViewEntry:
    return ViewEntry(viewer, role, household, clip, Derivative.REDACTED, at, lease or f"L-{clip}")


def test_byte_ranges_of_one_look_are_one_view() -> None:
    ranges = [seen(1, "a", DAY0 + i) for i in range(5)]
    again = seen(1, "a", DAY0 + 10, lease="second lease")
    assert views([*ranges, again]) == [ranges[0], again]


def test_an_annotator_far_over_quota_is_flagged_with_the_households() -> None:
    rules = AnomalyRules(daily_quota=10, quota_factor=2.0, household_views=1000)
    busy = [seen(5, f"c{i}", DAY0 + i * 60, household=1 + i % 2) for i in range(21)]
    calm = [seen(6, f"c{i}", DAY0 + i * 60) for i in range(20)]  # at the limit: not above
    found = anomalies([*busy, *calm], rules)
    assert found == [OverQuota(5, date(2025, 10, 10), 21, 20.0, frozenset({1, 2}))]
    assert str(found[0]) == "annotator 5 viewed 21 clips on 2025-10-10 (flagged above 20)"


def test_the_quota_counts_per_utc_day_and_only_annotators() -> None:
    rules = AnomalyRules(daily_quota=5, quota_factor=2.0, household_views=1000)
    # 8 before midnight, 8 after: neither day is above 10.
    split = [seen(5, f"c{i}", DAY0 - HOUR + i * 60) for i in range(8)]
    split += [seen(5, f"d{i}", DAY0 + i * 60) for i in range(8)]
    admin = [seen(9, f"c{i}", DAY0 + i, role="admin") for i in range(50)]
    assert [a for a in anomalies([*split, *admin], rules) if isinstance(a, OverQuota)] == []


def test_repeated_views_of_one_household_are_flagged_once() -> None:
    rules = AnomalyRules(daily_quota=1000, household_views=5, household_window_s=HOUR)
    stalking = [seen(3, f"c{i}", DAY0 + i * 300, household=4) for i in range(8)]  # 8 in 35 min
    spread = [seen(3, f"e{i}", DAY0 + i * 2 * HOUR, household=2) for i in range(8)]  # 1 an hour
    found = anomalies([*stalking, *spread], rules)
    assert found == [RepeatedHousehold(3, 4, 8, DAY0, DAY0 + 7 * 300)]
    assert "viewed household 4's clips 8 times in 0.6 h" in str(found[0])


def test_the_busiest_window_is_the_one_reported() -> None:
    rules = AnomalyRules(daily_quota=1000, household_views=3, household_window_s=HOUR)
    times = [0, 5 * HOUR, 5 * HOUR + 60, 5 * HOUR + 120, 5 * HOUR + 180, 9 * HOUR]
    found = anomalies([seen(3, f"c{i}", DAY0 + t) for i, t in enumerate(times)], rules)
    assert found == [RepeatedHousehold(3, 1, 4, DAY0 + 5 * HOUR, DAY0 + 5 * HOUR + 180)]


def test_nothing_unusual_flags_nothing() -> None:
    rules = AnomalyRules(daily_quota=10)
    normal = [
        seen(v, f"c{v}-{i}", DAY0 + i * HOUR, household=v) for v in range(3) for i in range(5)
    ]
    assert anomalies(normal, rules) == []
    assert anomalies([], rules) == []
