"""The pure parts of a camera connection: backoff, the connection state machine, frame sampling.

No I/O here, so every rule is tested without a camera.
"""

from __future__ import annotations

import enum
import random

# A connection that streamed this long is healthy again: the next failure starts backoff afresh.
STABLE_SECONDS = 10.0


class Backoff:
    """Exponential reconnect delays: initial, doubling up to maximum, with optional jitter."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        jitter: float = 0.0,
        reset_after: float = STABLE_SECONDS,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.jitter = jitter
        self.reset_after = reset_after
        self._rng = rng or random.Random()
        self._attempts = 0

    @property
    def attempts(self) -> int:
        """Delays handed out since the last reset."""
        return self._attempts

    def reset(self) -> None:
        """Starts again from the initial delay."""
        self._attempts = 0

    def next_delay(self, streamed_for: float = 0.0) -> float:
        """The next delay; a connection that streamed ``reset_after`` seconds resets first."""
        if streamed_for >= self.reset_after:
            self.reset()
        # The exponent is capped so a camera that is down for days cannot overflow the float.
        delay = min(self.maximum, self.initial * 2.0 ** min(self._attempts, 60))
        self._attempts += 1
        if self.jitter:
            # Jitter spreads the retries of many cameras behind one failed switch.
            delay *= 1.0 + self._rng.uniform(-self.jitter, self.jitter)
        return min(delay, self.maximum)


class ConnState(enum.Enum):
    """Where one input's connection is."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    BACKOFF = "backoff"
    STOPPED = "stopped"


class ConnEvent(enum.Enum):
    """What happened to a connection."""

    OPENED = "opened"
    FAILED = "failed"  # could not open; a live source retries
    LOST = "lost"  # a live stream broke or ended
    RETRY = "retry"  # the backoff delay is over
    ENDED = "ended"  # a file ended or cannot be opened: nothing to retry
    STOP = "stop"


_TRANSITIONS: dict[tuple[ConnState, ConnEvent], ConnState] = {
    (ConnState.CONNECTING, ConnEvent.OPENED): ConnState.STREAMING,
    (ConnState.CONNECTING, ConnEvent.FAILED): ConnState.BACKOFF,
    (ConnState.CONNECTING, ConnEvent.ENDED): ConnState.STOPPED,
    (ConnState.STREAMING, ConnEvent.LOST): ConnState.BACKOFF,
    (ConnState.STREAMING, ConnEvent.ENDED): ConnState.STOPPED,
    (ConnState.BACKOFF, ConnEvent.RETRY): ConnState.CONNECTING,
}


def transition(state: ConnState, event: ConnEvent) -> ConnState:
    """The next connection state; raises ValueError for an event that cannot happen there."""
    if event is ConnEvent.STOP or state is ConnState.STOPPED:
        return ConnState.STOPPED
    try:
        return _TRANSITIONS[(state, event)]
    except KeyError:
        raise ValueError(f"no transition from {state.name} on {event.name}") from None


class FrameSampler:
    """Keeps frames on an even grid of 1/fps seconds of media time; keeps all of a slower stream."""

    # Frames this close to their slot (as a fraction of the slot) still count, for pts jitter.
    TOLERANCE = 0.1

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self._next: float | None = None
        self._last: float | None = None

    def wants(self, pts: float) -> bool:
        """Whether ``keep`` would keep a frame at ``pts`` now (it changes nothing)."""
        if self._next is None or (self._last is not None and pts < self._last):
            return True
        return pts >= self._next - self.TOLERANCE * self.interval

    def keep(self, pts: float) -> bool:
        """Whether the frame at ``pts`` seconds is analysed."""
        if self._last is not None and pts < self._last:
            self._next = None  # time went backwards (a new connection): start a new grid
        self._last = pts
        if self._next is not None and pts < self._next - self.TOLERANCE * self.interval:
            return False
        self._next = pts + self.interval if self._next is None else self._next + self.interval
        if self._next <= pts:
            self._next = pts + self.interval  # after a hole, no burst to catch up
        return True


# --- the read loop ---------------------------------------------------------------------------
