"""Live view of the cameras: fMP4 for Media Source Extensions, MJPEG as the fallback."""

from hearthcam.live.aio import chunks
from hearthcam.live.fmp4 import LiveBroadcaster, LiveStats
from hearthcam.live.mjpeg import MjpegBroadcaster
from hearthcam.live.relay import RelayedView
from hearthcam.live.subscription import Chunk, ChunkKind, Subscription
from hearthcam.live.view import LiveSource, LiveView

__all__ = [
    "Chunk",
    "ChunkKind",
    "LiveBroadcaster",
    "LiveSource",
    "LiveStats",
    "LiveView",
    "MjpegBroadcaster",
    "RelayedView",
    "Subscription",
    "chunks",
]
