"""The fallback live view: the detect stream as Motion JPEG (multipart/x-mixed-replace).

Owns when detect frames are JPEG-encoded and who gets them. ``MjpegBroadcaster.frame`` is
called with every detect frame (on the camera's I/O thread). With nobody watching it only keeps
a reference to the newest frame, so a new viewer gets a picture at once; with viewers it encodes
at most ``max_fps`` frames a second, once for all of them, and offers each viewer the part. A
viewer's queue holds about a second; one that falls behind loses older parts, never the newest,
and one that took nothing for ``stall_seconds`` is dropped.
Any browser shows it in an ``<img>``; it costs far more bandwidth than fMP4, hence a fallback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cv2

from hearthcam.live.subscription import Chunk, ChunkKind, Subscription
from hearthcam.types import BGRImage, Frame

BOUNDARY = "frame"
CONTENT_TYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
# The newest frame is shown to a new viewer only if it is this fresh (seconds).
FRESH_SECONDS = 2.0
# A frame this close to its slot (as a fraction of the slot) still counts, for timing jitter.
TOLERANCE = 0.1


def multipart_part(jpeg: bytes) -> bytes:
    """One part of a multipart/x-mixed-replace body, boundary included."""
    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


def encode_jpeg(image: BGRImage, quality: int) -> bytes:
    """A BGR image as JPEG bytes."""
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for an image of shape {image.shape}")
    return bytes(buffer)


class MjpegBroadcaster:
    """Fans one camera's detect frames out as multipart JPEG parts (thread-safe)."""

    content_type = CONTENT_TYPE

    def __init__(
        self,
        camera: str,
        max_fps: float = 5.0,
        quality: int = 70,
        stall_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera = camera
        self.interval = 1.0 / max_fps
        self.quality = quality
        self.stall_seconds = stall_seconds
        self.encoded = 0  # JPEGs made; stays 0 while nobody watches
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: tuple[float, BGRImage] | None = None
        self._due = float("-inf")  # when the next part is due
        self._viewers: list[Subscription] = []

    @property
    def viewers(self) -> int:
        """How many subscriptions are open."""
        return len(self._viewers)

    def frame(self, frame: Frame) -> None:
        """Takes one detect frame (BGR, not modified, not kept beyond the next one)."""
        now = self._clock()
        with self._lock:
            self._latest = (now, frame.image)
            # Parts go out on a grid of 1/max_fps, so 25 fps in gives exactly 5 out, not 4.2.
            if not self._viewers or now < self._due - TOLERANCE * self.interval:
                return
            late = now - self._due >= self.interval  # after a pause: no burst to catch up
            self._due = now + self.interval if late else self._due + self.interval
            viewers = list(self._viewers)
        # Encoded outside the lock so subscribe() and close() never wait for it; frames come
        # from one thread, so parts still go out in order.
        chunk = self._chunk(frame.image)
        for sub in viewers:
            self._offer(sub, chunk)

    def subscribe(self) -> Subscription:
        """A new viewer; gets the newest frame at once if there is a fresh one."""
        sub = Subscription(1.0, 16 << 20, self.unsubscribe, self._clock)
        with self._lock:
            self._viewers.append(sub)
            latest = self._latest
        if latest is not None and self._clock() - latest[0] <= FRESH_SECONDS:
            self._offer(sub, self._chunk(latest[1]))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Ends a viewer's subscription (``Subscription.close`` calls this)."""
        with self._lock:
            if sub in self._viewers:
                self._viewers.remove(sub)
        sub.finish()

    def close(self) -> None:
        """Ends every subscription."""
        with self._lock:
            viewers, self._viewers = self._viewers, []
            self._latest = None
        for sub in viewers:
            sub.finish()

    def _chunk(self, image: BGRImage) -> Chunk:
        with self._lock:
            self.encoded += 1
        part = multipart_part(encode_jpeg(image, self.quality))
        return Chunk(part, ChunkKind.MEDIA, CONTENT_TYPE, keyframe=True, duration=self.interval)

    def _offer(self, sub: Subscription, chunk: Chunk) -> None:
        if sub.offer(chunk):
            return
        if self._clock() - sub.last_taken > self.stall_seconds:
            self.unsubscribe(sub)  # a viewer that took nothing for so long is gone
            return
        sub.clear()  # behind: older parts are worthless once a newer one exists
        sub.offer(chunk)
