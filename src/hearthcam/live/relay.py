"""A camera's live views fed from another process: a camera that runs as an actor on a cluster
node (``hearthcam.cluster.cameras``) keeps its own ``LiveView``; the server's web app hands its
viewers ``RelayedView`` subscriptions instead, and the server's relay carries the chunks over.

Each subscription here has a key; the relay asks the camera's process to open one subscription
of the same kind per key (so every viewer gets its own init segment and timeline from the
camera's broadcaster, as on one box), hands the chunks that came back to ``deliver``, and closes
the remote one once the viewer here is gone. When the camera's process changes (its node died and
it was started elsewhere) ``end_all`` closes the viewers here: their pages reconnect and get a
fresh stream from the new process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from hearthcam.live.overlay import OverlayState
from hearthcam.live.subscription import Chunk, ChunkKind, Subscription

#: How long a relayed MJPEG picture stays fresh enough to hand a new viewer at once, seconds.
FRESH_SECONDS = 5.0


class RelayedFeed:
    """Subscriptions fed by a relay (thread-safe): the web app subscribes, the relay delivers."""

    def __init__(
        self,
        max_seconds: float,
        max_bytes: int,
        keep_latest: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_seconds, self._max_bytes = max_seconds, max_bytes
        self._keep_latest = keep_latest
        self._clock = clock
        self._lock = threading.Lock()
        self._subs: dict[int, Subscription] = {}
        self._next = 0
        self._latest: tuple[float, Chunk] | None = None

    @property
    def viewers(self) -> int:
        return len(self._subs)

    def subscribe(self) -> Subscription:
        """A new viewer (MJPEG: handed the newest relayed picture at once if it is fresh)."""
        sub = Subscription(self._max_seconds, self._max_bytes, self._unsubscribe, self._clock)
        with self._lock:
            self._next += 1
            self._subs[self._next] = sub
            latest = self._latest
        if latest is not None and self._clock() - latest[0] <= FRESH_SECONDS:
            sub.offer(latest[1])
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            for key, held in list(self._subs.items()):
                if held is sub:
                    del self._subs[key]
        sub.finish()

    def wanted(self) -> list[int]:
        """The keys of the open subscriptions (what the camera's process should serve)."""
        with self._lock:
            return list(self._subs)

    def deliver(self, key: int, chunks: Sequence[Chunk]) -> None:
        """Queues what the camera's process sent for ``key``; a viewer too slow to take it is
        closed (its page reconnects), never waited for."""
        with self._lock:
            sub = self._subs.get(key)
            if self._keep_latest and chunks:
                media = [c for c in chunks if c.kind is ChunkKind.MEDIA]
                if media:
                    self._latest = (self._clock(), media[-1])
        if sub is None:
            return
        for chunk in chunks:
            if not sub.offer(chunk):
                sub.close()
                return

    def end(self, key: int) -> None:
        """The camera's process ended that subscription (the camera stopped)."""
        with self._lock:
            sub = self._subs.get(key)
        if sub is not None:
            sub.close()

    def end_all(self) -> None:
        """Closes every viewer (the camera's process changed, or the camera stopped)."""
        with self._lock:
            subs = list(self._subs.values())
            self._latest = None
        for sub in subs:
            sub.close()


class RelayedView:
    """The live views of a camera that runs in another process (the web app reads it as it
    reads a ``LiveView``)."""

    def __init__(self, camera: str) -> None:
        self.camera = camera
        self.fmp4 = RelayedFeed(max_seconds=30.0, max_bytes=64 << 20)
        self.mjpeg = RelayedFeed(max_seconds=5.0, max_bytes=16 << 20, keep_latest=True)
        self.overlay = OverlayState()

    @property
    def viewers(self) -> int:
        return self.fmp4.viewers + self.mjpeg.viewers

    def close(self) -> None:
        self.fmp4.end_all()
        self.mjpeg.end_all()
