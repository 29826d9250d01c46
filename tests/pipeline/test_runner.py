"""``CameraPipeline.needed_from``: what retention must keep for the camera, at every moment.

An event that ends on a frame has, for a while, neither an open event nor a queued clip window
to show for it: its row is written first (slow when the disk is full, and a full disk is just
when a retention pass runs), then its clip is queued. A CI run caught retention deleting such a
window's footage in that gap ("clip for event ... failed: no recording covers ...", the
disk-full walk under load). The pipeline now holds the open event's footage for the whole frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hearthcam import app
from hearthcam.config import parse_config
from hearthcam.pipeline.detect import ScriptedDetector
from hearthcam.pipeline.events import EventChange
from hearthcam.types import Change, Event, Frame


def test_an_event_ending_keeps_its_footage_until_its_clip_is_queued(tmp_path: Path) -> None:
    config = parse_config({
        "data_dir": str(tmp_path),
        "cameras": {"cam": {"inputs": [{"path": "cam.mp4"}]}},
    })  # fmt: skip
    runtime = app.build(config, detector=ScriptedDetector([]), alerts=False)
    pipeline = runtime.pipelines["cam"]
    record = config.record
    seen: list[tuple[EventChange, float | None]] = []
    sink = pipeline._sink  # the store's writer: each change is looked at as it is written
    write = sink.write

    def watched(change: EventChange) -> Event:
        if change.change is Change.ENDED:
            seen.append((change, pipeline.needed_from()))  # what a retention pass would see now
        return write(change)

    sink.write = watched  # type: ignore[method-assign]  # a seam for this test only
    rng = np.random.default_rng(7)
    background = rng.integers(40, 120, (180, 320, 3)).astype(np.uint8)
    try:
        for i in range(150):  # 30 s at 5 fps: a square moves for 4 s, then the scene is calm
            image = background.copy()
            if 5 <= i < 25:
                x = 20 + 10 * (i - 5)
                image[60:100, x : x + 40] = 235
            pipeline.analyse(Frame("cam", i, i / 5, 1000 + i / 5, image))
        [(ended, needed)] = seen
        reach = ended.event.wall_start - record.pre_roll - record.min_clip
        assert needed is not None, "the ended event's footage was unprotected"
        assert needed <= reach
        # Once the row is written the window is queued: the clipper holds it from then on.
        assert pipeline.needed_from() is not None
    finally:
        runtime.close()
        runtime.store.close()
