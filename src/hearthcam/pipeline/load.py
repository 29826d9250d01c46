"""How hard one camera works, for the System page: frames in and analysed per second, the
detector's time per inference and the analysis thread's share of a CPU core, over the last
``WINDOW`` seconds.

CPU is measured with ``time.thread_time()`` on the camera's analysis thread, around each
frame's analysis: that is the CPU this camera's motion, detection (the calling thread's part
of the inference), tracking and events cost. ONNX Runtime's own worker threads are shared by
every camera and are not in it; the detector's wall time per inference says how long this
camera waits for them. ``LoadMeter`` is fed by the camera's threads and read by anyone; it
holds a fixed number of samples whatever the run's length.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 10.0  # seconds the rates and shares are taken over
_KEPT = 4096  # samples at most per kind (a 400 fps camera still fills a window)


@dataclass(frozen=True, slots=True)
class CameraLoad:
    """One camera's load over the last ``window`` seconds (what the System page shows)."""

    camera: str
    window: float  # seconds the figures cover (less just after the start)
    fps_in: float  # decoded detect frames a second
    fps_analysed: float
    dropped: float  # frames dropped a second (analysis was behind)
    detector_ms: float | None  # mean wall time of one inference; None: no inference ran
    inferences: float  # inferences a second (detection runs only where something moved)
    cpu_share: float  # analysis thread CPU seconds per wall second (1.0: one whole core)


class LoadMeter:
    """Time stamps of one camera's frames and the CPU its analysis took; thread-safe, bounded."""

    def __init__(
        self,
        camera: str,
        clock: Callable[[], float] = time.monotonic,
        window: float = WINDOW,
    ) -> None:
        self.camera = camera
        self._clock = clock
        self._window = window
        self._started = clock()
        self._lock = threading.Lock()
        self._in: deque[float] = deque(maxlen=_KEPT)
        self._dropped: deque[float] = deque(maxlen=_KEPT)
        self._analysed: deque[tuple[float, float]] = deque(maxlen=_KEPT)  # (when, cpu s)
        self._inferences: deque[tuple[float, float]] = deque(maxlen=_KEPT)  # (when, wall s)

    def frame_in(self) -> None:
        """A detect frame arrived."""
        with self._lock:
            self._in.append(self._clock())

    def frame_dropped(self) -> None:
        """A frame was dropped: analysis was behind."""
        with self._lock:
            self._dropped.append(self._clock())

    def analysed(self, cpu_seconds: float) -> None:
        """A frame's analysis ended, having taken ``cpu_seconds`` of its thread's CPU."""
        with self._lock:
            self._analysed.append((self._clock(), cpu_seconds))

    def inference(self, seconds: float) -> None:
        """The detector ran once and took ``seconds`` (wall)."""
        with self._lock:
            self._inferences.append((self._clock(), seconds))

    def snapshot(self) -> CameraLoad:
        """The load over the last window."""
        now = self._clock()
        since = now - self._window
        with self._lock:
            frames_in = sum(1 for t in self._in if t > since)
            dropped = sum(1 for t in self._dropped if t > since)
            cpu = [c for t, c in self._analysed if t > since]
            runs = [s for t, s in self._inferences if t > since]
        span = max(min(self._window, now - self._started), 1e-6)
        return CameraLoad(
            camera=self.camera,
            window=span,
            fps_in=frames_in / span,
            fps_analysed=len(cpu) / span,
            dropped=dropped / span,
            detector_ms=1000 * sum(runs) / len(runs) if runs else None,
            inferences=len(runs) / span,
            cpu_share=sum(cpu) / span,
        )


class ThreadCpu:
    """``with ThreadCpu() as cpu: ...`` then ``cpu.seconds``: the calling thread's CPU time."""

    seconds = 0.0

    def __enter__(self) -> ThreadCpu:
        self._start = time.thread_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.thread_time() - self._start
