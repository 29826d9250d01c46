"""The alert decision as an event listener, on its own thread.

``AlertDecisions`` is registered with the camera pipelines like any listener. The analysis
threads only queue each change (a put that never waits); one decision worker takes them in
order, asks the ``AlertDecider`` (whose rule lookup reads the household's choice from the
database), and passes every change on to ``downstream`` (the ``AlertDispatcher``) with
``event.alert`` set once the event has been found alert-worthy.

Why a listener with its own thread, and not the dispatcher's workers or the analysis thread:
the decision reads the database per change, which the analysis thread must not wait on, and it
must run even when nothing is sent (``analyze`` has no channels but stores and prints the flag);
the dispatcher's workers are one per channel, while the decision must be taken once, before any
channel hears of the event. One worker also keeps the decider's cooldown memory single-threaded
and the changes of each event in order.

Behaviour kept from the decision on the analysis thread: an event is decided on each of its
changes until it first becomes alert-worthy (often on an UPDATED change: events open as motion
and become a threat a frame or two later), then it stays alerted and is never decided again. A
change that arrives with a clip (the clip-ready follow-up) is never decided: the event has
ended, and a rule changed since must not page anyone about it now.

How the stored flag is set without racing the analysis thread's saves of later changes: the
worker sets only the ``alert`` column (``AlertFlags.set_alert``), and the store never clears a
set flag when a whole event is saved again (``Store.save_event``), so whichever write lands
last, the row says alerted. ``alerted`` lets the event sink flag the event's later changes too,
so every listener sees the flag from the decision on, as before.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from hearthcam.alerts.rules import AlertDecider
from hearthcam.types import Change, Event

log = logging.getLogger(__name__)

Listener = Callable[[Change, Event], None]


class AlertFlags(Protocol):
    """Where the decision is recorded (``Store``)."""

    def set_alert(self, event_id: str) -> bool:
        """Sets the event row's alert flag only; False if there is no such row."""
        ...


class _RecentIds:
    """A set of event ids that forgets its oldest beyond ``size`` (events do not come back
    after long); safe to share between threads."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def __contains__(self, event_id: object) -> bool:
        with self._lock:
            return event_id in self._ids

    def add(self, event_id: str) -> None:
        """Adds ``event_id``, forgetting the oldest if full."""
        with self._lock:
            self._ids[event_id] = None
            self._ids.move_to_end(event_id)
            while len(self._ids) > self._size:
                self._ids.popitem(last=False)


class AlertDecisions:
    """The event listener that decides alerts off the analysis threads (see the module doc)."""

    def __init__(
        self,
        decider: AlertDecider,
        flags: AlertFlags,
        downstream: Sequence[Listener] = (),
        queue_size: int = 1024,
        memory: int = 4096,
        zone: dt.tzinfo | None = None,
    ) -> None:
        self._decider = decider
        self._flags = flags
        self._downstream = tuple(downstream)
        self._zone = zone  # the schedules' time zone; None: the machine's
        self._alerted = _RecentIds(memory)
        self._ended = _RecentIds(memory)
        self._queue: queue.Queue[tuple[Change, Event] | None] = queue.Queue(queue_size)
        self._closed = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="alert-decisions", daemon=True)
        self._thread.start()

    def __call__(self, change: Change, event: Event) -> None:
        """Takes one event change (the EventListener signature); returns at once."""
        if self._closed:
            return
        try:
            self._queue.put_nowait((change, event))
        except queue.Full:
            self.dropped += 1
            # Once per 100 keeps a stuck database from flooding the log.
            if self.dropped % 100 == 1:
                log.warning("alert decisions are not keeping up: %d changes dropped", self.dropped)

    def alerted(self, event_id: str) -> bool:
        """Whether the event has been found alert-worthy (any thread)."""
        return event_id in self._alerted

    def decide(self, change: Change, event: Event) -> Event:
        """Takes the decision for one change; returns the event as it goes on (flagged if
        alert-worthy). The worker's step: called on its thread, or directly in tests."""
        if event.id in self._alerted:
            return replace(event, alert=True)
        if event.clip is not None or event.id in self._ended:
            return event
        if change is Change.ENDED:
            self._ended.add(event.id)
        when = dt.datetime.fromtimestamp(event.wall_start, self._zone).astimezone(self._zone)
        if not self._decider.decide(event, when):
            return event
        self._alerted.add(event.id)
        try:
            if not self._flags.set_alert(event.id):
                log.warning("event %s was deleted before its alert flag was stored", event.id)
        except Exception:  # the alert still goes out; only the stored flag is missing
            log.exception("storing the alert flag of event %s failed", event.id)
        return replace(event, alert=True)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            change, event = item
            try:
                event = self.decide(change, event)
            except Exception:  # a failed rule lookup must not stop the decisions of others
                log.exception("alert decision failed for event %s", event.id)
            for listener in self._downstream:
                try:
                    listener(change, event)
                except Exception:  # one listener must not keep the change from the others
                    log.exception("alert listener failed for event %s", event.id)

    def close(self, timeout: float = 10.0) -> None:
        """Stops taking changes and decides (and passes on) what is queued, within
        ``timeout``; call it before closing the ``downstream`` listeners."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("alert decisions did not finish in time")
            return
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("alert decisions did not finish in time")
