"""Camera I/O: open and probe inputs (``inputs``), the pure connection rules (``connection``),
one camera's read loop with reconnection (``camera``), what ``analyze`` accepts (``files``) and
what it can still read of an MP4 cut before its index (``salvage``)."""

from hearthcam.pipeline.source.camera import CameraStream, Clock, StreamSink, SystemClock
from hearthcam.pipeline.source.connection import (
    Backoff,
    ConnEvent,
    ConnState,
    FrameSampler,
    transition,
)
from hearthcam.pipeline.source.files import IndexLost, check_video_file
from hearthcam.pipeline.source.inputs import (
    InputKind,
    StreamInfo,
    input_kind,
    open_input,
    probe,
    redact_url,
    stream_info,
)
from hearthcam.pipeline.source.salvage import Salvaged, salvage_h264

__all__ = [
    "Backoff",
    "CameraStream",
    "Clock",
    "ConnEvent",
    "ConnState",
    "FrameSampler",
    "IndexLost",
    "InputKind",
    "Salvaged",
    "StreamInfo",
    "StreamSink",
    "SystemClock",
    "check_video_file",
    "input_kind",
    "open_input",
    "probe",
    "redact_url",
    "salvage_h264",
    "stream_info",
    "transition",
]
