"""One input of a camera (``Link``: its roles and connection bookkeeping) and one open
connection of it being read (``Reading``: the packet in hand, its time, and when it is due)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av.error

from hearthcam.pipeline.source.connection import ConnState, FrameSampler
from hearthcam.pipeline.source.pacing import Due
from hearthcam.pipeline.source.timeline import Timeline

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

# The empty packet that drains the decoder at the end is handed on at once.
_AT_ONCE = Due(float("-inf"), urgent=True)


@dataclass(slots=True)
class Link:
    """One input of a camera, the roles it plays, and its connection bookkeeping."""

    url: str
    record: bool
    detect: bool
    live: bool
    state: ConnState = ConnState.CONNECTING
    attempts: int = 0
    streamed_for: float = 0.0
    problem: str = ""  # why the last connection failed or ended
    last_wall: float | None = None  # wall of the last packet: where a gap starts
    gap_reason: str | None = None  # set while a gap waits for its first packet after it
    errors: int = 0  # undecodable packets not reported yet
    error_note: str = ""  # where and why the last one failed
    error_reported: float = float("-inf")

    @property
    def role(self) -> str:
        """The roles as words, for messages."""
        return "+".join(r for r, on in (("record", self.record), ("detect", self.detect)) if on)


@dataclass(slots=True)
class Reading:
    """One open connection of a link: its packets one at a time, stamped, with when each is
    due (``pacing``)."""

    link: Link
    container: InputContainer
    stream: VideoStream
    timeline: Timeline
    sampler: FrameSampler
    packets: Iterator[Packet[VideoStream]]
    head: Packet[VideoStream] | None = None  # the packet in hand, not handed on yet
    media: float = 0.0  # its media seconds
    wall: float = 0.0  # its wall time
    due: Due | None = None  # None once the packets ran out
    reason: str = "the stream ended"  # why they ran out

    def advance(self, read_timeout: float) -> bool:
        """Reads the next packet into ``head``; False (and ``reason``) when there is none."""
        try:
            packet = next(self.packets)
        except StopIteration:
            return self._out()
        except (av.error.ExitError, av.error.TimeoutError):
            return self._out(f"no data for {read_timeout:g} s")
        except av.error.FFmpegError as error:
            return self._out(f"reading failed ({error.strerror or type(error).__name__})")
        self.head = packet
        self.media, self.wall = self.timeline.packet(
            packet.dts if packet.dts is not None else packet.pts
        )
        if not packet.size:
            self.due = _AT_ONCE
        else:
            # A frame the sampler will skip may wait: only a kept one is latency that counts.
            pts, _ = self.timeline.frame(packet.pts, self.media, self.wall)
            self.due = Due(self.wall, urgent=self.link.detect and self.sampler.wants(pts))
        return True

    def _out(self, reason: str | None = None) -> bool:
        self.head, self.due = None, None
        if reason is not None:
            self.reason = reason
        return False
