"""Stamps one connection's packets and frames with media seconds and wall time.

For a file, ``wall = wall at open + media time`` (a synthetic clock, so ``analyze`` gives
deterministic media times). For a live stream, media time is seconds since that connection
opened and ``wall`` is the packet's arrival. An input read in bursts (``spaced``: the reader naps
while the socket buffers what the camera sends, ``pacing``) spaces the arrivals by the stream's
own timestamps while they agree with the clock: a packet cannot be sent after it arrived, so the
timestamps are anchored to the packet that came soonest (``wall = min(arrival, anchor + step)``),
and packets read together keep the spacing they were sent with. The timestamps are only trusted
as steps: they start at arbitrary values, are missing on the first packets and restart on every
reconnect, so a packet without one, one not after the last, or one that would land more than
``LIVE_SLACK`` before its arrival (a restart, a camera clock running slow) sets a new anchor at
its arrival. Detect inputs are not read in bursts and keep plain arrival times (the frame
sampler must not depend on a camera's timestamps being sane).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from av.video.stream import VideoStream

# A file's timestamps that leap forward by more than this beyond one frame step start a new
# timeline segment (a gap): a recorder restarted, a clock stepped, files joined end to end.
JUMP_SECONDS: Final = 5.0
# How much earlier than its arrival a live packet's timestamp may place it before the timestamps
# are taken to disagree with the clock (a burst's wait is 0.2 s; network stalls, a slow camera
# clock beyond this start a new anchor).
LIVE_SLACK: Final = 1.0


class WallClock(Protocol):
    """Unix time in seconds."""

    def time(self) -> float:
        """Returns Unix time in seconds."""
        ...


class Timeline:
    """Media seconds and wall time of one connection's packets and frames."""

    def __init__(
        self, clock: WallClock, stream: VideoStream, synthetic: bool, spaced: bool = False
    ) -> None:
        self._clock = clock
        self._synthetic = synthetic
        self._spaced = spaced
        self.opened = clock.time()
        base = stream.time_base or Fraction(1, 90_000)
        # Integer ticks times numerator, over denominator: the same correctly rounded float as
        # the Fraction product, without a Fraction per packet (measurable at an idle camera).
        self._num, self._den = base.numerator, base.denominator
        self._origin = stream.start_time or 0
        rate = stream.average_rate or stream.guessed_rate
        self._step = 1.0 / float(rate) if rate else 0.04
        self.last_media: float | None = None  # of the last packet (files)
        self.jump: float | None = None  # seconds the last packet leapt forward (files), if it did
        self._last_wall = self.opened
        self._anchor: tuple[float, float] | None = None  # (wall, stream seconds), spaced only
        self._last_sent = float("-inf")  # stream seconds of the last packet, spaced only

    def packet(self, timestamp: int | None) -> tuple[float, float]:
        """(media seconds, wall) of a packet, from its dts (or pts)."""
        if not self._synthetic:
            wall = self._live_wall(timestamp)
            return wall - self.opened, wall
        if timestamp is not None:
            media = (timestamp - self._origin) * self._num / self._den
        else:  # a file without timestamps (raw H.264): one frame step after the last packet
            media = 0.0 if self.last_media is None else self.last_media + self._step
        leap = None if self.last_media is None else media - self.last_media
        self.jump = leap if leap is not None and leap > self._step + JUMP_SECONDS else None
        self.last_media = media
        return media, self.opened + media

    def _live_wall(self, timestamp: int | None) -> float:
        # Arrival held monotonic in case the system clock is stepped back.
        arrival = max(self._clock.time(), self._last_wall)
        wall = arrival
        if self._spaced and timestamp is not None:
            sent = timestamp * self._num / self._den
            if self._anchor is not None and sent > self._last_sent:
                guess = self._anchor[0] + (sent - self._anchor[1])
                if self._last_wall < guess <= arrival and arrival - guess <= LIVE_SLACK:
                    wall = guess
            if wall == arrival:
                self._anchor = (arrival, sent)
            self._last_sent = sent
        self._last_wall = wall
        return wall

    def frame(self, timestamp: int | None, media: float, wall: float) -> tuple[float, float]:
        """(media seconds, wall) of a decoded frame; falls back to its packet's."""
        if not self._synthetic or timestamp is None:
            return media, wall
        frame_media = (timestamp - self._origin) * self._num / self._den
        return frame_media, self.opened + frame_media
