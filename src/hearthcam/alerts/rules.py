"""The alert decision: is this event worth waking the owner for?

A pure function of the event, the configured rules for the current mode (home / away), the local
time (schedules) and when the camera last alerted (cooldown). The alert channels (MQTT, webhooks,
push) subscribe to the events this marks; they are not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from hearthcam.config import AlertRule, AlertsConfig, ScheduleRule
from hearthcam.types import Event

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def in_schedule(rule: ScheduleRule, when: dt.datetime) -> bool:
    """True if ``when`` (local time) falls in the rule; a window may wrap past midnight."""
    start, end = _minutes(rule.start), _minutes(rule.end)
    now = when.hour * 60 + when.minute
    today = _DAYS[when.weekday()]
    if start <= end:
        return today in rule.days and start <= now < end
    # Wrapping window (22:00-06:00): the early part belongs to the previous day's schedule.
    yesterday = _DAYS[(when.weekday() - 1) % 7]
    return (today in rule.days and now >= start) or (yesterday in rule.days and now < end)


def matches(rule: AlertRule, event: Event, when: dt.datetime) -> bool:
    """True if the event is alert-worthy under one mode's rule (ignoring cooldown)."""
    if event.verdict not in rule.verdicts:
        return False
    if rule.cameras and event.camera not in rule.cameras:
        return False
    if rule.zones and not set(rule.zones) & set(event.zones):
        return False
    return not rule.schedule or any(in_schedule(s, when) for s in rule.schedule)


@dataclass
class AlertDecider:
    """Decides per event, remembering each camera's last alert for the cooldown."""

    cfg: AlertsConfig
    mode: str = ""
    # camera -> the rule its household chose in the app for the mode it is in, read at each
    # decision so a change applies to the next event; None means the config's rule of ``mode``.
    rule_of: Callable[[str], AlertRule | None] | None = None
    _last: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mode = self.mode or self.cfg.mode

    def rule(self, camera: str | None = None) -> AlertRule:
        """The rule in force (the one ``camera``'s household chose, when one is given)."""
        chosen = self.rule_of(camera) if self.rule_of is not None and camera else None
        if chosen is not None:
            return chosen
        return self.cfg.home if self.mode == "home" else self.cfg.away

    def decide(self, event: Event, when: dt.datetime) -> bool:
        """True if this event should alert now; an alert starts the camera's cooldown."""
        if not matches(self.rule(event.camera), event, when):
            return False
        last = self._last.get(event.camera)
        if last is not None and event.wall_start - last < self.cfg.cooldown:
            return False
        self._last[event.camera] = event.wall_start
        return True
