"""Camera I/O: open and probe inputs (``inputs``), the pure connection rules (``connection``),
one camera's read loop with reconnection (``camera``), and what ``analyze`` accepts (``files``)."""

from hearthcam.pipeline.source.camera import CameraStream, Clock, StreamSink, SystemClock
from hearthcam.pipeline.source.connection import (
    Backoff,
    ConnEvent,
    ConnState,
    FrameSampler,
    transition,
)
from hearthcam.pipeline.source.files import check_video_file
from hearthcam.pipeline.source.inputs import (
    InputKind,
    StreamInfo,
    input_kind,
    open_input,
    probe,
    redact_url,
    stream_info,
)

__all__ = [
    "Backoff",
    "CameraStream",
    "Clock",
    "ConnEvent",
    "ConnState",
    "FrameSampler",
    "InputKind",
    "StreamInfo",
    "StreamSink",
    "SystemClock",
    "check_video_file",
    "input_kind",
    "open_input",
    "probe",
    "redact_url",
    "stream_info",
    "transition",
]
