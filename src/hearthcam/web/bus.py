"""The event bus behind ``/api/events/stream``: event changes from the pipeline to SSE clients.

The pipeline calls ``EventBus.on_change`` (an ``EventListener``) on its analysis thread and the
web app calls ``deleted`` after a deletion; each SSE client holds a ``BusSubscription``, an
asyncio queue on the server's event loop. Publishing never waits: it schedules the put on each
subscriber's loop with ``call_soon_threadsafe``. A client whose queue is full is closed instead of
slowing the pipeline; its browser's EventSource reconnects and reloads the list.

The bus does not know who may see what: every message carries its camera and the SSE route
passes on only what the subscriber's household owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass
from enum import StrEnum

from hearthcam.types import Change, Event

QUEUE_SIZE = 256


class BusKind(StrEnum):
    """What happened to an event, as the SSE stream names it."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


_KIND_OF_CHANGE = {
    Change.STARTED: BusKind.CREATED,
    Change.UPDATED: BusKind.UPDATED,
    Change.ENDED: BusKind.UPDATED,
}


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One change of one event; ``event`` is None for a deletion."""

    kind: BusKind
    event_id: str
    camera: str
    event: Event | None = None


class BusSubscription:
    """One SSE client's queue, living on the event loop that created it."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self._bus = bus
        self._loop = loop
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue(size)
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether the subscription ended (closed by the client, the bus, or an overflow)."""
        return self._closed

    def offer(self, message: BusMessage | None) -> None:
        """Queues a message from any thread (None: close); never blocks."""
        try:
            self._loop.call_soon_threadsafe(self._put, message)
        except RuntimeError:  # the loop is closed: the client is gone
            self._bus.unsubscribe(self)

    def _put(self, message: BusMessage | None) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            # A client this far behind reloads anyway; closing is cheaper than slowing others.
            self.close()
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self._queue.put_nowait(None)

    async def next(self, timeout: float) -> BusMessage | None:
        """The next message, or None after ``timeout`` seconds or once closed."""
        if self._closed and self._queue.empty():
            return None
        try:
            message = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if message is None:
            self._closed = True
        return message

    def close(self) -> None:
        """Ends the subscription (idempotent)."""
        self._closed = True
        self._bus.unsubscribe(self)


class EventBus:
    """Fans event changes out to SSE subscribers (thread-safe)."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subscribers: set[BusSubscription] = set()

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        with self._lock:
            return len(self._subscribers)

    def subscribe(self) -> BusSubscription:
        """A new subscription on the running event loop."""
        subscription = BusSubscription(self, asyncio.get_running_loop(), self._queue_size)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: BusSubscription) -> None:
        """Forgets a subscription (``BusSubscription.close`` calls this)."""
        with self._lock:
            self._subscribers.discard(subscription)

    def publish(self, message: BusMessage) -> None:
        """Offers a message to every subscriber; returns at once (any thread)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.offer(message)

    def on_change(self, change: Change, event: Event) -> None:
        """The pipeline's EventListener: register it with the runtime."""
        self.publish(BusMessage(_KIND_OF_CHANGE[change], event.id, event.camera, event))

    def deleted(self, event_id: str, camera: str) -> None:
        """Tells subscribers an event was deleted."""
        self.publish(BusMessage(BusKind.DELETED, event_id, camera))

    def close_subscribers(self) -> None:
        """Ends every open subscription (at shutdown, so streams do not hold the server)."""
        with self._lock:
            subscribers, self._subscribers = list(self._subscribers), set()
        for subscription in subscribers:
            subscription.offer(None)
