"""When a camera's inputs hand on their packets: in bursts, at the instants that matter.

A simulated camera (a file played at real rate) is read by one loop for all its file inputs. The
loop does not wake for every packet: a packet a detect frame may come out of is due on time
(what a live camera would do), every other packet (the record stream, detect packets the
sampler will skip) may wait up to ``BURST_SECONDS`` and rides along with the next wake-up.
Waking costs more than the work at an idle camera's rates (docs/benchmarks.md, "idle").

A live input is read by a thread of its own that blocks until the camera sends. Over TCP (RTSP
interleaved, HTTP) the kernel buffers what arrives while that thread naps, so an input that only
records need not wake for each packet: once a read had to wait (the buffer is drained), its
reader naps ``BURST_SECONDS`` and then reads what came meanwhile in one go. Packets keep the
times they were sent at (``timeline``). A live detect input is read as its packets come: its
frames are latency, and napping until the next kept frame measured no cheaper (at 5 fps every
frame is kept; docs/benchmarks.md, "idle over RTSP").

No I/O and no clock here: the loops ask these rules what to deliver and when to wake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: How late a packet nobody waits for may be handed on (a detect frame interval at 5 fps: a
#: 15 fps record stream then rides along with each detect frame).
BURST_SECONDS: Final = 0.2
#: A live read that took longer than this waited for the camera: the buffer was drained.
BLOCKED_SECONDS: Final = 0.003


@dataclass(frozen=True, slots=True)
class Due:
    """The next packet of one input: when a live camera would deliver it, and whether a detect
    frame may come out of it (then it must not wait)."""

    wall: float
    urgent: bool

    @property
    def deadline(self) -> float:
        """The latest wall time it may be handed on."""
        return self.wall if self.urgent else self.wall + BURST_SECONDS


def wake_at(heads: Sequence[Due | None]) -> float | None:
    """When the loop must wake next: the earliest deadline of the inputs' next packets (None:
    every input has ended)."""
    return min((d.deadline for d in heads if d is not None), default=None)


def next_ready(heads: Sequence[Due | None], now: float | None) -> int | None:
    """Which input hands on its packet next (None when nothing is due).

    Paced (``now`` given): of the packets due by ``now``, a detect frame's first, then the
    earliest, so a frame never waits behind the record work of the same wake-up (closing a
    segment syncs it to disk). Not paced (None): the earliest, whatever the time."""
    best: tuple[bool, float] | None = None
    pick: int | None = None
    for i, due in enumerate(heads):
        if due is None or (now is not None and due.wall > now):
            continue
        key = (now is not None and not due.urgent, due.wall)
        if best is None or key < best:
            best, pick = key, i
    return pick


def live_nap(*, took: float, detect: bool) -> float:
    """How long a live input's reader naps before its next read (0: read at once).

    ``took``: how long the read just done took (a short one came from the buffer: read on);
    ``detect``: whether frames are decoded from this input (then it never naps)."""
    if detect or took < BLOCKED_SECONDS:
        return 0.0
    return BURST_SECONDS
