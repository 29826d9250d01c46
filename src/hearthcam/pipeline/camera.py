"""One camera as a unit: its pipeline and stream as the registry resolved it (``camera_parts``),
and the supervised loop that reads it until told to stop (``run_camera``).

The runtime runs each camera this way on a thread of its process; on a Ray cluster a camera's
actor does the same on its node (``hearthcam.cluster.cameras``).
"""

from __future__ import annotations

import logging
import threading

from hearthcam.config import CameraConfig
from hearthcam.pipeline.runner import CameraPipeline, PipelineParts
from hearthcam.pipeline.source import CameraStream, SystemClock

log = logging.getLogger(__name__)

#: The longest pause before a crashed camera loop starts again, seconds.
MAX_RESTART_DELAY = 60.0


def camera_inputs(camera: CameraConfig) -> tuple[str | None, str]:
    """The record URL (None when nothing records) and the detect URL of a camera."""
    record = next((i.path for i in camera.inputs if "record" in i.roles), None)
    detect = next(i.path for i in camera.inputs if "detect" in i.roles)
    return record, detect


def camera_parts(
    name: str,
    camera: CameraConfig,
    parts: PipelineParts,
    realtime: bool,
    lossless: bool = False,
) -> tuple[CameraPipeline, CameraStream]:
    """The pipeline and stream of one camera, as the registry resolved it."""
    pipeline = CameraPipeline(name, camera, parts, lossless=lossless)
    record, detect = camera_inputs(camera)
    stream = CameraStream(
        name, record, detect, camera.detect, parts.config.source, pipeline, SystemClock(), realtime
    )
    return pipeline, stream


def run_camera(
    name: str, stream: CameraStream, pipeline: CameraPipeline, stop: threading.Event
) -> None:
    """Reads the camera until ``stop`` (or a file source's end). A bug that escapes its loop
    must not silently end its recording: it is logged and the camera starts again after a
    pause (doubling up to ``MAX_RESTART_DELAY``); other cameras never notice."""
    delay = 1.0
    while not stop.is_set():
        try:
            stream.run(stop)
            return
        except Exception:
            log.exception("%s: camera loop crashed; restarting in %.0f s", name, delay)
            pipeline.on_error(f"{name}: camera loop crashed")
            if stop.wait(delay):
                return
            delay = min(delay * 2, MAX_RESTART_DELAY)
