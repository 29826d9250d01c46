"""Low-latency live view of a camera's record stream as fragmented MP4 for Media Source Extensions.

Owns who watches a camera and what each viewer receives. ``LiveBroadcaster.write`` is called with
every record packet on the camera's I/O thread. With nobody watching it only keeps a copy of the
current GOP (from the latest keyframe) and the stream's codec string; with viewers it stream-copies
packets into one shared ``FragmentMuxer`` (one fragment per frame) and hands each viewer:

1. the init segment (a ``Chunk`` of kind INIT, with the MIME type for ``addSourceBuffer``),
2. the fragments of the current GOP, so the picture appears at once,
3. then every new fragment as it is cut (one frame after its packet arrived).

Timestamps: every viewer gets its own timeline that starts at 0 and has no holes: each fragment's
tfdt is rewritten to the end of the previous fragment that viewer got, so a MediaSource in the
default "segments" mode plays from 0 with no seek. A stall, a reconnect (new init segment) or a
resync after falling behind continues that timeline instead of leaving a gap MSE would stop at.
A viewer that starts at the GOP's keyframe is up to one GOP behind live; the page should skip to
``buffered.end(0)`` minus a little, and keep doing so if it drifts.

A viewer that does not keep up (more than ``max_buffer_seconds`` or ``max_buffer_bytes`` queued)
loses what is queued and continues at the next keyframe; one that took nothing for
``stall_seconds`` is dropped (its subscription closes). Neither ever blocks ``write``.
A different input stream object (a reconnect) starts a new muxer: viewers get a new init segment
(its MIME type may differ: the page calls ``SourceBuffer.changeType`` then) and its keyframe.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import av.error

from hearthcam.live.boxes import fragment_info, with_decode_time
from hearthcam.live.codecs import mime_type, mse_codec
from hearthcam.live.muxer import TIMESCALE, Fragment, FragmentMuxer, InitSegment, Sample
from hearthcam.live.subscription import Chunk, ChunkKind, Subscription

if TYPE_CHECKING:
    from av.packet import Packet
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# At most one logged traceback per this many seconds per camera; stats.errors counts them all.
ERROR_LOG_SECONDS = 60.0


@dataclass
class LiveStats:
    """Counters, for tests and benchmarks."""

    packets: int = 0  # packets written
    muxed: int = 0  # packets muxed (0 while nobody watches)
    inits: int = 0
    fragments: int = 0
    resyncs: int = 0  # a viewer fell behind and skipped to a keyframe
    dropped: int = 0  # viewers closed for taking nothing for stall_seconds
    errors: int = 0


@dataclass(slots=True)
class _Viewer:
    next_time: int = 0  # tfdt of the next fragment this viewer gets (TIMESCALE)
    init_of: int | None = None  # the muxer whose init segment it has
    needs_key: bool = True


class LiveBroadcaster:
    """Fans one camera's record stream out to MSE viewers (thread-safe; see the module doc)."""

    def __init__(
        self,
        camera: str,
        max_buffer_seconds: float = 5.0,
        max_buffer_bytes: int = 32 << 20,
        stall_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.camera = camera
        self.max_buffer_seconds = max_buffer_seconds
        self.max_buffer_bytes = max_buffer_bytes
        self.stall_seconds = stall_seconds
        self.stats = LiveStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._stream: VideoStream | None = None  # compared by identity only, see write()
        self._mime: str | None = None
        self._gop: list[Sample] | None = None  # since the latest keyframe; None: none kept
        self._gop_seconds = 0.0
        self._gop_bytes = 0
        self._step = 0.04
        self._muxer: FragmentMuxer | None = None
        self._muxer_id = 0
        self._init: Chunk | None = None
        self._frags: list[Fragment] | None = None  # cut since the latest keyframe fragment
        self._frags_ticks = 0  # their duration
        self._viewers: dict[Subscription, _Viewer] = {}
        self._error_logged = float("-inf")

    @property
    def mime(self) -> str | None:
        """``video/mp4; codecs="..."`` of the current stream; None before it or if MSE cannot
        play its codec (then offer the MJPEG fallback)."""
        return self._mime

    @property
    def viewers(self) -> int:
        """How many subscriptions are open."""
        return len(self._viewers)

    # -- the camera's I/O thread --------------------------------------------------------------
    def write(self, packet: Packet[VideoStream], stream: VideoStream, wall: float) -> None:
        """Takes one record packet (not modified); never raises, never blocks on viewers.

        ``wall`` is not used (media timestamps time the fragments); it keeps the recorder's
        signature so the pipeline hands both the same arguments."""
        if not packet.size:
            return
        try:
            with self._lock:
                self._write(packet, stream)
        except Exception:  # the live view must never stop recording or detection
            with self._lock:
                self.stats.errors += 1
                self._abandon_muxer()
                now = self._clock()
                if now - self._error_logged < ERROR_LOG_SECONDS:
                    return  # a persistent fault would otherwise log at the frame rate
                self._error_logged = now
            log.exception("%s: live view failed; viewers resume at a keyframe", self.camera)

    def _write(self, packet: Packet[VideoStream], stream: VideoStream) -> None:
        self.stats.packets += 1
        if stream is not self._stream:
            self._change_stream(stream)
        sample = Sample(
            bytes(packet), packet.dts, packet.pts, packet.duration or 0, packet.is_keyframe
        )
        self._keep(sample)
        if not self._viewers or self._mime is None:
            if self._muxer is not None:
                self._stop_muxer()  # the last viewer left
            return
        if self._muxer is None:
            if not self._gop:
                return  # nothing decodable yet: start at the next keyframe
            # The input stream is only touched here, on the I/O thread while its container is
            # open: copying parameters from a closed input crashes FFmpeg.
            self._muxer = FragmentMuxer(stream)
            self._muxer_id += 1
            samples = list(self._gop)
        else:
            samples = [sample]
        for item in samples:
            for piece in self._muxer.feed(item):
                self._dispatch(piece)
        self.stats.muxed += len(samples)

    def _change_stream(self, stream: VideoStream) -> None:
        """A new connection: the old muxer is finished, the new one starts at a keyframe."""
        if self._muxer is not None:
            self._stop_muxer()
        self._stream = stream
        self._gop = None
        codec = mse_codec(stream.codec_context.name, stream.codec_context.extradata)
        self._mime = mime_type(codec) if codec else None
        rate = stream.average_rate or stream.guessed_rate
        self._step = 1 / float(rate) if rate else 0.04

    def _keep(self, sample: Sample) -> None:
        """Keeps the current GOP (bounded) for the next first viewer."""
        size = len(sample.data)
        if sample.keyframe:
            self._gop, self._gop_seconds, self._gop_bytes = [sample], self._step, size
        elif self._gop is not None:
            self._gop.append(sample)
            self._gop_seconds += self._step
            self._gop_bytes += size
            if (
                self._gop_seconds > self.max_buffer_seconds
                or self._gop_bytes > self.max_buffer_bytes
            ):
                self._gop = None  # too long to replay: a first viewer waits for a keyframe

    def _stop_muxer(self) -> None:
        muxer, self._muxer = self._muxer, None
        if muxer is not None:
            for piece in muxer.close():
                self._dispatch(piece)
        self._init, self._frags = None, None

    def _abandon_muxer(self) -> None:
        """After an error: drops the muxer; viewers continue with the next one's keyframe."""
        muxer, self._muxer = self._muxer, None
        if muxer is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError, ValueError):
                muxer.close()  # it already failed once; a second failure adds nothing
        self._init, self._frags, self._gop = None, None, None

    # -- fan-out --------------------------------------------------------------------------------
    def _dispatch(self, piece: InitSegment | Fragment) -> None:
        if isinstance(piece, InitSegment):
            assert self._mime is not None
            self._init = Chunk(piece.data, ChunkKind.INIT, self._mime)
            self.stats.inits += 1
            return
        self.stats.fragments += 1
        if piece.info.keyframe:
            self._frags, self._frags_ticks = [piece], piece.info.duration
        elif self._frags is not None:
            self._frags.append(piece)
            self._frags_ticks += piece.info.duration
            if self._frags_ticks > self.max_buffer_seconds * TIMESCALE:
                self._frags = None  # a later viewer waits for the next keyframe instead
        for sub, viewer in list(self._viewers.items()):
            self._deliver(sub, viewer, piece)

    def _deliver(self, sub: Subscription, viewer: _Viewer, frag: Fragment) -> None:
        """Sends a fragment to one viewer; a full queue resyncs or drops the viewer."""
        refused = self._offer(sub, viewer, frag) is False
        if refused and self._fall_behind(sub, viewer) and frag.info.keyframe:
            self._offer(sub, viewer, frag)  # the queue was just emptied: restart from here

    def _offer(self, sub: Subscription, viewer: _Viewer, frag: Fragment) -> bool | None:
        """True: queued; False: the queue is full; None: the viewer waits for a keyframe."""
        if viewer.needs_key or viewer.init_of != self._muxer_id:
            if not frag.info.keyframe or self._init is None:
                return None
            if viewer.init_of != self._muxer_id:
                if not sub.offer(self._init):
                    return False
                viewer.init_of = self._muxer_id
        data = with_decode_time(frag.data, frag.info, viewer.next_time)
        seconds = frag.info.duration / TIMESCALE
        chunk = Chunk(data, ChunkKind.MEDIA, self._mime or "", frag.info.keyframe, seconds)
        if not sub.offer(chunk):
            return False
        viewer.needs_key = False
        viewer.next_time += frag.info.duration
        return True

    def _fall_behind(self, sub: Subscription, viewer: _Viewer) -> bool:
        """A viewer's queue is full: drop it if it stalled, else skip to a keyframe.
        Returns whether it is still subscribed."""
        if sub.closed or self._clock() - sub.last_taken > self.stall_seconds:
            self._viewers.pop(sub, None)
            if sub.finish():
                self.stats.dropped += 1
            return False
        dropped = sub.clear()
        self.stats.resyncs += 1
        media = [c for c in dropped if c.kind is ChunkKind.MEDIA]
        if media:  # the viewer's timeline continues where what it actually got ends
            viewer.next_time = fragment_info(media[0].data).decode_time
        if any(c.kind is ChunkKind.INIT for c in dropped):
            viewer.init_of = None
        viewer.needs_key = True
        return True

    # -- viewers' threads ------------------------------------------------------------------------
    def subscribe(self) -> Subscription:
        """A new viewer: gets the init segment and the current GOP at once if the stream is
        being muxed, else from the next packet (the first viewer starts the muxer)."""
        sub = Subscription(
            self.max_buffer_seconds, self.max_buffer_bytes, self.unsubscribe, self._clock
        )
        with self._lock:
            viewer = _Viewer()
            self._viewers[sub] = viewer
            for frag in self._frags or []:
                self._deliver(sub, viewer, frag)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Ends a viewer's subscription (``Subscription.close`` calls this)."""
        with self._lock:
            self._viewers.pop(sub, None)
        sub.finish()

    def close(self) -> None:
        """Delivers the last fragment, then ends every subscription (what is queued can still be
        taken) and the muxer; call once the camera's source has stopped writing."""
        with self._lock:
            try:
                self._stop_muxer()
            except (av.error.FFmpegError, OSError, ValueError):
                self._abandon_muxer()  # shutting down: the last frame is not worth more
            viewers, self._viewers = list(self._viewers), {}
        for sub in viewers:
            sub.finish()
