"""A camera back after an outage is streaming again within the backoff cap (issue 14).

Real parts: GStreamer's RTSP server, stopped (the camera loses power) and started again on the
same port, read by a ``CameraStream`` with the default reconnect settings.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from hearthcam.config import SourceConfig
from hearthcam.pipeline.source import CameraStream, SystemClock
from tests.conftest import RtspServer
from tests.pipeline.test_source import DETECT, RecordingSink, Running, wait_for

# "A few seconds": the longest a camera that answers again may wait for its next try.
CAP_SECONDS = 5.0
# Long enough for the backoff to reach its cap several times over (1 + 2 + 4 + 4 + 4 s).
OUTAGE_SECONDS = 16.0
# Opening the RTSP session and waiting for the first keyframe (1 s apart on the test server),
# on a loaded machine.
CONNECT_MARGIN = 2.5


@pytest.mark.integration
def test_a_camera_back_after_an_outage_streams_again_within_the_backoff_cap(
    rtsp_servers: Callable[..., RtspServer],
) -> None:
    defaults = SourceConfig()
    assert defaults.backoff_max <= CAP_SECONDS
    # Short timeouts only so the loss is noticed quickly; the backoff is the default one.
    source = defaults.model_copy(update={"connect_timeout": 2.0, "read_timeout": 2.0})
    server = rtsp_servers("cam")
    sink = RecordingSink()
    camera = CameraStream("cam", server.url(), server.url(), DETECT, source, sink, SystemClock())
    runner = Running(camera)
    try:
        assert wait_for(lambda: len(sink.frames) >= 3, 15.0), sink.errors
        server.stop()
        down_until = time.monotonic() + OUTAGE_SECONDS
        while time.monotonic() < down_until:  # the outage itself: the camera is off this long
            time.sleep(0.1)
        retries = sum("retrying in" in e for e in sink.errors)
        server.start()  # returns once the port answers
        answering = time.monotonic()
        assert wait_for(lambda: sink.frames[-1][1] > answering, 30.0), sink.errors[-5:]
    finally:
        runner.finish()
    first_new = next(arrival for _, arrival in sink.frames if arrival > answering)
    reconnect = first_new - answering
    print(f"reconnect after the camera answered again: {reconnect:.2f} s")
    assert retries >= 5  # it kept retrying through the outage, at the capped pace
    assert reconnect < CAP_SECONDS + CONNECT_MARGIN, sink.errors[-5:]
    assert len(sink.gaps) == 1
