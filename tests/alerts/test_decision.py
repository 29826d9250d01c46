"""Tests of the alert decision listener: once per event, on its own thread, stored flag only,
changes passed on in order. Fake flags (the store's edge), the real AlertDecider."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from hearthcam.alerts.decision import AlertDecisions
from hearthcam.alerts.rules import AlertDecider
from hearthcam.config import AlertRule, AlertsConfig
from hearthcam.pipeline.events import Change
from hearthcam.types import Event, Verdict

WALL = 1_704_744_000.0  # Monday 2024-01-08 20:00 UTC
CLIP = Path("/data/clips/front/2024-01-08/ev1.mp4")


def event(
    event_id: str = "ev1",
    verdict: Verdict = Verdict.THREAT,
    camera: str = "front",
    wall_start: float = WALL,
    **changes: object,
) -> Event:
    made = Event(
        id=event_id,
        camera=camera,
        verdict=verdict,
        labels=(),
        start=0.0,
        end=4.0,
        wall_start=wall_start,
        wall_end=wall_start + 4.0,
        score=0.8,
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def lifecycle(first: Event) -> list[tuple[Change, Event]]:
    """How a camera reports an event: opens as motion, becomes a threat, ends, gets a clip."""
    return [
        (Change.STARTED, replace(first, verdict=Verdict.MOTION)),
        (Change.UPDATED, first),
        (Change.UPDATED, replace(first, score=0.9)),
        (Change.ENDED, first),
        (Change.UPDATED, replace(first, clip=CLIP)),
    ]


@dataclass
class FakeFlags:
    """The store's alert column: which events were flagged, on which thread; can fail or hang."""

    known: set[str] = field(default_factory=lambda: {"ev1", "ev2", "pet"})
    flagged: list[str] = field(default_factory=list)
    threads: list[str] = field(default_factory=list)
    fail: bool = False
    hold: threading.Event | None = None

    def set_alert(self, event_id: str) -> bool:
        if self.hold is not None:
            self.hold.wait(5.0)
        if self.fail:
            raise OSError("database is locked")
        self.threads.append(threading.current_thread().name)
        self.flagged.append(event_id)
        return event_id in self.known


@dataclass
class Heard:
    """A downstream listener (the dispatcher's place) recording what it is passed."""

    changes: list[tuple[Change, Event]] = field(default_factory=list)

    def __call__(self, change: Change, ev: Event) -> None:
        self.changes.append((change, ev))


@dataclass
class Rules:
    """The household's rule lookup (a database read in the app), counted per thread."""

    rule: AlertRule | None = None
    threads: list[str] = field(default_factory=list)

    def __call__(self, camera: str) -> AlertRule | None:
        self.threads.append(threading.current_thread().name)
        return self.rule


@pytest.fixture
def made() -> Iterator[list[AlertDecisions]]:
    """Decision listeners a test makes; each is closed afterwards."""
    listeners: list[AlertDecisions] = []
    yield listeners
    for listener in listeners:
        listener.close(timeout=2.0)


def decisions(
    made: list[AlertDecisions],
    flags: FakeFlags,
    *downstream: Heard,
    rules: Rules | None = None,
    cooldown: float = 0.0,
    queue_size: int = 64,
) -> AlertDecisions:
    cfg = AlertsConfig(cooldown=cooldown)
    decider = AlertDecider(cfg, mode="away", rule_of=rules)
    listener = AlertDecisions(decider, flags, downstream, queue_size=queue_size, zone=dt.UTC)
    made.append(listener)
    return listener


def test_an_event_is_flagged_once_when_it_first_becomes_alert_worthy(
    made: list[AlertDecisions],
) -> None:
    flags, heard = FakeFlags(), Heard()
    listener = decisions(made, flags, heard)
    for change, ev in lifecycle(event()):
        listener(change, ev)
    listener.close()
    assert flags.flagged == ["ev1"]
    assert [(c, e.alert) for c, e in heard.changes] == [
        (Change.STARTED, False),  # motion: not alert-worthy (yet)
        (Change.UPDATED, True),  # became a threat: flagged from here on
        (Change.UPDATED, True),
        (Change.ENDED, True),
        (Change.UPDATED, True),  # the clip-ready follow-up
    ]
    assert [e for _, e in heard.changes] == [
        replace(e, alert=e.verdict is Verdict.THREAT) for _, e in lifecycle(event())
    ]
    assert listener.alerted("ev1")


def test_what_the_rules_do_not_want_is_passed_on_unflagged(made: list[AlertDecisions]) -> None:
    flags, heard = FakeFlags(), Heard()
    listener = decisions(made, flags, heard)
    for change, ev in lifecycle(event("pet", Verdict.PET)):
        listener(change, ev)
    listener.close()
    assert flags.flagged == []
    assert len(heard.changes) == 5
    assert not any(e.alert for _, e in heard.changes)
    assert not listener.alerted("pet")


def test_the_rule_is_read_on_the_decision_thread_never_the_callers(
    made: list[AlertDecisions],
) -> None:
    rules, flags = Rules(), FakeFlags()
    listener = decisions(made, flags, rules=rules)
    for change, ev in lifecycle(event()):
        listener(change, ev)
    listener.close()
    assert rules.threads  # the household's rule was asked ...
    assert set(rules.threads) == {"alert-decisions"}  # ... off the analysis thread
    assert flags.threads == ["alert-decisions"]
    # Decided until alert-worthy (motion, then the first threat), never after.
    assert len(rules.threads) == 2


def test_an_event_that_ended_unflagged_is_not_decided_again_at_its_clip(
    made: list[AlertDecisions],
) -> None:
    # The owner switches alerts on for pets after the event ended: no late page for it.
    rules, flags, heard = Rules(), FakeFlags(), Heard()
    listener = decisions(made, flags, heard, rules=rules)
    pet = event("pet", Verdict.PET)
    listener(Change.STARTED, pet)
    listener(Change.ENDED, pet)
    listener.close()
    rules.rule = AlertRule(verdicts=[Verdict.PET])
    assert listener.decide(Change.UPDATED, replace(pet, clip=CLIP)).alert is False
    assert listener.decide(Change.UPDATED, pet).alert is False  # a late change of an ended one
    assert flags.flagged == []
    assert len(rules.threads) == 2


def test_the_cooldown_holds_back_a_cameras_next_event(made: list[AlertDecisions]) -> None:
    flags = FakeFlags()
    listener = decisions(made, flags, cooldown=60.0)
    listener(Change.STARTED, event("ev1"))
    listener(Change.STARTED, event("ev2", wall_start=WALL + 30))
    listener(Change.STARTED, event("ev3", camera="back", wall_start=WALL + 30))
    listener(Change.STARTED, event("ev4", wall_start=WALL + 61))
    listener.close()
    assert flags.flagged == ["ev1", "ev3", "ev4"]


def test_the_caller_never_waits_and_a_full_queue_drops_and_counts(
    made: list[AlertDecisions],
) -> None:
    hold = threading.Event()
    flags, heard = FakeFlags(hold=hold), Heard()
    listener = decisions(made, flags, heard, queue_size=2)
    for i in range(10):  # the worker hangs on the first store write
        listener(Change.STARTED, event(f"e{i}"))
    assert listener.dropped >= 7
    hold.set()
    listener.close()
    assert len(heard.changes) == 10 - listener.dropped


def test_a_failing_store_write_still_passes_the_alert_on(made: list[AlertDecisions]) -> None:
    flags, heard = FakeFlags(fail=True), Heard()
    listener = decisions(made, flags, heard)
    listener(Change.UPDATED, event())
    listener.close()
    assert [e.alert for _, e in heard.changes] == [True]


def test_a_failing_rule_lookup_passes_the_change_on_and_the_worker_survives(
    made: list[AlertDecisions],
) -> None:
    heard, calls = Heard(), list[str]()

    def rule_of(camera: str) -> AlertRule | None:
        calls.append(camera)
        if len(calls) == 1:
            raise OSError("database is locked")
        return None

    decider = AlertDecider(AlertsConfig(cooldown=0), mode="away", rule_of=rule_of)
    listener = AlertDecisions(decider, FakeFlags(), [heard], zone=dt.UTC)
    made.append(listener)
    listener(Change.STARTED, event("ev1"))
    listener(Change.STARTED, event("ev2"))
    listener.close()
    assert [(e.id, e.alert) for _, e in heard.changes] == [("ev1", False), ("ev2", True)]


def test_a_failing_downstream_listener_does_not_stop_the_next(made: list[AlertDecisions]) -> None:
    heard = Heard()

    def broken(change: Change, ev: Event) -> None:
        raise RuntimeError("listener bug")

    flags = FakeFlags()
    listener = AlertDecisions(
        AlertDecider(AlertsConfig(), mode="away"), flags, [broken, heard], zone=dt.UTC
    )
    made.append(listener)
    listener(Change.STARTED, event())
    listener.close()
    assert len(heard.changes) == 1


def test_changes_after_close_are_ignored(made: list[AlertDecisions]) -> None:
    flags, heard = FakeFlags(), Heard()
    listener = decisions(made, flags, heard)
    listener.close()
    listener(Change.STARTED, event())
    assert heard.changes == []
    assert flags.flagged == []


def test_schedules_are_read_in_the_given_zone(made: list[AlertDecisions]) -> None:
    # 20:00 UTC on a Monday: inside an evening schedule, outside a morning one.
    evening = AlertRule.model_validate(
        {"verdicts": ["threat"], "schedule": [{"days": ["mon"], "start": "18:00", "end": "23:00"}]}
    )
    morning = AlertRule.model_validate(
        {"verdicts": ["threat"], "schedule": [{"days": ["mon"], "start": "06:00", "end": "09:00"}]}
    )
    rules, flags = Rules(rule=evening), FakeFlags()
    listener = decisions(made, flags, rules=rules)
    assert listener.decide(Change.STARTED, event("ev1")).alert is True
    rules.rule = morning
    assert listener.decide(Change.STARTED, event("ev2")).alert is False
