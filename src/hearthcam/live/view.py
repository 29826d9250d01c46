"""A camera's live views as the pipeline feeds them: fMP4 from record packets, MJPEG from frames."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from hearthcam.live.fmp4 import LiveBroadcaster
from hearthcam.live.mjpeg import MjpegBroadcaster
from hearthcam.live.overlay import OverlayState
from hearthcam.live.subscription import Subscription
from hearthcam.types import Frame

if TYPE_CHECKING:
    from av.packet import Packet
    from av.video.stream import VideoStream


class Feed(Protocol):
    """Where a viewer subscribes: a broadcaster here, or a relay of one elsewhere."""

    def subscribe(self) -> Subscription: ...

    @property
    def viewers(self) -> int:
        """How many subscriptions are open."""
        ...


class LiveSource(Protocol):
    """What the web app reads of a camera's live views: a ``LiveView`` fed in this process, or a
    ``live.relay.RelayedView`` fed from the camera's process on a cluster node."""

    @property
    def fmp4(self) -> Feed: ...

    @property
    def mjpeg(self) -> Feed: ...

    @property
    def overlay(self) -> OverlayState: ...


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
