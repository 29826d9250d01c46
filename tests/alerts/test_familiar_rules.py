"""Alert rules and the familiar verdict: strangers only, and "only strangers at night"."""

from __future__ import annotations

from hearthcam.alerts.rules import AlertDecider, matches
from hearthcam.alerts.text import subject
from hearthcam.config import AlertRule, AlertsConfig, ScheduleRule
from hearthcam.types import Verdict
from tests.alerts.test_rules import NOON, at, event


def test_the_default_rule_alerts_for_strangers_not_household_members() -> None:
    decider = AlertDecider(AlertsConfig())
    assert decider.decide(event(Verdict.THREAT, camera="a"), NOON)
    assert not decider.decide(event(Verdict.FAMILIAR, camera="b"), NOON)


def test_only_strangers_at_night() -> None:
    night = AlertRule(
        verdicts=[Verdict.THREAT], schedule=[ScheduleRule(start="22:00", end="06:00")]
    )
    assert matches(night, event(Verdict.THREAT), at("wed", "23:30"))
    assert not matches(night, event(Verdict.FAMILIAR), at("wed", "23:30"))
    assert not matches(night, event(Verdict.THREAT), NOON)


def test_an_owner_may_still_ask_for_household_members() -> None:
    everyone = AlertRule(verdicts=[Verdict.THREAT, Verdict.FAMILIAR])
    assert matches(everyone, event(Verdict.FAMILIAR), NOON)
    assert subject(event(Verdict.FAMILIAR)) == "Household member"
