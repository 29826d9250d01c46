"""A camera's live views as the pipeline feeds them: fMP4 from record packets, MJPEG from frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hearthcam.live.fmp4 import LiveBroadcaster
from hearthcam.live.mjpeg import MjpegBroadcaster
from hearthcam.live.overlay import OverlayState
from hearthcam.types import Frame

if TYPE_CHECKING:
    from av.packet import Packet
    from av.video.stream import VideoStream


class LiveView:
    """Both live views of one camera; the web server subscribes to ``fmp4`` or ``mjpeg`` and
    reads ``overlay`` (the newest analysed frame's objects and motion)."""

    def __init__(self, camera: str, max_buffer_seconds: float = 5.0, mjpeg_fps: float = 5.0):
        self.fmp4 = LiveBroadcaster(camera, max_buffer_seconds=max_buffer_seconds)
        self.mjpeg = MjpegBroadcaster(camera, max_fps=mjpeg_fps)
        self.overlay = OverlayState()

    def write(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        """A record packet (camera I/O thread): see ``LiveBroadcaster.write``."""
        self.fmp4.write(packet, stream, wall)

    def frame(self, frame: Frame) -> None:
        """A detect frame (camera I/O thread): see ``MjpegBroadcaster.frame``."""
        self.mjpeg.frame(frame)

    def close(self) -> None:
        """Ends every viewer's subscription (after the camera's source stopped)."""
        self.fmp4.close()
        self.mjpeg.close()
