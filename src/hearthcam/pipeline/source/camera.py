"""One camera's read loops with reconnection: packets to the recorder, frames to detection.

Owns the loops between opened inputs (``inputs``) and the rest of the pipeline: driving the
connection state machine and its backoff (``connection``), wall-time stamping (``timeline``),
handing packets to the recorder (record role) and sampled, scaled BGR frames to detection
(detect role). A camera's file inputs share one thread that wakes in bursts (``pacing``); each
live input has its own, woken by the camera's packets (a record-only one over TCP, in bursts).

Time: for a file, ``wall = wall at open + media time``; for a live stream, ``wall`` is the
packet's arrival (read in bursts: spaced by the stream's timestamps, ``timeline``) and
``Frame.pts`` is seconds since that connection opened; it restarts at 0 after a reconnect (the
gap is reported through ``StreamSink.on_gap``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol, cast

import av
import av.error

from hearthcam.config import DetectConfig, SourceConfig
from hearthcam.errors import (
    SourceError,
    StoreError,
)
from hearthcam.pipeline.source.connection import (
    Backoff,
    ConnEvent,
    ConnState,
    FrameSampler,
    transition,
)
from hearthcam.pipeline.source.inputs import (
    InputKind,
    StreamInfo,
    input_kind,
    is_live,
    open_input,
    redact_url,
    stream_info,
)
from hearthcam.pipeline.source.pacing import live_nap, next_ready, wake_at
from hearthcam.pipeline.source.reading import Link, Reading
from hearthcam.pipeline.source.timeline import Timeline
from hearthcam.types import BGRImage, Frame

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

# At most one "corrupt packet" report per this many seconds per input, with a count.
ERROR_REPORT_SECONDS = 1.0
# On the system clock a wait blocks on the stop event itself (one wake-up a packet when pacing a
# file), but sees that the camera's other input loop died only this often.
HALT_CHECK_SECONDS = 0.25
# Other clocks (tests) are slept on in steps this long, checking ``stop`` in between.
POLL_SECONDS = 0.05
# A detect stream up to this many pixels (720p) is decoded on the reader thread alone: FFmpeg's
# slice threads save little at that size and wake the reader several times a frame. Larger
# ones (a camera with only a main stream) keep them.
SINGLE_THREAD_PIXELS = 1280 * 720


class Clock(Protocol):
    """Wall time and sleeping, so tests can drive time."""

    def time(self) -> float:
        """Returns Unix time in seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Blocks for ``seconds``."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Returns Unix time in seconds."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Blocks for ``seconds``."""
        time.sleep(seconds)


class StreamSink(Protocol):
    """Receives what a CameraStream reads; called from the stream's reader thread(s)."""

    def on_connected(self, info: StreamInfo) -> None:
        """An input was opened (again)."""
        ...

    def on_packet(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        """Every record packet, in order; read-only; a StoreError is reported, not fatal."""
        ...

    def on_frame(self, frame: Frame) -> None:
        """A sampled detect frame, BGR, scaled to ``DetectConfig.size_for`` the source size."""
        ...

    def on_disconnected(self, last_wall: float, reason: str) -> None:
        """A live input was lost (last packet at ``last_wall``); reconnecting follows."""
        ...

    def on_gap(self, start_wall: float, end_wall: float, reason: str) -> None:
        """An input was lost at ``start_wall`` and delivered again from ``end_wall``."""
        ...

    def on_error(self, message: str) -> None:
        """Something went wrong that the loop survived (failed connect, lost stream, bad data)."""
        ...


class _Flag(Protocol):
    """Anything that says whether to stop (a threading.Event or several)."""

    def is_set(self) -> bool:
        """Whether to stop."""
        ...

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until set or ``timeout`` passes; whether it is set."""
        ...


class _Either:
    """Set when either of two events is set."""

    def __init__(self, first: threading.Event, second: threading.Event) -> None:
        self._first = first
        self._second = second

    def is_set(self) -> bool:
        """Whether either event is set."""
        return self._first.is_set() or self._second.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until the first is set (the second is seen within HALT_CHECK_SECONDS)."""
        limit = HALT_CHECK_SECONDS if timeout is None else min(timeout, HALT_CHECK_SECONDS)
        self._first.wait(limit)
        return self.is_set()


class CameraStream:
    """The I/O loop of one camera: connect, stream to a sink, back off and reconnect."""

    def __init__(
        self,
        name: str,
        record_url: str | None,
        detect_url: str,
        detect_cfg: DetectConfig,
        source_cfg: SourceConfig,
        sink: StreamSink,
        clock: Clock,
        realtime: bool = False,
    ) -> None:
        self.name = name
        self._detect_cfg = detect_cfg
        self._source_cfg = source_cfg
        self._sink = sink
        self._clock = clock
        self._realtime = realtime
        self._index = 0
        detect = detect_cfg.enabled
        if record_url is None or record_url == detect_url:
            # One input with both roles: demuxed once, each packet recorded and decoded.
            self._links = [Link(detect_url, record_url is not None, detect, is_live(detect_url))]
        else:
            self._links = [
                Link(detect_url, False, detect, is_live(detect_url)),
                Link(record_url, True, False, is_live(record_url)),
            ]

    @property
    def state(self) -> ConnState:
        """The connection state of the detect input."""
        return self._links[0].state

    @property
    def attempts(self) -> int:
        """Connection attempts so far, over all inputs."""
        return sum(link.attempts for link in self._links)

    def run(self, stop: threading.Event) -> None:
        """Reads until ``stop`` is set or every input has ended (files).

        The camera's files are read by one paced loop (``_run_files``); each live input has a
        thread of its own, since reading it blocks until the camera sends. The loop holding the
        detect input runs on the calling thread."""
        # Set if this camera's detect loop dies, so its other loop does not outlive it.
        halted = threading.Event()
        either = _Either(stop, halted)
        files = [link for link in self._links if not link.live]
        jobs: list[Callable[[], None]] = [
            partial(self._run_link, link, either) for link in self._links if link.live
        ]
        if files:
            jobs.insert(
                0 if files[0] is self._links[0] else len(jobs),
                partial(self._run_files, files, either),
            )
        others = [
            threading.Thread(target=job, name=f"{self.name}-record", daemon=True)
            for job in jobs[1:]
        ]
        for thread in others:
            thread.start()
        try:
            jobs[0]()
        except BaseException:
            halted.set()
            raise
        finally:
            # A detect file that simply ended leaves the record input to be read to its end.
            for thread in others:
                thread.join()

    def _run_link(self, link: Link, stop: _Flag) -> None:
        """Drives one input through the connection state machine until STOPPED."""
        # +-10% jitter (never above backoff_max) spreads the retries of cameras behind one switch.
        backoff = Backoff(self._source_cfg.backoff_initial, self._source_cfg.backoff_max, 0.1)
        delay = 0.0
        while link.state is not ConnState.STOPPED:
            if stop.is_set():
                event = ConnEvent.STOP
            elif link.state is ConnState.CONNECTING:
                event = self._attempt(link, stop)
            else:
                event = ConnEvent.STOP if self._wait(delay, stop) else ConnEvent.RETRY
            if event is ConnEvent.LOST:
                # Told at once, so the recording up to the loss is finished and indexed now,
                # not when (or if) the camera comes back.
                self._sink.on_disconnected(link.last_wall or self._clock.time(), link.problem)
            link.state = transition(link.state, event)
            if link.state is ConnState.BACKOFF:
                delay = backoff.next_delay(link.streamed_for)
                self._sink.on_error(
                    f"{self.name}: {link.problem}; retrying in {delay:.1f} s "
                    f"(attempt {link.attempts + 1})"
                )

    def _open(self, link: Link) -> InputContainer | ConnEvent:
        """Opens the input (STREAMING), or says how the attempt ended."""
        link.attempts += 1
        link.streamed_for = 0.0
        try:
            container = open_input(link.url, self._source_cfg)
        except SourceError as error:
            link.problem = f"{link.role} input: {error}"
            if not link.live:
                self._sink.on_error(f"{self.name}: {link.problem}")
            return ConnEvent.FAILED if link.live else ConnEvent.ENDED
        if input_kind(link.url) is InputKind.HTTP:
            # Over HTTP a finite file (it has a duration) ends; a camera's endless stream does not.
            link.live = not (container.duration and container.duration > 0)
        link.state = transition(link.state, ConnEvent.OPENED)
        return container

    def _attempt(self, link: Link, stop: _Flag) -> ConnEvent:
        """Opens the input and streams it until it fails, ends or is stopped."""
        container = self._open(link)
        if isinstance(container, ConnEvent):
            return container
        started = self._clock.time()
        try:
            return self._stream(link, container, stop)
        finally:
            container.close()
            link.streamed_for = self._clock.time() - started

    def _connected(self, link: Link, container: InputContainer) -> Reading:
        """Tells the sink, and sets up the stamping and sampling of one connection."""
        # Decoder threads stay at PyAV's default (slice threads): frame threading ("AUTO")
        # measured slower at 640x360 on 2 cores (0.63 vs 0.42 ms/frame), only 12% faster at
        # 1080p, and it delays every frame by one per thread.
        stream = container.streams.video[0]
        context = stream.codec_context
        if link.detect and 0 < context.width * context.height <= SINGLE_THREAD_PIXELS:
            context.thread_count = 1
        self._sink.on_connected(stream_info(container, stream))
        spaced = self._buffered(link)  # read in bursts (``_stream``)
        timeline = Timeline(self._clock, stream, synthetic=not link.live, spaced=spaced)
        sampler = FrameSampler(self._detect_cfg.fps)
        return Reading(link, container, stream, timeline, sampler, container.demux(stream))

    def _stream(self, link: Link, container: InputContainer, stop: _Flag) -> ConnEvent:
        """Demuxes one connection packet by packet; returns how it ended."""
        reading = self._connected(link, container)
        bursts = self._buffered(link)
        while not stop.is_set():
            asked = self._clock.time()
            if not reading.advance(self._source_cfg.read_timeout):
                return self._ended(reading)
            assert reading.head is not None
            if self._realtime and not link.live and reading.head.size:
                self._wait(reading.wall - self._clock.time(), stop)  # pace a file like a camera
            took = self._clock.time() - asked
            self._deliver(reading)
            if bursts and self._wait(live_nap(took=took, detect=link.detect), stop):
                break
        return ConnEvent.STOP

    def _buffered(self, link: Link) -> bool:
        """Whether a live input is read in bursts: one that only records (detect frames are
        latency), over TCP, where the kernel holds what the camera sends meanwhile (RTP over UDP
        and a USB device's few buffers would drop it)."""
        kind = input_kind(link.url)
        if not self._source_cfg.read_bursts or not link.live or link.detect:
            return False
        if kind is InputKind.DEVICE:
            return False
        return kind is InputKind.HTTP or self._source_cfg.rtsp_transport == "tcp"

    def _ended(self, reading: Reading) -> ConnEvent:
        """How a connection whose packets ran out ended (a file ends, a live input is lost)."""
        link = reading.link
        self._flush_errors(link, force=True)
        if not link.live:
            self._check_complete(link, reading.reason, reading.timeline, reading.container)
            return ConnEvent.ENDED
        link.problem = f"lost the {link.role} input: {reading.reason}"
        if link.last_wall is not None:
            link.gap_reason = link.problem
        return ConnEvent.LOST

    def _run_files(self, links: list[Link], stop: _Flag) -> None:
        """Reads every file input of the camera on one thread, merged by time; paced (realtime),
        it wakes only when a detect frame is due or a packet has waited BURST_SECONDS."""
        readings: list[Reading] = []
        for link in links:
            opened = self._open(link)
            if isinstance(opened, ConnEvent):
                link.state = transition(link.state, opened)
            else:
                readings.append(self._connected(link, opened))
                self._refill(readings[-1])
        try:
            self._pace(readings, stop)
        finally:
            for reading in readings:
                reading.container.close()
                if reading.link.state is not ConnState.STOPPED:
                    reading.link.state = transition(reading.link.state, ConnEvent.STOP)

    def _pace(self, readings: list[Reading], stop: _Flag) -> None:
        """Hands on the readings' packets in time order until they end or ``stop`` is set."""
        while not stop.is_set():
            heads = [r.due for r in readings]
            wake = wake_at(heads)
            if wake is None:
                return
            now: float | None = None
            if self._realtime:
                if self._wait(wake - self._clock.time(), stop):
                    return
                now = self._clock.time()
            while (i := next_ready(heads, now)) is not None and not stop.is_set():
                self._deliver(readings[i])
                self._refill(readings[i])
                heads[i] = readings[i].due

    def _refill(self, reading: Reading) -> None:
        """Reads the reading's next packet and says when it is due; ends a file that ran out."""
        if not reading.advance(self._source_cfg.read_timeout):
            reading.link.state = transition(reading.link.state, self._ended(reading))

    def _deliver(self, reading: Reading) -> None:
        """Records and/or decodes the reading's current packet (an empty one at the end drains
        the decoder)."""
        link, packet, media, wall = reading.link, reading.head, reading.media, reading.wall
        assert packet is not None
        if packet.size:
            jump = reading.timeline.jump
            if jump is not None and link.last_wall is not None:
                self._timestamp_jump(link, jump, media)
            if link.gap_reason is not None and link.last_wall is not None:
                self._sink.on_gap(link.last_wall, wall, link.gap_reason)
                link.gap_reason = None
            link.last_wall = wall
        if link.detect:
            # Decoded before the recorder sees the packet, so a sink that keeps or changes
            # the packet cannot affect what is decoded.
            self._decode(link, packet, reading.timeline, reading.sampler, media, wall)
        if link.record and packet.size:
            try:
                self._sink.on_packet(packet, reading.stream, wall)
            except StoreError as error:
                # A full or failing disk must not stop detection and alerts: report, go on.
                self._sink.on_error(f"{self.name}: recording failed: {error}")

    def _check_complete(
        self, link: Link, reason: str, timeline: Timeline, container: InputContainer
    ) -> None:
        """Reports a file that failed or ended well before its stated duration (truncated)."""
        name = redact_url(link.url)
        last = timeline.last_media
        duration = container.duration / av.time_base if container.duration else None
        if reason != "the stream ended":
            where = f" at {last:.1f} s" if last is not None else ""
            self._sink.on_error(
                f"{self.name}: {name}: file ends early{where} (truncated?): {reason}"
            )
        elif duration is not None and last is not None and last < duration - 1.0:
            self._sink.on_error(
                f"{self.name}: {name}: file ends early at {last:.1f} s of {duration:.1f} s "
                "(truncated?)"
            )

    def _timestamp_jump(self, link: Link, jump: float, media: float) -> None:
        """A file's timestamps leapt forward: the footage before and after is not continuous, so
        it is told as a gap (the recording is cut there; an open event ends at the last frame
        before it) rather than stretched over the hours nobody recorded."""
        # Told as the gap's reason (the sink warns of gaps), once.
        link.gap_reason = (
            f"{redact_url(link.url)}: timestamps jump forward by {jump:.1f} s at "
            f"{media - jump:.1f} s; a new timeline segment starts at {media:.1f} s"
        )

    def _decode(
        self,
        link: Link,
        packet: Packet[VideoStream],
        timeline: Timeline,
        sampler: FrameSampler,
        media: float,
        wall: float,
    ) -> None:
        """Decodes a packet and hands on the frames the sampler keeps, scaled and BGR."""
        try:
            frames = packet.decode()
        except av.error.FFmpegError as error:
            link.errors += 1
            link.error_note = f"undecodable packets near {media:.2f} s ({error.strerror})"
            self._flush_errors(link)
            return
        for frame in frames:
            frame_media, frame_wall = timeline.frame(frame.pts, media, wall)
            if not sampler.keep(frame_media):
                continue
            # Only kept frames pay for scaling and colour conversion.
            width, height = self._detect_cfg.size_for(frame.width, frame.height)
            # One thread: swscale's own threads cost more wake-ups than they save at this size.
            scaled = frame.reformat(width=width, height=height, format="bgr24", threads=1)
            image = cast("BGRImage", scaled.to_ndarray())
            self._sink.on_frame(Frame(self.name, self._index, frame_media, frame_wall, image))
            self._index += 1

    def _flush_errors(self, link: Link, force: bool = False) -> None:
        """Reports undecodable packets at most once per ERROR_REPORT_SECONDS, with a count."""
        now = self._clock.time()
        if link.errors and (force or now - link.error_reported >= ERROR_REPORT_SECONDS):
            self._sink.on_error(f"{self.name}: skipped {link.errors} {link.error_note}")
            link.errors = 0
            link.error_reported = now

    def _wait(self, seconds: float, stop: _Flag) -> bool:
        """Waits ``seconds`` on the clock so that ``stop`` interrupts; True if stopped.

        On the system clock it blocks on ``stop`` itself rather than polling it: pacing a 15 fps
        file then wakes the thread once a packet, not every 50 ms as well."""
        system = isinstance(self._clock, SystemClock)
        end = self._clock.time() + seconds
        while not stop.is_set():
            left = end - self._clock.time()
            if left <= 0:
                return False
            if system:
                stop.wait(left)
            else:
                self._clock.sleep(min(left, POLL_SECONDS))
        return True
