"""Tests of the alert decision: verdicts, cameras, zones, schedules, cooldown, home/away."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hearthcam.alerts.rules import AlertDecider, in_schedule, matches
from hearthcam.config import AlertRule, AlertsConfig, ScheduleRule
from hearthcam.types import Event, Verdict

WALL0 = 1_700_000_000.0


def event(
    verdict: Verdict = Verdict.THREAT,
    camera: str = "front",
    zones: tuple[str, ...] = (),
    wall_start: float = WALL0,
) -> Event:
    return Event(
        id=f"{camera}-{wall_start}",
        camera=camera,
        verdict=verdict,
        labels=(),
        start=0.0,
        end=5.0,
        wall_start=wall_start,
        wall_end=wall_start + 5.0,
        score=0.9,
        zones=zones,
    )


def at(day: str, hhmm: str) -> dt.datetime:
    """A local time in the week of Monday 2024-01-08."""
    offset = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(day)
    hours, minutes = (int(v) for v in hhmm.split(":"))
    when = dt.datetime(2024, 1, 8, hours, minutes) + dt.timedelta(days=offset)
    assert when.strftime("%a").lower() == day
    return when


NOON = at("wed", "12:00")


def rule(**fields: Any) -> AlertRule:
    return AlertRule.model_validate(fields)


def schedule(**fields: Any) -> ScheduleRule:
    return ScheduleRule.model_validate(fields)


# --- defaults -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "verdict", "alerts"),
    [
        ("away", Verdict.THREAT, True),
        ("away", Verdict.VEHICLE, True),
        ("away", Verdict.PET, False),
        ("away", Verdict.MOTION, False),
        ("home", Verdict.THREAT, True),
        ("home", Verdict.VEHICLE, False),
        ("home", Verdict.PET, False),
        ("home", Verdict.MOTION, False),
    ],
)
def test_default_rules(mode: str, verdict: Verdict, alerts: bool) -> None:
    decider = AlertDecider(AlertsConfig(), mode=mode)
    assert decider.decide(event(verdict), NOON) is alerts


def test_mode_comes_from_config_unless_given() -> None:
    assert AlertDecider(AlertsConfig()).mode == "away"
    home = AlertsConfig.model_validate({"mode": "home"})
    assert AlertDecider(home).mode == "home"
    assert not AlertDecider(home).decide(event(Verdict.VEHICLE), NOON)
    assert AlertDecider(home, mode="away").decide(event(Verdict.VEHICLE), NOON)


def test_switching_mode_switches_rule() -> None:
    cfg = AlertsConfig.model_validate(
        {"home": {"verdicts": []}, "away": {"verdicts": ["threat"]}, "cooldown": 0}
    )
    decider = AlertDecider(cfg, mode="home")
    assert decider.rule() == cfg.home
    assert not decider.decide(event(), NOON)
    decider.mode = "away"
    assert decider.rule() == cfg.away
    assert decider.decide(event(), NOON)


def test_each_camera_follows_the_rule_its_household_chose() -> None:
    cfg = AlertsConfig.model_validate({"away": {"verdicts": ["threat"]}, "cooldown": 0})
    at_home = AlertRule(verdicts=[])
    chosen: dict[str, AlertRule] = {"front": at_home}  # "yard" belongs to no household
    decider = AlertDecider(cfg, mode="away", rule_of=chosen.get)
    assert decider.rule("front") == at_home
    assert not decider.decide(event(camera="front"), NOON)
    assert decider.decide(event(camera="yard"), NOON)  # the config's away rule
    chosen["front"] = AlertRule(verdicts=[Verdict.THREAT])  # read at each decision
    assert decider.decide(event(camera="front"), NOON)


# --- filters ------------------------------------------------------------------------------


def test_verdict_filter() -> None:
    pets_only = rule(verdicts=["pet"])
    assert matches(pets_only, event(Verdict.PET), NOON)
    assert not matches(pets_only, event(Verdict.THREAT), NOON)
    assert not matches(rule(verdicts=[]), event(Verdict.THREAT), NOON)


def test_camera_filter() -> None:
    front_only = rule(cameras=["front", "porch"])
    assert matches(front_only, event(camera="front"), NOON)
    assert matches(front_only, event(camera="porch"), NOON)
    assert not matches(front_only, event(camera="garden"), NOON)
    assert matches(rule(), event(camera="garden"), NOON)


def test_zone_filter_needs_any_listed_zone() -> None:
    doorstep = rule(zones=["porch", "door"])
    assert matches(doorstep, event(zones=("driveway", "porch")), NOON)
    assert matches(doorstep, event(zones=("door",)), NOON)
    assert not matches(doorstep, event(zones=("driveway",)), NOON)
    assert not matches(doorstep, event(zones=()), NOON)
    assert matches(rule(), event(zones=()), NOON)


def test_all_filters_must_pass() -> None:
    strict = rule(verdicts=["threat"], cameras=["front"], zones=["porch"])
    assert matches(strict, event(Verdict.THREAT, "front", ("porch",)), NOON)
    assert not matches(strict, event(Verdict.PET, "front", ("porch",)), NOON)
    assert not matches(strict, event(Verdict.THREAT, "back", ("porch",)), NOON)
    assert not matches(strict, event(Verdict.THREAT, "front", ("lawn",)), NOON)


# --- schedules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (at("mon", "09:00"), True),
        (at("mon", "12:30"), True),
        (at("fri", "16:59"), True),
        (at("mon", "08:59"), False),
        (at("mon", "17:00"), False),  # the end is not part of the window
        (at("sat", "12:00"), False),
        (at("sun", "12:00"), False),
    ],
)
def test_office_hours_window(when: dt.datetime, inside: bool) -> None:
    office = schedule(days=["mon", "tue", "wed", "thu", "fri"], start="09:00", end="17:00")
    assert in_schedule(office, when) is inside


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (at("sun", "22:00"), True),
        (at("sun", "23:59"), True),
        (at("mon", "00:00"), True),  # Sunday night, after midnight
        (at("mon", "01:00"), True),
        (at("mon", "05:59"), True),
        (at("mon", "06:00"), False),
        (at("mon", "22:30"), False),  # Monday's own night is not scheduled
        (at("sun", "01:00"), False),  # that is Saturday's night
        (at("sun", "21:59"), False),
        (at("tue", "01:00"), False),
    ],
)
def test_window_wrapping_midnight_belongs_to_the_day_it_starts(
    when: dt.datetime, inside: bool
) -> None:
    sunday_night = schedule(days=["sun"], start="22:00", end="06:00")
    assert in_schedule(sunday_night, when) is inside


def test_wrapping_window_from_saturday_into_sunday() -> None:
    saturday_night = schedule(days=["sat"], start="23:00", end="02:00")
    assert in_schedule(saturday_night, at("sun", "01:30"))
    assert not in_schedule(saturday_night, at("sat", "01:30"))
    assert in_schedule(saturday_night, at("sat", "23:30"))


def test_whole_day_default_window() -> None:
    always = schedule()
    assert in_schedule(always, at("mon", "00:00"))
    assert in_schedule(always, at("sun", "23:59"))
    weekends = schedule(days=["sat", "sun"])
    assert in_schedule(weekends, at("sat", "00:00"))
    assert not in_schedule(weekends, at("fri", "23:59"))


def test_schedule_gates_the_rule() -> None:
    nights = rule(schedule=[{"start": "22:00", "end": "06:00"}])
    assert matches(nights, event(), at("wed", "23:00"))
    assert matches(nights, event(), at("thu", "03:00"))
    assert not matches(nights, event(), at("wed", "12:00"))


def test_any_schedule_entry_is_enough() -> None:
    split = rule(
        schedule=[
            {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"},
            {"days": ["sat", "sun"]},
        ]
    )
    assert matches(split, event(), at("tue", "10:00"))
    assert matches(split, event(), at("sat", "03:00"))
    assert not matches(split, event(), at("tue", "20:00"))


# --- cooldown -----------------------------------------------------------------------------


def test_cooldown_per_camera() -> None:
    decider = AlertDecider(AlertsConfig(cooldown=60))
    assert decider.decide(event(camera="front", wall_start=WALL0), NOON)
    assert not decider.decide(event(camera="front", wall_start=WALL0 + 30), NOON)
    # Another camera has its own cooldown.
    assert decider.decide(event(camera="back", wall_start=WALL0 + 30), NOON)
    assert not decider.decide(event(camera="back", wall_start=WALL0 + 59), NOON)
    assert decider.decide(event(camera="front", wall_start=WALL0 + 60), NOON)


def test_cooldown_counts_from_the_last_alert_not_the_last_event() -> None:
    decider = AlertDecider(AlertsConfig(cooldown=60))
    assert decider.decide(event(wall_start=WALL0), NOON)
    assert not decider.decide(event(wall_start=WALL0 + 40), NOON)
    assert decider.decide(event(wall_start=WALL0 + 70), NOON)  # 70 s after the alert
    assert not decider.decide(event(wall_start=WALL0 + 100), NOON)


def test_events_that_do_not_alert_do_not_start_the_cooldown() -> None:
    decider = AlertDecider(AlertsConfig(cooldown=60))
    assert not decider.decide(event(Verdict.PET, wall_start=WALL0), NOON)
    assert decider.decide(event(Verdict.THREAT, wall_start=WALL0 + 10), NOON)


def test_the_same_event_alerts_once() -> None:
    # An open event is judged again when it is updated; it must not alert twice.
    decider = AlertDecider(AlertsConfig(cooldown=60))
    threat = event(wall_start=WALL0)
    assert decider.decide(threat, NOON)
    assert not decider.decide(threat, NOON)


def test_zero_cooldown_alerts_every_event() -> None:
    decider = AlertDecider(AlertsConfig(cooldown=0))
    assert decider.decide(event(wall_start=WALL0), NOON)
    assert decider.decide(event(wall_start=WALL0 + 1), NOON)
