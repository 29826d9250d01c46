"""Tests for the paced file loop: the pure rules (``pacing``) and one camera's two files read
on one thread in bursts, on a clock the test drives (no real time, no timing asserted)."""

from __future__ import annotations

import threading

import pytest
from av.packet import Packet
from av.video.stream import VideoStream

from hearthcam.pipeline.source import CameraStream, ConnState, FrameSampler
from hearthcam.pipeline.source.pacing import (
    BLOCKED_SECONDS,
    BURST_SECONDS,
    Due,
    live_nap,
    next_ready,
    wake_at,
)
from hearthcam.types import Frame
from tests.conftest import ClipFactory
from tests.pipeline.test_source import DETECT, FAST, FakeClock, RecordingSink, run_to_end

# --- the rules -------------------------------------------------------------------------------


def test_an_urgent_packet_is_due_on_time_and_others_may_wait_a_burst() -> None:
    assert Due(10.0, urgent=True).deadline == 10.0
    assert Due(10.0, urgent=False).deadline == pytest.approx(10.0 + BURST_SECONDS)


def test_the_loop_wakes_at_the_earliest_deadline_and_not_once_all_ended() -> None:
    record = Due(10.0, urgent=False)
    detect = Due(10.1, urgent=True)
    assert wake_at([record, detect]) == pytest.approx(10.1)  # the record packet rides along
    assert wake_at([record, None]) == pytest.approx(10.0 + BURST_SECONDS)
    assert wake_at([None, None]) is None
    assert wake_at([]) is None


def test_a_live_record_reader_naps_only_once_the_buffer_is_drained() -> None:
    drained = BLOCKED_SECONDS * 2
    # A read that came straight from the buffer: read on.
    assert live_nap(took=BLOCKED_SECONDS / 2, detect=False) == 0.0
    # An input that only records naps a burst once it had to wait for the camera.
    assert live_nap(took=drained, detect=False) == BURST_SECONDS
    # A detect input is read as its packets come: its frames are latency.
    assert live_nap(took=drained, detect=True) == 0.0


def test_a_due_detect_frame_goes_first_then_the_earliest_packet() -> None:
    heads = [Due(10.0, urgent=False), Due(10.1, urgent=True), Due(9.9, urgent=False), None]
    assert next_ready(heads, now=10.05) == 2  # the frame is not due yet: the earliest
    assert next_ready(heads, now=10.15) == 1  # the frame first, record work after it
    assert next_ready(heads[:1], now=9.95) is None  # nothing due yet
    assert next_ready(heads, now=None) == 2  # not paced: time order alone
    assert next_ready([None, None], now=None) is None


def test_wants_says_what_keep_would_do_without_changing_it() -> None:
    sampler = FrameSampler(5.0)
    kept: list[bool] = []
    for n in range(30):
        pts = n / 15
        wanted = sampler.wants(pts)
        assert sampler.wants(pts) == wanted  # asking twice changes nothing
        kept.append(sampler.keep(pts))
        assert kept[-1] == wanted
    assert sum(kept) == 10


# --- two files on one thread, paced on a test clock ------------------------------------------


class ClockedSink(RecordingSink):
    """Keeps the test clock's time and the thread of every packet and frame handed on."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.packet_times: list[tuple[float, float]] = []  # (wall, clock at hand-on)
        self.frame_times: list[tuple[float, float]] = []
        self.threads: set[int] = set()
        self.order: list[float] = []  # the wall of each packet and frame, in hand-on order

    def on_packet(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        super().on_packet(packet, stream, wall)
        self.packet_times.append((wall, self.clock.time()))
        self.order.append(wall)
        self.threads.add(threading.get_ident())

    def on_frame(self, frame: Frame) -> None:
        super().on_frame(frame)
        self.frame_times.append((frame.wall, self.clock.time()))
        self.order.append(frame.wall)
        self.threads.add(threading.get_ident())


def test_two_files_are_read_on_one_thread_frames_on_time_packets_in_bursts(
    make_clip: ClipFactory,
) -> None:
    clock = FakeClock()
    sink = ClockedSink(clock)
    main = make_clip("main.mp4", seconds=2, fps=15, size=(320, 240))
    sub = make_clip("sub.mp4", seconds=2, fps=5, size=(160, 120))
    stream = CameraStream("yard", str(main), str(sub), DETECT, FAST, sink, clock, realtime=True)
    run_to_end(stream)
    assert stream.state is ConnState.STOPPED
    assert sink.errors == []
    assert len(sink.packet_times) == 30
    assert len(sink.frame_times) == 10
    assert len(sink.threads) == 1  # both inputs on one thread
    # A detect frame is handed on when a live camera would send it: no added latency.
    for wall, at in sink.frame_times:
        assert at == pytest.approx(wall, abs=1e-6)
    # A record packet never early, at most a burst late.
    for wall, at in sink.packet_times:
        assert wall - 1e-6 <= at <= wall + BURST_SECONDS + 1e-6
    # The record stream rides along with the detect frames: 40 packets, 11 wake-ups (one per
    # detect frame and one for the record packets after the last).
    instants = {round(at, 6) for _, at in sink.packet_times + sink.frame_times}
    assert len(instants) == 11


def test_not_paced_two_files_are_read_in_time_order_without_waiting(
    make_clip: ClipFactory,
) -> None:
    clock = FakeClock()
    sink = ClockedSink(clock)
    main = make_clip("main.mp4", seconds=2, fps=15, size=(320, 240))
    sub = make_clip("sub.mp4", seconds=2, fps=5, size=(160, 120))
    run_to_end(CameraStream("yard", str(main), str(sub), DETECT, FAST, sink, clock))
    assert clock.slept == 0.0
    assert len(sink.packet_times) == 30
    assert len(sink.frame_times) == 10
    assert sink.order == sorted(sink.order)  # the two files merged in time order


def test_a_missing_record_file_leaves_the_detect_file_to_be_read(
    tmp_path_factory: pytest.TempPathFactory, make_clip: ClipFactory
) -> None:
    missing = tmp_path_factory.mktemp("gone") / "main.mp4"
    sub = make_clip("sub.mp4", seconds=1, fps=5, size=(160, 120))
    sink = RecordingSink()
    stream = CameraStream("yard", str(missing), str(sub), DETECT, FAST, sink, FakeClock())
    run_to_end(stream)
    assert len(sink.frames) == 5
    assert sink.packets == []
    assert len(sink.errors) == 1
    assert "no such file" in sink.errors[0]
