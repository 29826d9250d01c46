"""What a live viewer holds: a bounded, thread-safe queue of chunks from one broadcaster.

The broadcaster (on a camera's I/O thread) offers chunks; the viewer takes them, blocking
(``get``, iteration, for a server that runs the viewer in a thread) or without blocking
(``drain`` plus a waker callback, which ``hearthcam.live.aio.chunks`` uses for asyncio). The
producer never waits: a full queue refuses the chunk and the broadcaster decides what the
viewer loses (the fMP4 broadcaster resyncs at the next keyframe, MJPEG keeps the newest part).
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass


class ChunkKind(enum.Enum):
    """What a chunk is for the client."""

    INIT = "init"  # fMP4 init segment (ftyp+moov): (re)initialise the SourceBuffer with it
    MEDIA = "media"  # fMP4 fragment (moof+mdat), or one multipart JPEG part


@dataclass(frozen=True, slots=True)
class Chunk:
    """Bytes to send as they are, with what a server needs to frame them."""

    data: bytes
    kind: ChunkKind
    mime: str  # for INIT: the SourceBuffer type; it may change after a stream change
    keyframe: bool = False
    duration: float = 0.0  # seconds of media it carries


Waker = Callable[[], None]


class Subscription:
    """One viewer's queue. Iterate it (blocking) or ``drain`` it; ``close`` it when done."""

    def __init__(
        self,
        max_seconds: float,
        max_bytes: int,
        on_close: Callable[[Subscription], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.resyncs = 0  # times the viewer fell behind and lost queued media
        self._on_close = on_close
        self._clock = clock
        self._cond = threading.Condition()
        self._queue: deque[Chunk] = deque()
        self._seconds = 0.0
        self._bytes = 0
        self._closed = False
        self._waker: Waker | None = None
        self.last_taken = clock()  # when the viewer last took chunks (or subscribed)

    # -- viewer side ----------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> Chunk | None:
        """The next chunk; None on timeout or once closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._queue or self._closed, timeout):
                return None
            if not self._queue:
                return None
            self.last_taken = self._clock()
            return self._pop()

    def __iter__(self) -> Iterator[Chunk]:
        """Blocks for each chunk; ends when the subscription is closed."""
        while (chunk := self.get()) is not None:
            yield chunk

    def drain(self) -> list[Chunk]:
        """Every queued chunk, without waiting (may be empty)."""
        with self._cond:
            self.last_taken = self._clock()
            chunks = list(self._queue)
            self._queue.clear()
            self._seconds, self._bytes = 0.0, 0
            return chunks

    def set_waker(self, waker: Waker | None) -> None:
        """Calls ``waker`` (from the producer's thread) whenever chunks arrive in an empty queue
        or the subscription closes; it must be thread-safe and return at once."""
        with self._cond:
            self._waker = waker
            pending = bool(self._queue) or self._closed
        if waker is not None and pending:
            waker()

    @property
    def closed(self) -> bool:
        """Whether no more chunks will come (what is queued can still be taken)."""
        return self._closed

    def close(self) -> None:
        """Stops the subscription and unsubscribes it; safe to call more than once."""
        if self.finish():
            self._on_close(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- producer side (the broadcaster, under its own lock) --------------------------------
    def offer(self, chunk: Chunk) -> bool:
        """Queues a chunk unless that would exceed the bounds; never blocks."""
        with self._cond:
            if self._closed:
                return False
            over_time = self._seconds + chunk.duration > self.max_seconds
            if self._queue and (over_time or self._bytes + len(chunk.data) > self.max_bytes):
                return False
            was_empty = not self._queue
            self._queue.append(chunk)
            self._seconds += chunk.duration
            self._bytes += len(chunk.data)
            self._cond.notify()
            waker = self._waker if was_empty else None
        if waker is not None:
            waker()
        return True

    def clear(self) -> list[Chunk]:
        """Drops and returns everything queued (the viewer fell behind)."""
        with self._cond:
            dropped = list(self._queue)
            self._queue.clear()
            self._seconds, self._bytes = 0.0, 0
            self.resyncs += 1
            return dropped

    def finish(self) -> bool:
        """Marks it closed and wakes the viewer; True the first time."""
        with self._cond:
            if self._closed:
                return False
            self._closed = True
            self._cond.notify_all()
            waker = self._waker
        if waker is not None:
            waker()
        return True

    def _pop(self) -> Chunk:
        chunk = self._queue.popleft()
        self._seconds -= chunk.duration
        self._bytes -= len(chunk.data)
        return chunk
