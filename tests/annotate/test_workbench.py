"""The workbench's pure rules: lease lifecycle, quota, time-of-day buckets, verdicts, keyframes."""

from __future__ import annotations

import datetime as dt

import pytest

from hearthcam.annotate.workbench import (
    FalseAlarmReason,
    Keyframe,
    LabeledBox,
    LeaseEvent,
    LeaseState,
    LeaseTransitionError,
    ReviewVerdict,
    TimeBucket,
    check_verdict,
    interpolate,
    is_live,
    keyframe_indexes,
    quota_left,
    time_bucket,
    transition,
    utc_day_start,
)

ENDS = {
    LeaseEvent.SUBMIT: LeaseState.SUBMITTED,
    LeaseEvent.RELEASE: LeaseState.RELEASED,
    LeaseEvent.EXPIRE: LeaseState.EXPIRED,
    LeaseEvent.REVOKE: LeaseState.REVOKED,
}


@pytest.mark.parametrize(("event", "after"), list(ENDS.items()))
def test_an_active_lease_ends_once(event: LeaseEvent, after: LeaseState) -> None:
    assert transition(LeaseState.ACTIVE, event) is after
    for again in LeaseEvent:
        with pytest.raises(LeaseTransitionError):
            transition(after, again)


def test_only_an_active_lease_within_its_minutes_is_live() -> None:
    assert is_live(LeaseState.ACTIVE, expires=100.0, now=99.9)
    assert not is_live(LeaseState.ACTIVE, expires=100.0, now=100.0)
    assert not is_live(LeaseState.SUBMITTED, expires=100.0, now=1.0)


def test_quota_counts_per_utc_day() -> None:
    noon = dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC).timestamp()
    assert utc_day_start(noon) == dt.datetime(2026, 3, 4, tzinfo=dt.UTC).timestamp()
    assert quota_left(0, 50) == 50
    assert quota_left(50, 50) == 0
    assert quota_left(70, 50) == 0


@pytest.mark.parametrize(
    ("hour", "bucket"),
    [
        (0, TimeBucket.NIGHT),
        (5, TimeBucket.NIGHT),
        (6, TimeBucket.MORNING),
        (11, TimeBucket.MORNING),
        (12, TimeBucket.AFTERNOON),
        (17, TimeBucket.AFTERNOON),
        (18, TimeBucket.EVENING),
        (23, TimeBucket.EVENING),
    ],
)
def test_time_of_day_buckets_use_local_time(hour: int, bucket: TimeBucket) -> None:
    tz = dt.timezone(dt.timedelta(hours=-5))
    wall = dt.datetime(2026, 3, 4, hour, 30, tzinfo=tz).timestamp()
    assert time_bucket(wall, tz) is bucket
    # The same instant read in UTC is five hours later: the bucket follows the zone given.
    assert time_bucket(wall, dt.UTC) is list(TimeBucket)[(hour + 5) % 24 // 6]


def test_false_alarm_needs_a_reason_and_only_it() -> None:
    check_verdict(ReviewVerdict.FALSE_ALARM, FalseAlarmReason.RAIN)
    check_verdict(ReviewVerdict.PET, None)
    with pytest.raises(ValueError, match="reason"):
        check_verdict(ReviewVerdict.FALSE_ALARM, None)
    with pytest.raises(ValueError, match="reason"):
        check_verdict(ReviewVerdict.THREAT, FalseAlarmReason.LIGHT)


def test_boxes_move_linearly_between_keyframes() -> None:
    person = LabeledBox((0.0, 0.0, 0.2, 0.4), "person", track=1)
    cat = LabeledBox((0.5, 0.5, 0.6, 0.6), "cat", track=2)
    moved = LabeledBox((0.4, 0.2, 0.6, 0.6), "person", track=1)
    keyframes = [Keyframe(20, (moved,)), Keyframe(10, (person, cat))]
    assert interpolate(keyframes, 10) == (person, cat)
    assert interpolate(keyframes, 20) == (moved,)
    (middle,) = interpolate(keyframes, 15)  # the cat is on one keyframe only: not carried
    assert middle.label == "person"
    assert middle.xyxy == pytest.approx((0.2, 0.1, 0.4, 0.5))
    assert interpolate(keyframes, 5) == ()
    assert interpolate(keyframes, 25) == ()
    assert interpolate([Keyframe(3, (cat,))], 3) == (cat,)


def test_keyframes_spread_inside_the_clip() -> None:
    assert keyframe_indexes(20, 4) == [4, 8, 12, 16]
    assert keyframe_indexes(2, 4) == [0, 1]
    assert keyframe_indexes(0, 4) == []
    assert keyframe_indexes(100, 0) == []
