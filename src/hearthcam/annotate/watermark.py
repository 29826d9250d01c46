"""The per-lease copy an annotator sees: the redacted clip with their name and lease id burned in.

One decode pass over the redacted clip (read through the media I/O, so a sealed clip is never
written out in plaintext) does both jobs of a new lease: it burns a visible, semi-transparent,
tiled watermark that drifts a little every frame (so a leaked copy names its viewer, and no
fixed patch can be cropped or painted out), and, given a detector, it runs it on a few
keyframes of the *unmarked* frames for the pre-labels (only for a share published without
stored pre-labels: those found on the original frames before redaction are served instead,
``annotate.desk.from_original``). The copy is encoded in memory (H.264, moov at the
end, which browsers read with a range request) and handed back as bytes for the caller to
store.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

import av
import av.error
import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam.annotate.workbench import keyframe_indexes
from hearthcam.errors import SourceUnreadable
from hearthcam.labels import label_of
from hearthcam.pipeline.detect import Detector
from hearthcam.types import BGRImage

ALPHA = 0.35  # visible over any footage, without hiding what the annotator must judge
_SPAN = 0.35  # the text's width, as a fraction of the frame's
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_DRIFT = 2  # pixels a frame the tiling moves


@dataclass(frozen=True, slots=True)
class PreLabel:
    """One detector box on a keyframe, relative to the frame (0..1)."""

    frame: int
    time: float
    xyxy: tuple[float, float, float, float]
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class MarkedClip:
    """A watermarked copy and what the pass learned of the clip."""

    data: bytes
    frames: int
    width: int
    height: int
    fps: float
    duration: float
    keyframes: tuple[int, ...]
    prelabels: tuple[PreLabel, ...]


def _tiled(text: str, shape: tuple[int, int], period: tuple[int, int], scale: float,
           thickness: int) -> NDArray[np.uint8]:  # fmt: skip
    """``text`` repeated in a brick pattern over a (height, width) mask."""
    mask = np.zeros(shape, np.uint8)
    tile_w, tile_h = period
    for row, y in enumerate(range(tile_h // 2, shape[0] + tile_h, tile_h)):
        shift = (row % 2) * tile_w // 2  # a brick pattern: no clean column to crop along
        for x in range(-tile_w + shift, shape[1], tile_w):
            cv2.putText(mask, text, (x, y), _FONT, scale, 255, thickness, cv2.LINE_AA)
    return mask


class Watermark:
    """The tiled text of one lease, pre-rendered once so each frame is one blend."""

    def __init__(self, text: str, width: int, height: int) -> None:
        # The text spans about a third of the frame's width, so it reads on a phone too.
        (base_w, base_h), _ = cv2.getTextSize(text, _FONT, 1.0, 2)
        scale = max(0.35, width * _SPAN / max(1, base_w))
        thickness = max(1, round(scale * 2))
        self._period = (int(base_w * scale * 1.6), int(base_h * scale * 3.5))
        shape = (height + self._period[1], width + self._period[0])
        # A dark outline under light text: readable on snow and on night footage alike.
        shadow = _tiled(text, shape, self._period, scale, thickness + 2).astype(np.float32) / 255
        light = _tiled(text, shape, self._period, scale, thickness).astype(np.float32) / 255
        # out = frame * (1 - weight) + overlay * weight, one cv2.blendLinear a frame (6x faster
        # than the same sum in NumPy): white in the strokes, black in their outline.
        self._weight = shadow * ALPHA
        self._keep = (1 - self._weight).astype(np.float32)
        gray = np.clip(255 * light / np.maximum(shadow, 1e-6), 0, 255).astype(np.uint8)
        self._overlay = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        self._size = (width, height)

    def apply(self, image: BGRImage, index: int) -> BGRImage:
        """``image`` with the watermark at frame ``index``'s drift."""
        width, height = self._size
        dx = (index * _DRIFT) % self._period[0]
        dy = (index * _DRIFT // 3) % self._period[1]
        window = (slice(dy, dy + height), slice(dx, dx + width))
        marked = cv2.blendLinear(
            image,
            np.ascontiguousarray(self._overlay[window]),
            np.ascontiguousarray(self._keep[window]),
            np.ascontiguousarray(self._weight[window]),
        )
        return np.asarray(marked, dtype=np.uint8)


def _boxes(detector: Detector, image: BGRImage, frame: int, time: float) -> list[PreLabel]:
    found = detector.detect(image)
    height, width = image.shape[:2]
    scale: NDArray[np.float32] = np.array([width, height, width, height], np.float32)
    labels = []
    for xyxy, score, cls in zip(found.xyxy, found.confidence, found.class_id, strict=True):
        rel = np.clip(xyxy / scale, 0, 1)
        box = (float(rel[0]), float(rel[1]), float(rel[2]), float(rel[3]))
        labels.append(PreLabel(frame, time, box, label_of(int(cls)), float(score)))
    return labels


class _Encoder:
    """H.264 in an in-memory MP4, at the source's rate and time base."""

    def __init__(self, width: int, height: int, rate: Fraction, time_base: Fraction) -> None:
        self.memory = io.BytesIO()
        self.container = av.open(self.memory, "w", format="mp4")
        options = {"preset": "superfast", "crf": "23"}  # as the redaction: the lease waits on it
        self.stream = self.container.add_stream("libx264", rate=rate, options=options)
        self.stream.width, self.stream.height = width + width % 2, height + height % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = time_base
        self.time_base = time_base

    def write(self, image: BGRImage | None, pts: int = 0) -> None:
        frame = None
        if image is not None:
            if image.shape[1] % 2 or image.shape[0] % 2:
                image = np.pad(image, ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0)))
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def finish(self) -> bytes:
        self.write(None)
        self.container.close()
        return self.memory.getvalue()


def mark_clip(
    source: BinaryIO, text: str, detector: Detector | None = None, keyframes: int = 4
) -> MarkedClip:
    """The watermarked copy of the clip in ``source`` and the detector's boxes on ``keyframes``
    evenly spread frames; SourceUnreadable if it cannot be decoded or encoded."""
    try:
        with av.open(source, "r") as container:
            if not container.streams.video:
                raise SourceUnreadable("the redacted clip has no video stream")
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
            time_base = Fraction(stream.time_base or Fraction(1, 90000))
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            picks = set(keyframe_indexes(int(stream.frames or 0), keyframes))
            mark, encoder = Watermark(text, width, height), _Encoder(width, height, rate, time_base)
            step = max(1, round(1 / (rate * time_base)))
            prelabels: list[PreLabel] = []
            count = 0
            for frame in container.decode(stream):
                image = np.ascontiguousarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
                pts = frame.pts if frame.pts is not None else count * step
                if detector is not None and count in picks:
                    prelabels += _boxes(detector, image, count, float(pts * time_base))
                encoder.write(mark.apply(image, count), pts)
                count += 1
            data = encoder.finish()
    except (av.error.FFmpegError, OSError) as error:
        raise SourceUnreadable(f"the redacted clip could not be watermarked: {error}") from error
    if count == 0:
        raise SourceUnreadable("the redacted clip has no decodable frames")
    fps = float(rate)
    return MarkedClip(data, count, width, height, fps, count / fps, tuple(sorted(picks)),
                      tuple(prelabels))  # fmt: skip
