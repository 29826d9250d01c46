"""``analyze``: the whole live path over one video file at full speed (no alerts, no web app)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from hearthcam.config import CameraConfig, Config, InputConfig
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.source import probe
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
    """Runs the whole live path over a video file at full speed; returns its finished events."""
    info = probe(path, config.source)
    template = next(iter(config.cameras.values()), None)
    name = next(iter(config.cameras), None) or camera_name_for(path)
    camera = (template or CameraConfig(inputs=[InputConfig(path=path)])).model_copy(
        update={"inputs": [InputConfig(path=path)]}
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
    errors = pipeline.stats.errors
    if errors:
        log.warning("%s: %d problems while reading, first: %s", name, len(errors), errors[0])
    events = [runtime.store.get_event(i) or e for i, e in finished.items()]
    return sorted(events, key=lambda e: e.start)
