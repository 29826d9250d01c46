"""Tests for the live timeline: arrival times spaced by the stream's own timestamps."""

from __future__ import annotations

import itertools
from fractions import Fraction
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest

from hearthcam.pipeline.source.timeline import LIVE_SLACK, Timeline

if TYPE_CHECKING:
    from av.video.stream import VideoStream

TICKS = 90_000  # RTP's video clock


class Clock:
    """A wall clock the test sets."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def live(clock: Clock, spaced: bool = True) -> Timeline:
    stream = SimpleNamespace(
        time_base=Fraction(1, TICKS), start_time=None, average_rate=None, guessed_rate=None
    )
    return Timeline(clock, cast("VideoStream", stream), synthetic=False, spaced=spaced)


def test_packets_read_in_a_burst_keep_the_spacing_they_were_sent_with() -> None:
    clock = Clock()
    timeline = live(clock)
    start = clock.now
    walls = []
    # A camera sends at 10 fps from RTP tick 123,456 (arbitrary); the reader takes the first
    # packet as it comes, then naps and reads three at once, 0.05 s after the last was sent.
    for n, read_at in enumerate([0.0, 0.35, 0.35, 0.35]):
        clock.now = start + read_at
        walls.append(timeline.packet(123_456 + n * TICKS // 10)[1])
    assert [round(b - a, 6) for a, b in itertools.pairwise(walls)] == [0.1, 0.1, 0.1]
    assert walls[0] == start


def test_the_soonest_packet_sets_the_anchor() -> None:
    clock = Clock()
    timeline = live(clock)
    start = clock.now
    clock.now = start + 0.3  # the first packet was held up 0.3 s
    assert timeline.packet(0)[1] == start + 0.3
    clock.now = start + 0.35  # the next one came sooner than the first suggested
    assert timeline.packet(TICKS // 10)[1] == start + 0.35
    clock.now = start + 0.5  # later ones are timed from it
    assert timeline.packet(2 * TICKS // 10)[1] == pytest.approx(start + 0.45)


def test_timestamps_that_disagree_with_the_clock_give_way_to_arrival() -> None:
    clock = Clock()
    timeline = live(clock)
    start = clock.now
    timeline.packet(900_000)
    clock.now = start + 0.1
    assert timeline.packet(None)[1] == start + 0.1  # no timestamp: its arrival
    clock.now = start + 0.2
    assert timeline.packet(0)[1] == start + 0.2  # went back (a restart): arrival, new anchor
    clock.now = start + 0.3 + LIVE_SLACK + 0.5
    # Only 0.1 s of timestamps in 1.6 s of clock: more than LIVE_SLACK behind, arrival again.
    assert timeline.packet(TICKS // 10)[1] == clock.now
    clock.now += 0.5
    media, wall = timeline.packet(TICKS // 10)  # not after the last: its arrival
    assert wall == clock.now
    assert media == pytest.approx(wall - timeline.opened)


def test_a_camera_whose_timestamps_stand_still_keeps_its_arrival_times() -> None:
    clock = Clock()
    timeline = live(clock)
    start = clock.now
    walls = []
    for n in range(5):
        clock.now = start + n * 0.1
        walls.append(timeline.packet(777)[1])
    assert walls == [start + n * 0.1 for n in range(5)]


def test_an_input_read_as_it_comes_keeps_plain_arrival_times() -> None:
    clock = Clock()
    timeline = live(clock, spaced=False)
    start = clock.now
    timeline.packet(0)
    clock.now = start + 0.35
    assert timeline.packet(TICKS // 10)[1] == start + 0.35


def test_walls_never_go_back_when_the_system_clock_does() -> None:
    clock = Clock()
    timeline = live(clock)
    first = timeline.packet(None)[1]
    clock.now -= 5.0
    assert timeline.packet(None)[1] == first
    assert timeline.packet(TICKS)[1] == first
