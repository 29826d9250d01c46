"""The API forms of the System page (``GET /api/system``, ``GET /api/system/logs``) and of the
live overlay (``GET /api/live/{camera}/overlay``)."""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel

from hearthcam.live.overlay import Overlay
from hearthcam.pipeline.health import CameraHealth, Connection
from hearthcam.pipeline.load import CameraLoad
from hearthcam.recordings.usage import FootageUsage
from hearthcam.web.log_buffer import LogLine

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LEVELS: dict[str, int] = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


class CameraSystemOut(BaseModel):
    """One camera on the System page: its load now, its footage and its last error."""

    camera: str
    display_name: str
    connection: Connection
    fps_in: float  # over the last ``window`` seconds
    fps_analysed: float
    dropped_per_s: float
    frames_dropped: int  # since the camera started
    detector_ms: float | None  # mean wall time of one inference; None: none ran lately
    inferences_per_s: float
    cpu_share: float  # the analysis thread's CPU seconds per second (1.0: one core)
    window: float
    footage_bytes: int
    segments: int
    oldest_footage_at: float | None  # retention's horizon: the oldest recording kept
    newest_footage_at: float | None
    oldest_event_at: float | None  # the oldest event whose clip or snapshot is kept
    last_error: str | None
    last_error_at: float | None

    @classmethod
    def of(
        cls,
        display_name: str,
        health: CameraHealth,
        load: CameraLoad | None,
        usage: FootageUsage,
    ) -> CameraSystemOut:
        detector = None if load is None else load.detector_ms
        return cls(
            camera=health.camera,
            display_name=display_name,
            connection=health.connection,
            fps_in=round(load.fps_in, 2) if load else 0.0,
            fps_analysed=round(load.fps_analysed, 2) if load else 0.0,
            dropped_per_s=round(load.dropped, 2) if load else 0.0,
            frames_dropped=health.frames_dropped,
            detector_ms=None if detector is None else round(detector, 2),
            inferences_per_s=round(load.inferences, 2) if load else 0.0,
            cpu_share=round(load.cpu_share, 4) if load else 0.0,
            window=round(load.window, 2) if load else 0.0,
            footage_bytes=usage.bytes,
            segments=usage.segments,
            oldest_footage_at=usage.oldest,
            newest_footage_at=usage.newest,
            oldest_event_at=usage.oldest_event,
            last_error=health.last_error,
            last_error_at=health.last_error_at,
        )


class SystemOut(BaseModel):
    """The box as the caller may see it: their cameras, the disk, the server's clock."""

    cameras: list[CameraSystemOut]
    footage_bytes: int  # of the cameras listed
    free_bytes: int
    total_bytes: int
    cpu_count: int
    server_time: float


class LogLineOut(BaseModel):
    """One log record (credentials masked when it was kept)."""

    seq: int
    at: float
    level: LogLevel
    logger: str
    camera: str | None
    message: str

    @classmethod
    def of(cls, line: LogLine) -> LogLineOut:
        name = line.level_name
        level: LogLevel = name if name in LEVELS else "INFO"  # type: ignore[assignment]
        return cls(
            seq=line.seq,
            at=line.at,
            level=level,
            logger=line.logger,
            camera=line.camera,
            message=line.message,
        )


class LogsOut(BaseModel):
    """The newest log lines at or above a level, newest first."""

    lines: list[LogLineOut]
    level: LogLevel
    server_time: float


class OverlayObjectOut(BaseModel):
    """A tracked object: relative box (x1, y1, x2, y2 in 0..1), label, score, track."""

    box: tuple[float, float, float, float]
    label: str
    score: float
    track: int


class OverlayOut(BaseModel):
    """The newest analysed frame's objects and motion boxes (relative), and when it was."""

    at: float | None  # None: no frame analysed yet
    width: int
    height: int
    objects: list[OverlayObjectOut]
    motion: list[tuple[float, float, float, float]]
    server_time: float

    @classmethod
    def of(cls, overlay: Overlay | None, now: float) -> OverlayOut:
        if overlay is None:
            return cls(at=None, width=0, height=0, objects=[], motion=[], server_time=now)
        return cls(
            at=overlay.at,
            width=overlay.width,
            height=overlay.height,
            objects=[
                OverlayObjectOut(box=o.box, label=o.label, score=o.score, track=o.track)
                for o in overlay.objects
            ],
            motion=list(overlay.motion),
            server_time=now,
        )
