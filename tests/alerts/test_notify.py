"""Tests of the alert dispatcher: once per event, clip follow-ups, state, isolation, no blocking."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hearthcam.alerts.mqtt import MqttNotifier
from hearthcam.alerts.notify import AlertDispatcher, FakeNotifier, build_notifiers
from hearthcam.alerts.ntfy import NtfyNotifier
from hearthcam.alerts.text import AlertFormatter, AlertKind, CameraActivity
from hearthcam.alerts.webhook import WebhookNotifier
from hearthcam.config import (
    AlertsConfig,
    CameraConfig,
    InputConfig,
    MqttConfig,
    NtfyConfig,
    WebhookConfig,
)
from hearthcam.types import Change, Event, EventListener, Verdict
from tests.conftest import free_port

WALL = 1_704_744_000.0
FORMATTER = AlertFormatter("http://127.0.0.1:8971", {"front": "Front door"}, dt.UTC)


def event(
    event_id: str = "ev1",
    verdict: Verdict = Verdict.THREAT,
    alert: bool = True,
    snapshot: Path | None = None,
    clip: Path | None = None,
    camera: str = "front",
) -> Event:
    return Event(
        id=event_id,
        camera=camera,
        verdict=verdict,
        labels=("person",) if verdict is Verdict.THREAT else ("cat",),
        start=0.0,
        end=4.0,
        wall_start=WALL,
        wall_end=WALL + 4.0,
        score=0.8,
        snapshot=snapshot,
        clip=clip,
        alert=alert,
    )


def lifecycle(first: Event, clip: Path) -> list[tuple[Change, Event]]:
    """How the runner reports an event: opens as motion, becomes a threat, ends, gets a clip."""
    motion = replace(first, verdict=Verdict.MOTION, alert=False)
    return [
        (Change.STARTED, motion),
        (Change.UPDATED, replace(first, snapshot=None)),
        (Change.UPDATED, replace(first, snapshot=None, score=0.9)),
        (Change.ENDED, first),
        (Change.UPDATED, replace(first, clip=clip)),
    ]


@pytest.fixture
def dispatchers() -> Iterator[list[AlertDispatcher]]:
    """Dispatchers a test makes; each is closed afterwards."""
    made: list[AlertDispatcher] = []
    yield made
    for dispatcher in made:
        dispatcher.close(timeout=2.0)


def make(
    dispatchers: list[AlertDispatcher], *notifiers: FakeNotifier, queue_size: int = 64
) -> AlertDispatcher:
    dispatcher = AlertDispatcher(list(notifiers), FORMATTER, queue_size=queue_size)
    dispatchers.append(dispatcher)
    return dispatcher


def test_sends_once_per_alert_worthy_event_and_one_clip_follow_up(
    dispatchers: list[AlertDispatcher], tmp_path: Path
) -> None:
    wants_clip, no_clip = FakeNotifier("a"), FakeNotifier("b", follow_ups=False)
    dispatcher = make(dispatchers, wants_clip, no_clip)
    snap, clip = tmp_path / "s.jpg", tmp_path / "c.mp4"
    for change, ev in lifecycle(event(snapshot=snap), clip):
        dispatcher(change, ev)
    dispatcher.close()
    assert [a.kind for a in wants_clip.alerts] == [AlertKind.NEW, AlertKind.CLIP]
    assert [a.kind for a in no_clip.alerts] == [AlertKind.NEW]
    first = wants_clip.alerts[0]
    assert first.title == "Person at Front door, 20:00"
    # The alert came on an UPDATED change without a snapshot; the STARTED one's path is kept.
    assert first.event.snapshot == snap
    assert first.payload["snapshot_url"] == "http://127.0.0.1:8971/api/events/ev1/snapshot"
    assert wants_clip.alerts[1].payload["clip_url"] == "http://127.0.0.1:8971/api/events/ev1/clip"
    assert wants_clip.closed
    assert no_clip.closed


def test_pets_and_motion_do_not_alert(dispatchers: list[AlertDispatcher], tmp_path: Path) -> None:
    fake = FakeNotifier()
    dispatcher = make(dispatchers, fake)
    for i, verdict in enumerate((Verdict.PET, Verdict.MOTION)):
        ev = event(f"ev{i}", verdict, alert=False)
        for change in (Change.STARTED, Change.UPDATED, Change.ENDED):
            dispatcher(change, ev)
        dispatcher(Change.UPDATED, replace(ev, clip=tmp_path / "c.mp4"))
    dispatcher.close()
    assert fake.alerts == []
    # State still shows, alert or not.
    assert [s.active for s in fake.states] == [
        frozenset({Verdict.PET}),
        frozenset(),
        frozenset({Verdict.MOTION}),
        frozenset(),
    ]


def test_state_follows_the_event_lifecycle(
    dispatchers: list[AlertDispatcher], tmp_path: Path
) -> None:
    fake = FakeNotifier()
    dispatcher = make(dispatchers, fake)
    for change, ev in lifecycle(event(snapshot=tmp_path / "s.jpg"), tmp_path / "c.mp4"):
        dispatcher(change, ev)
    dispatcher.close()
    assert fake.states == [
        CameraActivity("front", frozenset({Verdict.MOTION})),
        CameraActivity("front", frozenset({Verdict.THREAT})),
        CameraActivity("front", frozenset()),
    ]


def test_a_failing_channel_does_not_stop_the_others(dispatchers: list[AlertDispatcher]) -> None:
    broken, good = FakeNotifier("broken", fail=True), FakeNotifier("good")
    dispatcher = make(dispatchers, broken, good)
    dispatcher(Change.UPDATED, event("ev1"))
    dispatcher(Change.UPDATED, event("ev2"))
    dispatcher.close()
    assert [a.event.id for a in good.alerts] == ["ev1", "ev2"]
    assert broken.alerts == []
    # The broken channel's worker survived its first failure and tried the second alert too.
    assert dispatcher.failures == 2
    outcomes = {(d.channel, d.event_id): d.ok for d in dispatcher.deliveries()}
    assert outcomes == {
        ("broken", "ev1"): False,
        ("broken", "ev2"): False,
        ("good", "ev1"): True,
        ("good", "ev2"): True,
    }
    assert broken.closed


def test_a_hung_channel_never_blocks_the_caller(dispatchers: list[AlertDispatcher]) -> None:
    release = threading.Event()
    hung, good = FakeNotifier("hung", hold=release), FakeNotifier("good")
    dispatcher = make(dispatchers, hung, good, queue_size=4)
    # Every call returns while the hung channel still holds its first alert (``release`` is
    # never set in the loop): a blocking dispatcher would hang here, not merely run slowly.
    for i in range(12):
        dispatcher(Change.UPDATED, event(f"ev{i}"))
        assert good.wait_for(i + 1)
        if i == 0:
            assert hung.wait_for(alerts=0, attempts=1)  # the hung worker now holds ev0
    assert not release.is_set()
    # ev0 is held by the hung worker, ev1..ev4 wait in its queue, ev5..ev11 are dropped.
    assert dispatcher.dropped == 7
    assert len(good.alerts) == 12
    release.set()
    dispatcher.close()
    assert [a.event.id for a in hung.alerts] == [f"ev{i}" for i in range(5)]


def test_close_drains_the_queue_then_stops(dispatchers: list[AlertDispatcher]) -> None:
    release = threading.Event()
    slow = FakeNotifier("slow", hold=release)
    dispatcher = make(dispatchers, slow)
    for i in range(5):
        dispatcher(Change.UPDATED, event(f"ev{i}"))
    threading.Timer(0.1, release.set).start()
    dispatcher.close(timeout=5.0)
    assert [a.event.id for a in slow.alerts] == [f"ev{i}" for i in range(5)]
    assert slow.closed
    dispatcher(Change.UPDATED, event("late"))  # ignored after close, and does not raise
    assert len(slow.alerts) == 5


def test_close_gives_up_on_a_hung_channel_in_time(dispatchers: list[AlertDispatcher]) -> None:
    release = threading.Event()
    hung = FakeNotifier("hung", hold=release)
    dispatcher = make(dispatchers, hung)
    dispatcher(Change.UPDATED, event())
    started = time.monotonic()
    dispatcher.close(timeout=0.3)
    assert time.monotonic() - started < 3.0  # generous: without the timeout it never returns
    assert hung.closed
    release.set()


def test_a_hung_channel_does_not_eat_the_others_closing_time(
    dispatchers: list[AlertDispatcher],
) -> None:
    hung_release, slow_release = threading.Event(), threading.Event()
    hung = FakeNotifier("hung", hold=hung_release)
    slow = FakeNotifier("slow", hold=slow_release)
    dispatcher = make(dispatchers, hung, slow, queue_size=2)
    dispatcher(Change.UPDATED, event("ev0"))
    assert hung.wait_for(alerts=0, attempts=1)
    assert slow.wait_for(alerts=0, attempts=1)
    # Both workers hold ev0; ev1 and ev2 fill both queues, so neither has room to be told to end.
    dispatcher(Change.UPDATED, event("ev1"))
    dispatcher(Change.UPDATED, event("ev2"))
    threading.Timer(0.1, slow_release.set).start()
    dispatcher.close(timeout=0.6)
    assert [a.event.id for a in slow.alerts] == ["ev0", "ev1", "ev2"]
    assert hung.alerts == []
    hung_release.set()


def test_deliveries_record_when_each_channel_got_the_alert(
    dispatchers: list[AlertDispatcher],
) -> None:
    a, b = FakeNotifier("a"), FakeNotifier("b")
    dispatcher = make(dispatchers, a, b)
    before = time.time()
    dispatcher(Change.UPDATED, event())
    dispatcher.close()
    deliveries = dispatcher.deliveries()
    assert sorted(d.channel for d in deliveries) == ["a", "b"]
    for delivery in deliveries:
        assert delivery.event_id == "ev1"
        assert delivery.kind is AlertKind.NEW
        assert before <= delivery.queued_at <= delivery.handed_at <= delivery.done_at
        assert delivery.ok


def test_build_notifiers_from_config() -> None:
    cameras = {"front": CameraConfig(inputs=[InputConfig(path="rtsp://127.0.0.1/front")])}
    cfg = AlertsConfig(
        mqtt=MqttConfig(enabled=True, port=free_port()),
        webhooks=[
            WebhookConfig(url="http://127.0.0.1:9/a", secret="0123456789abcdef"),
            WebhookConfig(url="http://127.0.0.1:9/b", secret="0123456789abcdef"),
        ],
        ntfy=NtfyConfig(url="http://127.0.0.1:9", topic="home"),
    )
    notifiers = build_notifiers(cfg, cameras)
    try:
        assert [type(n) for n in notifiers] == [
            MqttNotifier,
            WebhookNotifier,
            WebhookNotifier,
            NtfyNotifier,
        ]
        assert [n.name for n in notifiers] == ["mqtt", "webhook-0", "webhook-1", "ntfy"]
    finally:
        for notifier in notifiers:
            notifier.close()
    assert build_notifiers(AlertsConfig(), cameras) == []


def test_the_dispatcher_is_an_event_listener(dispatchers: list[AlertDispatcher]) -> None:
    fake = FakeNotifier()
    listener: EventListener = make(dispatchers, fake)  # mypy checks the protocol
    listener(Change.STARTED, event())
    assert fake.wait_for(alerts=1, states=1)
