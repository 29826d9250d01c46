"""Tests for the camera I/O edge: pure pieces, opening and probing inputs, and the read loop."""

from __future__ import annotations

import functools
import http.server
import itertools
import random
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.packet import Packet
from av.video.stream import VideoStream

from hearthcam.config import DetectConfig, SourceConfig
from hearthcam.errors import (
    SourceError,
    SourceTimeout,
    SourceUnreadable,
    StoreError,
    UnsupportedCodec,
)
from hearthcam.pipeline.recorder import SegmentRecorder
from hearthcam.pipeline.source import (
    Backoff,
    CameraStream,
    Clock,
    ConnEvent,
    ConnState,
    FrameSampler,
    InputKind,
    StreamInfo,
    SystemClock,
    input_kind,
    open_input,
    probe,
    redact_url,
    transition,
)
from hearthcam.types import Frame, Segment
from hearthcam_bench import rtsp
from tests.conftest import ClipFactory, RtspServer, write_clip
from tests.support.bad_media import TEN_HOURS, write_video

FAST = SourceConfig(connect_timeout=1.0, read_timeout=1.0, backoff_initial=0.1, backoff_max=0.4)
DETECT = DetectConfig(fps=5, width=160, height=120)


class RecordingSink:
    """A StreamSink that keeps everything it is given, with the real time of each call."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.infos: list[StreamInfo] = []
        self.packets: list[tuple[float, bool, float]] = []  # (wall, keyframe, arrival)
        self.frames: list[tuple[Frame, float]] = []  # (frame, arrival)
        self.gaps: list[tuple[float, float, str]] = []
        self.disconnects: list[tuple[float, float]] = []  # (last wall, arrival)
        self.errors: list[str] = []

    def on_connected(self, info: StreamInfo) -> None:
        with self.lock:
            self.infos.append(info)

    def on_packet(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        with self.lock:
            self.packets.append((wall, packet.is_keyframe, time.monotonic()))

    def on_frame(self, frame: Frame) -> None:
        with self.lock:
            self.frames.append((frame, time.monotonic()))

    def on_disconnected(self, last_wall: float, reason: str) -> None:
        with self.lock:
            self.disconnects.append((last_wall, time.time()))

    def on_gap(self, start_wall: float, end_wall: float, reason: str) -> None:
        with self.lock:
            self.gaps.append((start_wall, end_wall, reason))

    def on_error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


class FakeClock:
    """A clock that only moves when slept on."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.slept = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


class Running:
    """A CameraStream running on its own thread until stopped."""

    def __init__(self, stream: CameraStream) -> None:
        self.stream = stream
        self.stop = threading.Event()
        self.thread = threading.Thread(target=stream.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def finish(self, timeout: float = 5.0) -> float:
        """Stops the stream; returns how long run() took to return."""
        started = time.monotonic()
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "CameraStream.run did not return after stop"
        return time.monotonic() - started


def run_to_end(stream: CameraStream, timeout: float = 20.0) -> None:
    """Runs a file stream until it ends by itself."""
    runner = Running(stream)
    runner.thread.join(timeout)
    assert not runner.thread.is_alive(), "a file stream did not end at EOF"


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    """Polls ``condition`` until it holds or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


# --- Backoff ---------------------------------------------------------------------------------


def test_backoff_doubles_from_initial_up_to_max() -> None:
    backoff = Backoff(0.5, 4.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.attempts == 6


def test_backoff_reset_starts_again_and_long_streaming_resets() -> None:
    backoff = Backoff(1.0, 30.0, reset_after=10.0)
    for _ in range(3):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0
    backoff.next_delay()
    assert backoff.next_delay(streamed_for=2.0) == 4.0  # a short session does not reset
    assert backoff.next_delay(streamed_for=10.0) == 1.0  # a healthy one does


def test_backoff_jitter_is_bounded_and_deterministic_with_a_seeded_rng() -> None:
    first = Backoff(1.0, 8.0, jitter=0.2, rng=random.Random(7))
    second = Backoff(1.0, 8.0, jitter=0.2, rng=random.Random(7))
    delays = [first.next_delay() for _ in range(8)]
    assert delays == [second.next_delay() for _ in range(8)]
    nominal = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    for delay, base in zip(delays, nominal, strict=True):
        assert base * 0.8 <= delay <= min(base * 1.2, 8.0)


def test_backoff_survives_days_of_failures() -> None:
    backoff = Backoff(1.0, 30.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 30.0


# --- connection state machine ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (ConnState.CONNECTING, ConnEvent.OPENED, ConnState.STREAMING),
        (ConnState.CONNECTING, ConnEvent.FAILED, ConnState.BACKOFF),
        (ConnState.CONNECTING, ConnEvent.ENDED, ConnState.STOPPED),
        (ConnState.STREAMING, ConnEvent.LOST, ConnState.BACKOFF),
        (ConnState.STREAMING, ConnEvent.ENDED, ConnState.STOPPED),
        (ConnState.BACKOFF, ConnEvent.RETRY, ConnState.CONNECTING),
    ],
)
def test_transition_follows_the_connection_lifecycle(
    state: ConnState, event: ConnEvent, expected: ConnState
) -> None:
    assert transition(state, event) is expected


@pytest.mark.parametrize("state", list(ConnState))
def test_stop_ends_every_state_and_stopped_is_final(state: ConnState) -> None:
    assert transition(state, ConnEvent.STOP) is ConnState.STOPPED
    for event in ConnEvent:
        assert transition(ConnState.STOPPED, event) is ConnState.STOPPED


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (ConnState.STREAMING, ConnEvent.OPENED),
        (ConnState.BACKOFF, ConnEvent.LOST),
        (ConnState.CONNECTING, ConnEvent.RETRY),
        (ConnState.CONNECTING, ConnEvent.LOST),
    ],
)
def test_impossible_transitions_are_errors(state: ConnState, event: ConnEvent) -> None:
    with pytest.raises(ValueError, match="no transition"):
        transition(state, event)


# --- FrameSampler ----------------------------------------------------------------------------


def kept(stream_fps: float, target_fps: float, seconds: float = 2.0) -> list[int]:
    """Indexes of the frames a sampler keeps from a regular stream."""
    sampler = FrameSampler(target_fps)
    count = round(stream_fps * seconds)
    return [i for i in range(count) if sampler.keep(i / stream_fps)]


def test_sampler_keeps_5_of_25_evenly() -> None:
    assert kept(25, 5) == list(range(0, 50, 5))


def test_sampler_keeps_every_sixth_of_30() -> None:
    assert kept(30, 5) == list(range(0, 60, 6))


@pytest.mark.parametrize(("stream_fps", "target"), [(10, 10), (8, 10), (5, 30), (29.97, 30)])
def test_sampler_keeps_all_of_a_stream_no_faster_than_target(
    stream_fps: float, target: float
) -> None:
    assert kept(stream_fps, target) == list(range(round(stream_fps * 2)))


def test_sampler_rate_is_right_for_uneven_ratios() -> None:
    indexes = kept(7.5, 5, seconds=8)
    assert len(indexes) == 40  # 5 per second
    assert max(np.diff(indexes)) <= 2


def test_sampler_tolerates_pts_jitter() -> None:
    rng = np.random.default_rng(1)
    pts = np.arange(100) / 10 + rng.uniform(-0.003, 0.003, 100)
    sampler = FrameSampler(10)
    assert all(sampler.keep(float(t)) for t in pts)


def test_sampler_restarts_when_time_goes_back_and_does_not_burst_after_a_hole() -> None:
    sampler = FrameSampler(5)
    assert [sampler.keep(t) for t in (0.0, 0.04, 0.2)] == [True, False, True]
    assert sampler.keep(0.0)  # a new connection restarts media time
    assert sampler.keep(10.0)  # after a hole the next frame is kept ...
    assert not sampler.keep(10.04)  # ... and the grid restarts there, with no catch-up burst
    assert sampler.keep(10.2)


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://cam/stream", InputKind.RTSP),
        ("RTSPS://cam/stream", InputKind.RTSP),
        ("http://cam/video.mjpg", InputKind.HTTP),
        ("https://cam/x.m3u8", InputKind.HTTP),
        ("/dev/video0", InputKind.DEVICE),
        ("clips/front.mp4", InputKind.FILE),
    ],
)
def test_input_kind(url: str, kind: InputKind) -> None:
    assert input_kind(url) is kind


def test_redact_url_hides_the_password_only() -> None:
    assert (
        redact_url("rtsp://admin:s3cret@10.0.0.5:554/h264") == "rtsp://admin:***@10.0.0.5:554/h264"
    )
    assert redact_url("rtsp://10.0.0.5/h264") == "rtsp://10.0.0.5/h264"


# --- opening and probing ---------------------------------------------------------------------


def test_probe_describes_a_good_clip(make_clip: ClipFactory) -> None:
    info = probe(str(make_clip(seconds=4, fps=10, size=(320, 240))), FAST)
    assert (info.codec, info.width, info.height, info.fps) == ("h264", 320, 240, 10.0)
    assert info.duration == pytest.approx(4.0, abs=0.15)


def test_open_input_returns_a_container_with_video(make_clip: ClipFactory) -> None:
    with open_input(str(make_clip()), FAST) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def write_audio_only(path: Path) -> Path:
    """An AAC file with no video stream."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, i * 1024
            frame.time_base = Fraction(1, 16000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def bad_input(kind: str, tmp_path: Path, make_clip: ClipFactory) -> Path:
    """Writes one kind of bad input file."""
    path = tmp_path / f"{kind}.mp4"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = make_clip("whole.mp4").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        path.write_bytes(random.Random(3).randbytes(64_000))
    elif kind == "text":
        path = tmp_path / "notes.txt"
        path.write_text("this is not a video\n" * 50)
    elif kind == "audio":
        write_audio_only(path)
    return path


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("empty", SourceUnreadable, "empty"),
        ("truncated", SourceUnreadable, "truncated"),
        ("random", SourceUnreadable, "not a readable video"),
        ("text", SourceUnreadable, "not a video"),
        ("audio", UnsupportedCodec, "no video stream"),
        ("missing", SourceUnreadable, "no such file"),
    ],
)
def test_bad_files_fail_with_the_right_error_and_a_clear_message(
    kind: str, error: type[SourceError], words: str, tmp_path: Path, make_clip: ClipFactory
) -> None:
    path = bad_input(kind, tmp_path, make_clip)
    started = time.monotonic()
    with pytest.raises(error) as raised:
        probe(str(path), FAST)
    assert time.monotonic() - started < 5.0  # generous: a broken timeout hangs far longer
    assert str(path) in str(raised.value)
    assert words in str(raised.value)
    with pytest.raises(error):
        open_input(str(path), FAST)


def test_a_url_that_never_answers_times_out_in_bounded_time(silent_port: int) -> None:
    cfg = SourceConfig(connect_timeout=0.5, read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SourceTimeout, match=r"no answer within 0\.5 s"):
        open_input(f"rtsp://user:pw@127.0.0.1:{silent_port}/stream", cfg)
    # av.open and stream analysis each get connect_timeout.
    assert time.monotonic() - started < 5.0  # generous: a broken timeout hangs far longer


def test_a_refused_connection_is_a_source_error_without_the_password() -> None:
    port = _closed_port()
    with pytest.raises(SourceError) as raised:
        open_input(f"rtsp://user:pw@127.0.0.1:{port}/stream", FAST)
    assert not isinstance(raised.value, SourceTimeout)
    assert "pw" not in str(raised.value)
    assert "user:***@" in str(raised.value)


def test_a_missing_usb_camera_is_a_source_error() -> None:
    with pytest.raises(SourceError, match=r"/dev/video99: cannot open"):
        open_input("/dev/video99", FAST)


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- CameraStream on files -------------------------------------------------------------------


def file_stream(
    path: Path | str, sink: RecordingSink, clock: Clock | None = None, realtime: bool = False
) -> CameraStream:
    """A CameraStream with both roles on one file."""
    return CameraStream(
        "front",
        str(path),
        str(path),
        DETECT,
        FAST,
        sink,
        clock or SystemClock(),
        realtime=realtime,
    )


def test_a_file_is_read_to_the_end_with_sampled_scaled_frames(make_clip: ClipFactory) -> None:
    sink = RecordingSink()
    clock = FakeClock()
    stream = file_stream(make_clip(seconds=4, fps=10), sink, clock)
    run_to_end(stream)
    assert stream.state is ConnState.STOPPED
    assert sink.errors == []
    assert sink.gaps == []
    assert len(sink.infos) == 1
    # Record role: every packet, a keyframe each second.
    assert len(sink.packets) == 40
    assert [i for i, p in enumerate(sink.packets) if p[1]] == [0, 10, 20, 30]
    # Detect role: 5 of 10 fps, at detect size, BGR, indexes 0..n-1.
    frames = [f for f, _ in sink.frames]
    assert [f.index for f in frames] == list(range(20))
    assert [round(f.pts, 3) for f in frames] == [round(0.2 * i, 3) for i in range(20)]
    assert frames[0].image.shape == (120, 160, 3)
    assert frames[0].image.dtype == np.uint8
    assert all(f.camera == "front" for f in frames)
    # Synthetic wall clock: wall at open + media time, so no real time passes.
    opened = frames[0].wall
    assert all(f.wall == pytest.approx(opened + f.pts) for f in frames)
    assert clock.slept == 0.0


def test_realtime_paces_a_file_at_its_frame_rate(make_clip: ClipFactory) -> None:
    sink = RecordingSink()
    clock = FakeClock()
    run_to_end(file_stream(make_clip(seconds=2, fps=10), sink, clock, realtime=True))
    assert len(sink.frames) == 10
    assert clock.slept == pytest.approx(1.9, abs=0.06)  # the last packet is due at 1.9 s


def test_two_inputs_record_one_and_detect_the_other(make_clip: ClipFactory) -> None:
    sink = RecordingSink()
    record = make_clip("main.mp4", seconds=3, size=(320, 240))
    detect = make_clip("sub.mp4", seconds=2, size=(160, 120))
    stream = CameraStream("yard", str(record), str(detect), DETECT, FAST, sink, SystemClock())
    run_to_end(stream)
    assert len(sink.packets) == 30  # all of main
    assert len(sink.frames) == 10  # 5 fps of sub's 2 s
    assert {(i.width, i.height) for i in sink.infos} == {(320, 240), (160, 120)}


def test_detect_size_follows_the_source_aspect_when_not_configured(
    make_clip: ClipFactory,
) -> None:
    sink = RecordingSink()
    path = str(make_clip(seconds=1, size=(320, 180)))
    detect = DetectConfig(fps=5)  # width defaults to min(640, source), height keeps aspect
    run_to_end(CameraStream("c", None, path, detect, FAST, sink, SystemClock()))
    assert sink.frames[0][0].image.shape == (180, 320, 3)
    assert sink.packets == []  # no record role


def corrupt_copy(source: Path, target: Path, bad: set[int]) -> None:
    """Remuxes ``source`` with the payload of packets ``bad`` replaced by garbage."""
    rng = random.Random(5)
    with av.open(str(source)) as inp, av.open(str(target), "w", format="mp4") as out:
        stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(stream, opaque=True)
        for i, packet in enumerate(p for p in inp.demux(stream) if p.size):
            if i in bad:
                garbage = av.Packet(rng.randbytes(packet.size))
                garbage.pts, garbage.dts = packet.pts, packet.dts
                garbage.time_base, garbage.is_keyframe = packet.time_base, packet.is_keyframe
                garbage.stream = out_stream
                out.mux(garbage)
            else:
                packet.stream = out_stream
                out.mux(packet)


def test_corrupt_packets_are_reported_and_skipped(tmp_path: Path, make_clip: ClipFactory) -> None:
    broken = tmp_path / "broken.mp4"
    corrupt_copy(make_clip(seconds=4, fps=10), broken, bad={12, 13, 14})
    sink = RecordingSink()
    stream = file_stream(broken, sink)
    run_to_end(stream)
    assert stream.state is ConnState.STOPPED
    assert any("undecodable" in e for e in sink.errors), sink.errors
    assert len(sink.packets) == 40  # recording is a copy: it keeps what it got
    frames = [f for f, _ in sink.frames]
    assert frames[-1].pts >= 3.6  # decoding went on after the bad packets
    assert [f.index for f in frames] == list(range(len(frames)))


def test_a_truncated_file_with_its_index_first_is_read_as_far_as_it_goes(
    tmp_path: Path, make_clip: ClipFactory
) -> None:
    whole = make_clip("whole.mp4", seconds=4)
    faststart = tmp_path / "faststart.mp4"
    with (
        av.open(str(whole)) as inp,
        av.open(str(faststart), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        out_stream = out.add_stream_from_template(inp.streams.video[0], opaque=True)
        for packet in inp.demux(video=0):
            if packet.size:
                packet.stream = out_stream
                out.mux(packet)
    data = faststart.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    assert probe(str(cut), FAST).width == 320  # its index is intact, so it opens
    sink = RecordingSink()
    run_to_end(file_stream(cut, sink))
    assert sink.frames, "the first half should decode"
    assert any("truncated" in e for e in sink.errors), sink.errors


class FullDiskSink(RecordingSink):
    """A sink whose recorder fails on every packet, like a full disk."""

    def on_packet(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        raise StoreError("disk full")


def test_a_recording_failure_is_reported_and_detection_goes_on(make_clip: ClipFactory) -> None:
    sink = FullDiskSink()
    run_to_end(file_stream(make_clip(seconds=2, fps=10), sink))
    assert len(sink.frames) == 10
    assert len(sink.errors) == 20
    assert "recording failed: disk full" in sink.errors[0]


class CrashingSink(RecordingSink):
    """A sink with a bug in its frame handler."""

    def on_frame(self, frame: Frame) -> None:
        raise RuntimeError("bug")


def test_a_crash_in_the_detect_loop_also_ends_the_record_thread(
    make_clip: ClipFactory,
) -> None:
    sink = CrashingSink()
    record = str(make_clip("main.mp4", seconds=2))
    detect = str(make_clip("sub.mp4", seconds=2))
    # Realtime: the record thread would run for 2 s unless the crash stops it.
    stream = CameraStream("c", record, detect, DETECT, FAST, sink, SystemClock(), realtime=True)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="bug"):
        stream.run(threading.Event())
    assert time.monotonic() - started < 1.8  # the record thread alone would run 2 s


def test_a_missing_file_reports_an_error_and_ends(tmp_path: Path) -> None:
    sink = RecordingSink()
    stream = file_stream(tmp_path / "nope.mp4", sink)
    run_to_end(stream, timeout=5)
    assert stream.state is ConnState.STOPPED
    assert len(sink.errors) == 1
    assert "no such file" in sink.errors[0]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without logging every request to stderr."""

    def log_message(self, format: str, *args: object) -> None:
        """Says nothing."""


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A loopback HTTP server for files in a directory: (directory, port)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield root, int(server.server_address[1])
        server.shutdown()
        thread.join()


def test_a_file_over_http_is_probed_and_read_to_its_end(
    http_root: tuple[Path, int],
) -> None:
    root, port = http_root
    write_clip(root / "clip.mp4", seconds=2, fps=10)
    url = f"http://127.0.0.1:{port}/clip.mp4"
    assert probe(url, FAST).duration == pytest.approx(2.0, abs=0.15)
    sink = RecordingSink()
    stream = CameraStream("web", url, url, DETECT, FAST, sink, SystemClock())
    run_to_end(stream, timeout=10)  # a file with a duration ends instead of reconnecting
    assert len(sink.packets) == 20
    assert len(sink.frames) == 10
    assert stream.attempts == 1


def test_an_http_url_that_never_answers_times_out(silent_port: int) -> None:
    cfg = SourceConfig(connect_timeout=0.5, read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SourceTimeout):
        open_input(f"http://127.0.0.1:{silent_port}/video.mjpg", cfg)
    assert time.monotonic() - started < 5.0  # generous: a broken timeout hangs far longer


def test_a_missing_http_file_is_a_source_error(http_root: tuple[Path, int]) -> None:
    _, port = http_root
    with pytest.raises(SourceError, match=r"Not Found|cannot open"):
        open_input(f"http://127.0.0.1:{port}/nope.mp4", FAST)


# --- CameraStream on live URLs without a server ------------------------------------------------


def test_a_refused_camera_backs_off_and_stops_promptly() -> None:
    sink = RecordingSink()
    url = f"rtsp://127.0.0.1:{_closed_port()}/cam"
    stream = CameraStream("door", url, url, DETECT, FAST, sink, SystemClock())
    runner = Running(stream)
    assert wait_for(lambda: stream.attempts >= 3, 5.0)
    assert runner.finish() < 1.0
    assert stream.state is ConnState.STOPPED
    retries = [e for e in sink.errors if "retrying in" in e]
    assert len(retries) >= 3
    assert "retrying in 0.1 s (attempt 2)" in retries[0]
    assert "retrying in 0.2 s (attempt 3)" in retries[1]


def test_a_silent_camera_times_out_and_does_not_stall_another_camera(
    silent_port: int, make_clip: ClipFactory
) -> None:
    silent_sink, good_sink = RecordingSink(), RecordingSink()
    url = f"rtsp://127.0.0.1:{silent_port}/cam"
    cfg = SourceConfig(connect_timeout=1.0, read_timeout=1.0, backoff_initial=0.1)
    silent = CameraStream("silent", url, url, DETECT, cfg, silent_sink, SystemClock())
    good = file_stream(make_clip(seconds=2, fps=10), good_sink, realtime=True)
    silent_run, good_run = Running(silent), Running(good)
    good_run.thread.join(10)
    silent_run.finish()
    assert any("no answer within 1 s" in e for e in silent_sink.errors), silent_sink.errors
    arrivals = [arrival for _, arrival in good_sink.frames]
    assert len(arrivals) == 10
    # The good camera kept its 5 fps pace while the other one hung in connect for 1 s at a time.
    assert max(np.diff(arrivals)) < 0.6


# --- CameraStream against a real RTSP server -------------------------------------------------

LIVE = SourceConfig(connect_timeout=2.0, read_timeout=2.0, backoff_initial=0.2, backoff_max=0.8)


class RecordingToDisk(RecordingSink):
    """A RecordingSink that also records packets into segments, as the runner does."""

    def __init__(self, camera: str, out_dir: Path) -> None:
        super().__init__()
        self.segments: list[Segment] = []
        self.recorder = SegmentRecorder(camera, out_dir, 1.0, self.segments.append)

    def on_packet(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        super().on_packet(packet, stream, wall)
        self.recorder.write(packet, stream, wall)

    def on_disconnected(self, last_wall: float, reason: str) -> None:
        super().on_disconnected(last_wall, reason)
        self.recorder.close()

    def frames_after(self, wall: float) -> int:
        """Frames with a wall time after ``wall``."""
        with self.lock:
            return sum(1 for frame, _ in self.frames if frame.wall > wall)


def live_stream(name: str, url: str, sink: RecordingSink) -> CameraStream:
    """A CameraStream with both roles on one live URL."""
    return CameraStream(name, url, url, DETECT, LIVE, sink, SystemClock())


@pytest.mark.integration
def test_an_rtsp_camera_delivers_packets_and_frames(rtsp_server: RtspServer) -> None:
    sink = RecordingSink()
    runner = Running(live_stream("cam", rtsp_server.url(), sink))
    assert wait_for(lambda: len(sink.frames) >= 8, 10.0), sink.errors
    runner.finish()
    assert sink.errors == []
    assert sink.infos[0].codec == "h264"
    assert (sink.infos[0].width, sink.infos[0].height) == (320, 240)
    assert sink.infos[0].duration is None
    assert sink.packets[0][1], "the first packet of a live stream is a keyframe"
    frames = [f for f, _ in sink.frames]
    assert frames[0].image.shape == (120, 160, 3)
    assert all(b.pts > a.pts for a, b in itertools.pairwise(frames))
    # Live wall time is the arrival time.
    assert abs(frames[-1].wall - time.time()) < 2.0


@pytest.mark.integration
def test_an_rtsp_camera_is_read_in_bursts_with_the_times_it_was_sent_at(
    rtsp_servers: Callable[..., RtspServer],
) -> None:
    # Over TCP the record input's reader naps (pacing.BURST_SECONDS) and then reads what the
    # camera sent meanwhile in one go; the detect input wakes for each kept frame.
    server = rtsp_servers("main", "sub")
    sink = RecordingSink()
    stream = CameraStream(
        "cam", server.url("main"), server.url("sub"), DETECT, LIVE, sink, SystemClock()
    )
    runner = Running(stream)
    assert wait_for(lambda: len(sink.packets) >= 50, 15.0), sink.errors
    runner.finish()
    assert sink.errors == []
    # The first packets come with the connection's set-up, some without timestamps.
    packets = [p for p in sink.packets if p[0] > sink.packets[0][0] + 1.0]
    pairs = list(itertools.pairwise(packets))
    spacing = [b[0] - a[0] for a, b in pairs]
    # The test pattern is sent at 10 fps: the walls keep its spacing...
    assert sum(1 for gap in spacing if 0.07 <= gap <= 0.13) >= 0.9 * len(spacing), spacing
    # ...though packets were handed on together, after a nap.
    together = [b[2] - a[2] for (a, b), gap in zip(pairs, spacing, strict=True) if gap >= 0.07]
    assert sum(1 for took in together if took < 0.02) >= len(together) // 4, together
    # The detect input is read as its packets come: frames kept at the detect rate (5 fps).
    frames = [f for f, _ in sink.frames[1:]]
    steps = [b.pts - a.pts for a, b in itertools.pairwise(frames)]
    assert steps
    assert 0.15 <= statistics.median(steps) <= 0.25, steps


@pytest.mark.integration
def test_an_rtsp_mount_can_serve_a_generated_clip(
    rtsp_servers: Callable[..., RtspServer], make_clip: ClipFactory
) -> None:
    clip = make_clip(seconds=3)
    launch = rtsp.file_launch(clip)
    server = rtsp_servers(f"clip={launch}")
    sink = RecordingSink()
    runner = Running(live_stream("clip", server.url(), sink))
    assert wait_for(lambda: len(sink.frames) >= 5, 10.0), sink.errors
    runner.finish()
    assert sink.infos[0].width == 320


@pytest.mark.integration
def test_a_dropped_camera_reconnects_while_another_keeps_streaming(
    rtsp_servers: Callable[..., RtspServer], tmp_path: Path
) -> None:
    server_a, server_b = rtsp_servers("cam"), rtsp_servers("cam")
    sink_a = RecordingToDisk("a", tmp_path)
    sink_b = RecordingToDisk("b", tmp_path)
    camera_a = live_stream("a", server_a.url(), sink_a)
    runners = [Running(camera_a), Running(live_stream("b", server_b.url(), sink_b))]
    assert wait_for(lambda: len(sink_a.frames) >= 5 and len(sink_b.frames) >= 5, 10.0)

    dropped = time.time()
    server_a.stop()
    time.sleep(2.0)
    server_a.start()
    back = time.time()
    assert wait_for(lambda: bool(sink_a.gaps) and sink_a.frames_after(sink_a.gaps[0][1]) >= 5, 10)
    for runner in runners:
        runner.finish()
    sink_a.recorder.close()
    sink_b.recorder.close()

    # A: lost, retried with backoff (refused while down), and reported one plausible gap.
    assert any("lost the record+detect input" in e for e in sink_a.errors), sink_a.errors
    assert sum("retrying in" in e for e in sink_a.errors) >= 2
    assert camera_a.attempts >= 3
    assert len(sink_a.gaps) == 1
    start, end, reason = sink_a.gaps[0]
    assert dropped - 1.0 < start <= dropped + 0.2
    assert back - 0.5 < end < back + 5.0
    assert "lost" in reason
    # The loss was told as it happened (before the camera came back), so the recording up to
    # it could be finished then.
    assert len(sink_a.disconnects) == 1
    last_wall, told_at = sink_a.disconnects[0]
    assert last_wall == pytest.approx(start)
    assert told_at < back
    # ... and its frames and packets resumed after the gap.
    assert sink_a.frames_after(end) >= 5
    assert any(wall >= end and key for wall, key, _ in sink_a.packets)
    # A's recording was cut at the gap: no segment spans it.
    assert all(s.end <= start + 0.5 or s.start >= end for s in sink_a.segments)

    # B never noticed.
    assert sink_b.gaps == []
    assert sink_b.disconnects == []
    assert sink_b.errors == []
    b_walls = [frame.wall for frame, _ in sink_b.frames]
    assert b_walls[0] < dropped
    assert b_walls[-1] > back
    assert max(np.diff(b_walls)) < 0.5
    for segment in sink_a.segments + sink_b.segments:
        with av.open(str(segment.path)) as container:
            assert sum(1 for _ in container.decode(video=0)) > 0


@pytest.mark.integration
def test_a_hung_camera_is_dropped_after_read_timeout_and_picked_up_again(
    rtsp_server: RtspServer,
) -> None:
    cfg = SourceConfig(connect_timeout=1.0, read_timeout=1.0, backoff_initial=0.1, backoff_max=0.2)
    sink = RecordingSink()
    url = rtsp_server.url()
    runner = Running(CameraStream("hung", url, url, DETECT, cfg, sink, SystemClock()))
    assert wait_for(lambda: len(sink.frames) >= 3, 10.0)
    rtsp_server.pause()  # the TCP session stays up, but nothing arrives
    paused = time.monotonic()
    assert wait_for(lambda: any("no data for 1 s" in e for e in sink.errors), 5.0), sink.errors
    assert time.monotonic() - paused < 3.0
    rtsp_server.resume()
    assert wait_for(lambda: bool(sink.gaps), 10.0), sink.errors
    frames_at_gap = len(sink.frames)
    assert wait_for(lambda: len(sink.frames) > frames_at_gap + 3, 5.0)
    runner.finish()


def test_a_timestamp_jump_in_a_file_is_a_gap_and_time_goes_on_from_it(tmp_path: Path) -> None:
    # Issue 14: ten hours missing after 3 s used to be read as one stretch of footage.
    video = write_video(tmp_path / "joined.mp4", frames=60, leap=(29, TEN_HOURS))
    sink = RecordingSink()
    run_to_end(file_stream(video, sink))
    assert len(sink.gaps) == 1, sink.gaps
    start, end, reason = sink.gaps[0]
    assert end - start == pytest.approx(TEN_HOURS + 0.1, abs=0.05)
    assert "timestamps jump forward by 36000.1 s at 2.9 s" in reason
    pts = [frame.pts for frame, _ in sink.frames]
    assert max(pts) > TEN_HOURS  # media time is the file's own, after the jump too
    before = [p for p in pts if p < TEN_HOURS]
    assert before
    assert max(before) < 3.0
    first = sink.frames[0][0]
    assert start == pytest.approx(first.wall - first.pts + 2.9, abs=0.05)


def test_regular_timestamps_make_no_gap(make_clip: ClipFactory) -> None:
    sink = RecordingSink()
    run_to_end(file_stream(make_clip("plain.mp4", seconds=3), sink))
    assert sink.gaps == []
