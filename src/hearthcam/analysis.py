"""``analyze``: the whole live path over one video file at full speed (no alerts, no web app)."""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hearthcam.config import CameraConfig, Config, InputConfig
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.source import (
    IndexLost,
    Salvaged,
    StreamInfo,
    check_video_file,
    salvage_h264,
)
from hearthcam.pipeline.source.transcode import codec_name, h264_copy, mp4_can_hold
from hearthcam.types import Change, Event

if TYPE_CHECKING:
    pass

from hearthcam.app import build
from hearthcam.runtime import camera_name_for

log = logging.getLogger(__name__)


def analyze(
    path: str,
    config: Config,
    progress: Callable[[float], None] | None = None,
    detector: Detector | None = None,
) -> list[Event]:
    """Runs the whole live path over a video file at full speed; returns its finished events.

    Raises SourceError before anything is stored for an input that is not a regular video file
    (a stream, a FIFO, a still image, a video too small to analyse, an MP4 cut before its index
    with no H.264 left to read). An MP4 cut before its index is read as far as its media data
    goes (``salvage``), with a warning.
    """
    with tempfile.TemporaryDirectory(prefix="hearthcam-analyze-") as scratch:
        source, info, salvaged = _readable(path, config, Path(scratch))
        events = _analyze(path, source, info, config, progress, detector)
    if salvaged is not None:
        rate = f"{salvaged.fps:g} fps" + (" (assumed)" if salvaged.assumed_fps else "")
        log.warning(
            "%s: file ends early at %.1f s (truncated?): its index (moov) was lost, so the %d "
            "frames left in its media data were read as H.264 at %s",
            path, salvaged.frames / salvaged.fps, salvaged.frames, rate,
        )  # fmt: skip
    return events


def _readable(path: str, config: Config, scratch: Path) -> tuple[str, StreamInfo, Salvaged | None]:
    """The file to read for ``path``: itself, the H.264 a cut MP4 still holds, or an H.264
    copy of a file whose codec recording cannot copy into an MP4 (``transcode``)."""
    try:
        info = check_video_file(path, config.source)
    except IndexLost:
        salvaged = salvage_h264(Path(path), scratch / "salvaged.mp4")
        if salvaged is None:
            raise
        source = str(salvaged.path)
        return source, check_video_file(source, config.source), salvaged
    if mp4_can_hold(path):
        return path, info, None
    log.warning(
        "%s: its video codec (%s) cannot be recorded into MP4 as it is: re-encoding it to "
        "H.264 first, so that its events get clips", path, codec_name(path),
    )  # fmt: skip
    copy = str(h264_copy(path, scratch / "h264.mp4"))
    return copy, check_video_file(copy, config.source), None


def _analyze(
    path: str,
    source: str,
    info: StreamInfo,
    config: Config,
    progress: Callable[[float], None] | None,
    detector: Detector | None,
) -> list[Event]:
    """Reads ``source`` as the camera named after ``path``, to its end."""
    template = next(iter(config.cameras.values()), None)
    name = next(iter(config.cameras), None) or camera_name_for(path)
    camera = (template or CameraConfig(inputs=[InputConfig(path=source)])).model_copy(
        update={"inputs": [InputConfig(path=source)]}
    )
    config = config.model_copy(update={"cameras": {name: camera}})
    finished: dict[str, Event] = {}

    def collect(change: Change, event: Event) -> None:
        if change is Change.ENDED or event.id in finished:
            finished[event.id] = event

    runtime = build(
        config, [collect], lossless=True, realtime=False, detector=detector, alerts=False
    )
    stream, pipeline = runtime.streams[name], runtime.pipelines[name]
    reader = threading.Thread(target=stream.run, args=(runtime.stop,), name=f"src-{name}")
    reader.start()
    while reader.is_alive():
        reader.join(0.1)
        if progress is not None and info.duration:
            progress(min(1.0, pipeline.last_pts / info.duration))
    runtime.close()
    if progress is not None:
        progress(1.0)
    # Every problem (a truncated end, a timestamp jump, undecodable packets) was logged as it
    # happened, by the camera's health: the events stand, and the owner has seen what they
    # were made from.
    events = [runtime.store.get_event(i) or e for i, e in finished.items()]
    runtime.store.close()  # its pooled connections (a PostgreSQL server's would stay open)
    return sorted(events, key=lambda e: e.start)
