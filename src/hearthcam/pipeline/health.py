"""How one camera is doing, for the owner: frames in, analysed and dropped, the last frame, the
connection, reconnects and the last error (with how often it repeated).

``HealthMonitor`` is fed by the camera's threads and read by anyone (``snapshot``); it holds a
fixed number of fields whatever the run's length. ``RepeatedErrors`` keeps a log readable when a
camera fails the same way many times a second: the first occurrence is logged (with its
traceback when there is one), the repeats are counted and summed up at most once a minute.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# Repeats of one error are summed up in the log at most this often.
SUMMARY_EVERY = 60.0


class Connection(enum.StrEnum):
    """The camera's link, as the owner sees it."""

    CONNECTING = "connecting"  # started, no picture yet
    LIVE = "live"  # frames are arriving
    RECONNECTING = "reconnecting"  # lost; the source retries with backoff
    STOPPED = "stopped"  # turned off or shut down


@dataclass(frozen=True, slots=True)
class CameraHealth:
    """One camera's health at one moment (what ``GET /api/cameras/{name}/health`` returns)."""

    camera: str
    connection: Connection
    frames_in: int
    frames_analysed: int
    frames_dropped: int
    analysis_errors: int  # frames whose analysis failed (a bug, or bad data)
    last_frame_at: float | None  # wall time of the last decoded frame
    connected_since: float | None
    reconnects: int
    last_error: str | None
    last_error_at: float | None
    last_error_count: int  # how many times in a row the last error happened
    analysis_failing: bool = False  # the last analysed frame's analysis failed

    @classmethod
    def off(cls, camera: str) -> CameraHealth:
        """The health of a camera that does not run (switched off, or not started)."""
        return cls(camera, Connection.STOPPED, 0, 0, 0, 0, None, None, 0, None, None, 0)

    @property
    def analysing(self) -> bool:
        """Frames arrive and are analysed (not all failing)."""
        return self.frames_analysed > self.analysis_errors


class RepeatedErrors:
    """Logs an error the first time, then counts its repeats and sums them up once a minute.

    Two errors are "the same" when their keys (the message, or an exception's type and text)
    are equal; a different error is logged at once and ends the previous run of repeats.
    """

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._clock = clock
        self._key: str | None = None
        self._repeats = 0  # since the last line written about the current key
        self._since = 0.0
        self._count = 0  # times in a row the current key happened
        self._lock = threading.Lock()

    def report(self, message: str, *, exc_info: bool = False) -> int:
        """Logs ``message`` (a warning) unless it repeats the last one; returns how many times in
        a row it has now happened."""
        now = self._clock()
        with self._lock:
            if message != self._key:
                self._flush()
                self._key, self._repeats, self._since, self._count = message, 0, now, 1
                self._log.warning("%s", message, exc_info=exc_info)
                return 1
            self._count += 1
            self._repeats += 1
            if now - self._since >= SUMMARY_EVERY:
                self._flush()
                self._since = now
            return self._count

    def _flush(self) -> None:
        if self._key is not None and self._repeats:
            self._log.warning(
                "%s (repeated %d more times)", self._key, self._repeats, extra={"repeat": True}
            )
        self._repeats = 0


class HealthMonitor:
    """Counters and the last error of one camera; thread-safe, bounded."""

    def __init__(
        self, camera: str, logger: logging.Logger, clock: Callable[[], float] = time.time
    ) -> None:
        self.camera = camera
        self._clock = clock
        self._errors = RepeatedErrors(logger)
        self._lock = threading.Lock()
        self._connection = Connection.CONNECTING
        self._frames_in = self._frames_analysed = self._frames_dropped = 0
        self._analysis_errors = 0
        self._last_frame_at: float | None = None
        self._connected_since: float | None = None
        self._reconnects = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_error_count = 0
        # Whether the last frame whose analysis ended failed, and whether the one being
        # analysed has failed so far (a frame is counted when its analysis starts).
        self._failed_last = self._failed_now = False

    def frame_in(self, wall: float) -> None:
        """A decoded frame arrived."""
        with self._lock:
            self._frames_in += 1
            self._last_frame_at = wall
            self._connection = Connection.LIVE

    def frame_analysed(self) -> None:
        """A frame goes through analysis (the one before it has ended)."""
        with self._lock:
            self._frames_analysed += 1
            self._failed_last, self._failed_now = self._failed_now, False

    def frame_dropped(self) -> None:
        """A frame was dropped: analysis was behind."""
        with self._lock:
            self._frames_dropped += 1

    def connected(self) -> None:
        """The stream opened (again)."""
        with self._lock:
            if self._connected_since is not None or self._connection is Connection.RECONNECTING:
                self._reconnects += 1
            self._connected_since = self._clock()
            self._connection = Connection.LIVE

    def disconnected(self) -> None:
        """The stream was lost; the source reconnects."""
        with self._lock:
            self._connected_since = None
            self._connection = Connection.RECONNECTING

    def stopped(self) -> None:
        """The camera was stopped."""
        with self._lock:
            self._connected_since = None
            self._connection = Connection.STOPPED

    def error(self, message: str, *, analysis: bool = False, exc_info: bool = False) -> None:
        """A survivable error: logged once per run of repeats, kept as the last error."""
        count = self._errors.report(message, exc_info=exc_info)
        with self._lock:
            if analysis:
                self._analysis_errors += 1
                self._failed_last = self._failed_now = True
            self._last_error, self._last_error_at = message, self._clock()
            self._last_error_count = count

    def snapshot(self) -> CameraHealth:
        """The health now."""
        with self._lock:
            return CameraHealth(
                camera=self.camera,
                connection=self._connection,
                frames_in=self._frames_in,
                frames_analysed=self._frames_analysed,
                frames_dropped=self._frames_dropped,
                analysis_errors=self._analysis_errors,
                last_frame_at=self._last_frame_at,
                connected_since=self._connected_since,
                reconnects=self._reconnects,
                last_error=self._last_error,
                last_error_at=self._last_error_at,
                last_error_count=self._last_error_count,
                analysis_failing=self._failed_last,
            )
