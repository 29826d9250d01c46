"""Stream copy of one input stream into fragmented MP4 in memory: packets in, MSE segments out.

Owns the FFmpeg mp4 muxer settings for Media Source Extensions and the timestamps it is given.
``empty_moov`` writes an init segment (ftyp+moov, with the ``mvex`` MSE needs) before any media;
``default_base_moof`` sets tfhd's default-base-is-moof (Chromium refuses fragments without it);
``frag_every_frame`` cuts one fragment per packet. FFmpeg learns a sample's duration from the
next packet, so a packet's fragment comes out when the next one is muxed: one frame of latency
(40 ms at 25 fps), against one GOP (1-4 s) with ``frag_keyframe``. Nothing is re-encoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import av

from hearthcam.live.boxes import BoxSplitter, FragmentInfo, fragment_info

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.video.stream import VideoStream

# One clock for every muxer, whatever the camera's time base: MP4's usual video timescale.
TIMESCALE = 90_000
TIME_BASE = Fraction(1, TIMESCALE)
MOVFLAGS = "empty_moov+default_base_moof+frag_every_frame+skip_trailer"
# A jump between packets larger than this (either way) is a stall or a timestamp reset, not
# media time: played as it is, the viewer would freeze for the gap and then lag live by it.
MAX_STEP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Sample:
    """A copied record packet, in its input stream's time base."""

    data: bytes
    dts: int | None
    pts: int | None
    duration: int
    keyframe: bool


@dataclass(frozen=True, slots=True)
class Fragment:
    """One media fragment (moof+mdat) and what its moof says."""

    data: bytes
    info: FragmentInfo


@dataclass(frozen=True, slots=True)
class InitSegment:
    """ftyp+moov for the muxer's stream."""

    data: bytes


class _Writer:
    """The muxer's output: a non-seekable sink, so FFmpeg flushes after every packet."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class FragmentMuxer:
    """Muxes copies of one input stream's packets into an init segment and fragments."""

    def __init__(self, template: VideoStream) -> None:
        self._writer = _Writer()
        self._container: OutputContainer = av.open(
            self._writer, "w", format="mp4", options={"movflags": MOVFLAGS, "flush_packets": "1"}
        )
        # opaque=True copies the decoder's parameters: no encoder is needed to remux.
        self._stream = self._container.add_stream_from_template(template, opaque=True)
        if template.codec_context.name == "hevc":
            self._stream.codec_tag = "hvc1"  # see hearthcam.live.codecs.SAMPLE_ENTRY
        self._stream.time_base = TIME_BASE
        scale = Fraction(template.time_base or Fraction(1, TIMESCALE)) * TIMESCALE
        self._num, self._den = scale.numerator, scale.denominator
        rate = template.average_rate or template.guessed_rate or Fraction(25)
        self._step = max(1, round(TIMESCALE / rate))
        self._max_step = round(MAX_STEP_SECONDS * TIMESCALE)
        self._origin: int | None = None
        self._last_dts: int | None = None
        self._splitter = BoxSplitter()
        self._pending: dict[str, bytes] = {}
        self.muxed = 0

    def feed(self, sample: Sample) -> list[InitSegment | Fragment]:
        """Muxes one sample; returns the segments completed by it (usually the previous one)."""
        dts, pts = self._rebase(sample)
        packet = av.Packet(sample.data)
        packet.time_base = TIME_BASE
        packet.dts, packet.pts = dts, pts
        packet.duration = self._ticks(sample.duration) if sample.duration else self._step
        packet.is_keyframe = sample.keyframe
        packet.stream = self._stream
        self._container.mux(packet)
        self.muxed += 1
        return self._collect()

    def close(self) -> list[InitSegment | Fragment]:
        """Flushes the last fragment and closes the muxer."""
        self._container.close()
        return self._collect()

    def _ticks(self, value: int) -> int:
        return value * self._num // self._den

    def _rebase(self, sample: Sample) -> tuple[int, int]:
        """(dts, pts) in TIMESCALE from 0; gaps and jumps become one frame step."""
        raw = sample.dts if sample.dts is not None else sample.pts
        expected = 0 if self._last_dts is None else self._last_dts + self._step
        if raw is None:
            dts = expected  # no timestamp at all (first RTSP packets): one frame after the last
        else:
            if self._origin is None:
                self._origin = self._ticks(raw) - expected
            dts = self._ticks(raw) - self._origin
            last = self._last_dts
            if last is not None and not 0 < dts - last <= self._max_step:
                self._origin += dts - expected  # a stall or a reset: carry on one step later
                dts = expected
        pts = dts
        if sample.pts is not None and self._origin is not None:
            pts = max(dts, self._ticks(sample.pts) - self._origin)
        self._last_dts = dts
        return dts, pts

    def _collect(self) -> list[InitSegment | Fragment]:
        """Groups the muxer's complete top-level boxes into init segments and fragments."""
        out: list[InitSegment | Fragment] = []
        for kind, data in self._splitter.feed(self._writer.take()):
            if kind in ("ftyp", "moof"):
                self._pending[kind] = data
            elif kind == "moov":
                out.append(InitSegment(self._pending.pop("ftyp", b"") + data))
            elif kind == "mdat" and "moof" in self._pending:
                moof = self._pending.pop("moof")
                out.append(Fragment(moof + data, fragment_info(moof)))
            # Anything else (udta, free, a trailer's mfra) means nothing to MSE.
        return out
