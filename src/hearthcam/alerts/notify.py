"""Hands alert-worthy events to the alert channels (MQTT, webhooks, ntfy) off the analysis thread.

``AlertDispatcher`` is an event listener; the app puts it behind the alert decision
(``alerts.decision``), which passes on every change with ``event.alert`` set. It decides what
to send (each alert-worthy event once, a follow-up when its clip is ready, and every change of
a camera's activity for channels that show state) and queues it; each channel has its own
worker thread and bounded queue, so a slow or hung channel delays nobody else and its caller
never waits. A full queue drops the message and counts it.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, Protocol, TypeVar, runtime_checkable

from hearthcam.alerts.mqtt import MqttNotifier
from hearthcam.alerts.ntfy import NtfyNotifier
from hearthcam.alerts.text import (
    Alert,
    AlertFormatter,
    AlertKind,
    CameraActivity,
    CheckpointNotice,
    DisplayNames,
    HubLogAlarm,
)
from hearthcam.alerts.webhook import WebhookNotifier
from hearthcam.config import AlertsConfig, CameraConfig
from hearthcam.types import Change, Event, Verdict

log = logging.getLogger(__name__)

V = TypeVar("V")


class Notifier(Protocol):
    """An alert channel. ``send`` runs on the channel's own worker thread and may block."""

    @property
    def name(self) -> str:
        """Short name for logs and delivery records."""
        ...

    @property
    def follow_ups(self) -> bool:
        """Whether the channel also wants the clip-ready follow-up of an alert."""
        ...

    def send(self, alert: Alert) -> None:
        """Delivers one alert (raising on failure is fine: the dispatcher logs it)."""
        ...

    def close(self) -> None:
        """Releases connections; called once, after the last send."""
        ...


@runtime_checkable
class StatePublisher(Protocol):
    """A channel that also shows every camera's activity, alert or not (MQTT binary sensors)."""

    def publish_state(self, activity: CameraActivity) -> None:
        """Shows which verdicts a camera's open events have now."""
        ...


@runtime_checkable
class CheckpointSender(Protocol):
    """A channel that can also carry the view log's signed checkpoints to the owner.

    A second protocol, as ``StatePublisher`` is, rather than a method every Notifier must have:
    channels that cannot carry it (or tests' fakes) stay as they are, and the dispatcher asks
    ``isinstance`` once per channel.
    """

    def send_checkpoint(self, notice: CheckpointNotice) -> None:
        """Delivers one checkpoint (raising on failure is fine: the dispatcher logs it)."""
        ...


@runtime_checkable
class AlarmSender(Protocol):
    """A channel that can also tell the owner that the review hub's view log does not check
    out (every built-in channel can; tests' fakes need not)."""

    def send_hub_alarm(self, notice: HubLogAlarm) -> None:
        """Delivers one alarm (raising on failure is fine: the dispatcher logs it)."""
        ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """When one alert reached one channel; the latency benchmark reads these."""

    event_id: str
    kind: AlertKind
    channel: str
    queued_at: float
    handed_at: float
    done_at: float
    ok: bool


@dataclass(frozen=True, slots=True)
class _AlertJob:
    alert: Alert
    queued_at: float


_Job = _AlertJob | CameraActivity | CheckpointNotice | HubLogAlarm


class _Recent(Generic[V]):
    """A map that forgets its oldest keys beyond ``size``: events do not come back after long."""

    def __init__(self, size: int) -> None:
        self._items: dict[str, V] = {}
        self._size = size

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> V | None:
        """The value of ``key``, or None."""
        return self._items.get(key)

    def put(self, key: str, value: V) -> None:
        """Stores ``value``, evicting the oldest key if full."""
        self._items.pop(key, None)
        self._items[key] = value
        if len(self._items) > self._size:
            del self._items[next(iter(self._items))]


class _Channel:
    """One notifier with its own bounded queue and worker thread."""

    def __init__(
        self,
        notifier: Notifier,
        queue_size: int,
        clock: Callable[[], float],
        record: Callable[[Delivery], None],
    ) -> None:
        self.notifier = notifier
        self.shows_state = isinstance(notifier, StatePublisher)
        self.sends_checkpoints = isinstance(notifier, CheckpointSender)
        self.sends_alarms = isinstance(notifier, AlarmSender)
        self.dropped = 0
        self.failures = 0
        self._clock = clock
        self._record = record
        self._queue: queue.Queue[_Job | None] = queue.Queue(queue_size)
        self._thread = threading.Thread(
            target=self._run, name=f"alerts-{notifier.name}", daemon=True
        )
        self._thread.start()

    def offer(self, job: _Job) -> None:
        """Queues a job without waiting; a full queue drops it with a warning."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self.dropped += 1
            # Once per 100 keeps a hung channel from flooding the log.
            if self.dropped % 100 == 1:
                log.warning(
                    "alert channel %s is not keeping up: %d messages dropped",
                    self.notifier.name,
                    self.dropped,
                )

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if isinstance(job, CameraActivity):
                self._publish_state(job)
            elif isinstance(job, CheckpointNotice):
                self._send_checkpoint(job)
            elif isinstance(job, HubLogAlarm):
                self._send_alarm(job)
            else:
                self._send(job)

    def _send(self, job: _AlertJob) -> None:
        handed = self._clock()
        ok = True
        try:
            self.notifier.send(job.alert)
        except Exception:  # one failing channel must not stop the others or this worker
            ok = False
            self.failures += 1
            log.exception(
                "alert channel %s failed for event %s", self.notifier.name, job.alert.event.id
            )
        alert = job.alert
        self._record(
            Delivery(
                alert.event.id,
                alert.kind,
                self.notifier.name,
                job.queued_at,
                handed,
                self._clock(),
                ok,
            )
        )

    def _publish_state(self, activity: CameraActivity) -> None:
        assert isinstance(self.notifier, StatePublisher)
        try:
            self.notifier.publish_state(activity)
        except Exception:  # state is republished on the next change; keep the worker alive
            self.failures += 1
            log.exception("alert channel %s failed to publish state", self.notifier.name)

    def _send_checkpoint(self, notice: CheckpointNotice) -> None:
        assert isinstance(self.notifier, CheckpointSender)
        self._tell(functools.partial(self.notifier.send_checkpoint, notice), "a checkpoint")

    def _send_alarm(self, notice: HubLogAlarm) -> None:
        assert isinstance(self.notifier, AlarmSender)
        self._tell(functools.partial(self.notifier.send_hub_alarm, notice), "a hub alarm")

    def _tell(self, send: Callable[[], None], what: str) -> None:
        """Sends a notice that is not an alert (the next one covers a lost one)."""
        try:
            send()
        except Exception:  # keep the worker alive
            self.failures += 1
            log.exception("alert channel %s failed to send %s", self.notifier.name, what)

    def end(self) -> bool:
        """Asks the worker to stop after what is queued; False if the queue is full."""
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            return False
        return True

    def stop(self, deadline: float) -> None:
        """Waits for the worker (until ``deadline``), then closes the notifier."""
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("alert channel %s did not finish in time", self.notifier.name)
        try:
            self.notifier.close()
        except Exception:  # closing one channel must not keep the others open
            log.exception("alert channel %s failed to close", self.notifier.name)


class AlertDispatcher:
    """The event listener behind every alert channel.

    Called on the alert decision's thread (or an analysis thread, registered directly); does a
    few dictionary look-ups and queue puts, never I/O.
    """

    def __init__(
        self,
        notifiers: Sequence[Notifier],
        formatter: AlertFormatter,
        queue_size: int = 64,
        clock: Callable[[], float] = time.time,
        memory: int = 4096,
    ) -> None:
        self._formatter = formatter
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: _Recent[bool] = _Recent(memory)
        self._clipped: _Recent[bool] = _Recent(memory)
        self._ended: _Recent[bool] = _Recent(memory)
        self._snapshots: _Recent[Path] = _Recent(memory)
        self._open: dict[str, dict[str, Verdict]] = {}
        self._shown: dict[str, frozenset[Verdict]] = {}
        self._deliveries: deque[Delivery] = deque(maxlen=memory)
        self._closed = False
        self._channels = [
            _Channel(n, queue_size, clock, self._deliveries.append) for n in notifiers
        ]

    @property
    def dropped(self) -> int:
        """Messages dropped because a channel's queue was full."""
        return sum(c.dropped for c in self._channels)

    @property
    def failures(self) -> int:
        """Sends and state publications that raised."""
        return sum(c.failures for c in self._channels)

    def deliveries(self) -> list[Delivery]:
        """The most recent deliveries, oldest first."""
        return list(self._deliveries)

    def __call__(self, change: Change, event: Event) -> None:
        """Takes one event change (the EventListener signature); returns at once."""
        if self._closed:
            return
        try:
            with self._lock:
                event = self._with_snapshot(event)
                activity = self._activity(change, event)
                kind = self._alert_kind(event)
            if activity is not None:
                for channel in self._channels:
                    if channel.shows_state:
                        channel.offer(activity)
            if kind is not None:
                job = _AlertJob(self._formatter.alert(event, kind), self._clock())
                for channel in self._channels:
                    if kind is AlertKind.NEW or channel.notifier.follow_ups:
                        channel.offer(job)
        except Exception:  # alerts must never take the analysis thread down
            log.exception("alert dispatch failed for event %s", event.id)

    def send_checkpoint(self, notice: CheckpointNotice) -> list[str]:
        """Queues a view log checkpoint for every channel that carries one; returns their
        names (none: nothing will reach the owner)."""
        if self._closed:
            return []
        channels = [channel for channel in self._channels if channel.sends_checkpoints]
        for channel in channels:
            channel.offer(notice)
        return [channel.notifier.name for channel in channels]

    def send_hub_alarm(self, notice: HubLogAlarm) -> list[str]:
        """Queues the alarm that the review hub's view log does not check out for every
        channel that carries one; returns their names."""
        if self._closed:
            return []
        channels = [channel for channel in self._channels if channel.sends_alarms]
        for channel in channels:
            channel.offer(notice)
        return [channel.notifier.name for channel in channels]

    def _with_snapshot(self, event: Event) -> Event:
        # The snapshot path comes with STARTED/ENDED only; UPDATED changes (where an event often
        # becomes alert-worthy) carry None, so the path seen earlier is filled back in.
        if event.snapshot is not None:
            self._snapshots.put(event.id, event.snapshot)
            return event
        known = self._snapshots.get(event.id)
        return event if known is None else replace(event, snapshot=known)

    def _activity(self, change: Change, event: Event) -> CameraActivity | None:
        # The clip-ready UPDATED arrives after ENDED and must not turn the sensor back on.
        if event.clip is not None or event.id in self._ended:
            return None
        open_events = self._open.setdefault(event.camera, {})
        if change is Change.ENDED:
            open_events.pop(event.id, None)
            self._ended.put(event.id, True)
        else:
            open_events[event.id] = event.verdict
        active = frozenset(open_events.values())
        if active == self._shown.get(event.camera, frozenset()):
            return None
        self._shown[event.camera] = active
        return CameraActivity(event.camera, active)

    def _alert_kind(self, event: Event) -> AlertKind | None:
        if event.id not in self._sent:
            if not event.alert:
                return None
            self._sent.put(event.id, True)
            if event.clip is not None:  # the first message already has the clip URL
                self._clipped.put(event.id, True)
            return AlertKind.NEW
        if event.clip is not None and event.id not in self._clipped:
            self._clipped.put(event.id, True)
            return AlertKind.CLIP
        return None

    def close(self, timeout: float = 10.0) -> None:
        """Stops taking changes, delivers what is queued (within ``timeout``), closes channels."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        # Every worker is told before any is waited for, and a full queue is retried while the
        # others drain, so one hung channel does not eat the others' time.
        pending = [channel for channel in self._channels if not channel.end()]
        while pending and time.monotonic() < deadline:
            time.sleep(0.01)
            pending = [channel for channel in pending if not channel.end()]
        for channel in self._channels:
            channel.stop(deadline)


def build_notifiers(cfg: AlertsConfig, cameras: Mapping[str, CameraConfig]) -> list[Notifier]:
    """The channels the config enables (MQTT connects in the background at once)."""
    notifiers: list[Notifier] = []
    if cfg.mqtt.enabled:
        names = DisplayNames(cameras, enabled_only=True)
        notifiers.append(MqttNotifier(cfg.mqtt, names, base_url=cfg.base_url))
    notifiers += [WebhookNotifier(hook, name=f"webhook-{i}") for i, hook in enumerate(cfg.webhooks)]
    if cfg.ntfy is not None:
        notifiers.append(NtfyNotifier(cfg.ntfy))
    return notifiers


def build_dispatcher(
    cfg: AlertsConfig, cameras: Mapping[str, CameraConfig], extra: Sequence[Notifier] = ()
) -> AlertDispatcher:
    """The dispatcher with every configured channel (and ``extra`` ones the composition root
    builds, such as Web Push), ready to register as an event listener."""
    notifiers = [*build_notifiers(cfg, cameras), *extra]
    return AlertDispatcher(notifiers, AlertFormatter.from_config(cfg, cameras))


class FakeNotifier:
    """A channel for unit tests: records what it gets; can fail or hang on demand."""

    def __init__(
        self,
        name: str = "fake",
        follow_ups: bool = True,
        fail: bool = False,
        hold: threading.Event | None = None,
    ) -> None:
        self._name = name
        self._follow_ups = follow_ups
        self.fail = fail
        self.hold = hold
        self.alerts: list[Alert] = []
        self.states: list[CameraActivity] = []
        self.checkpoints: list[CheckpointNotice] = []
        self.alarms: list[HubLogAlarm] = []
        self.attempts = 0
        self.closed = False
        self._changed = threading.Condition()

    @property
    def name(self) -> str:
        """The name given."""
        return self._name

    @property
    def follow_ups(self) -> bool:
        """Whether clip follow-ups are wanted."""
        return self._follow_ups

    def send(self, alert: Alert) -> None:
        """Records the alert (after ``hold`` is set, if given), or raises if ``fail``."""
        with self._changed:
            self.attempts += 1
            self._changed.notify_all()
        if self.hold is not None:
            self.hold.wait()
        if self.fail:
            raise RuntimeError(f"{self._name} is set to fail")
        with self._changed:
            self.alerts.append(alert)
            self._changed.notify_all()

    def publish_state(self, activity: CameraActivity) -> None:
        """Records the activity."""
        with self._changed:
            self.states.append(activity)
            self._changed.notify_all()

    def send_checkpoint(self, notice: CheckpointNotice) -> None:
        """Records the checkpoint."""
        with self._changed:
            self.checkpoints.append(notice)
            self._changed.notify_all()

    def send_hub_alarm(self, notice: HubLogAlarm) -> None:
        """Records the alarm."""
        with self._changed:
            self.alarms.append(notice)
            self._changed.notify_all()

    def wait_for(
        self, alerts: int = 1, states: int = 0, attempts: int = 0, timeout: float = 5.0
    ) -> bool:
        """Waits until at least this many alerts, states and send attempts arrived."""
        with self._changed:
            return self._changed.wait_for(
                lambda: (
                    len(self.alerts) >= alerts
                    and len(self.states) >= states
                    and self.attempts >= attempts
                ),
                timeout,
            )

    def close(self) -> None:
        """Marks the notifier closed."""
        self.closed = True
