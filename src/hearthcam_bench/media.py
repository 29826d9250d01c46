"""Benchmark media, built once per run in the temp dir: simulated camera clips and test scenes.

A simulated camera is a pair of H.264 files as an IP camera serves them: a 1920x1080 15 fps main
stream (recorded by copy) and a 640x360 5 fps sub-stream (analysed), both with a keyframe every
second. One 30 s *cycle* is encoded once (x264 ultrafast): 27 s of the empty walkway and 3 s of
pedestrians (10 % of the time). Cameras get *rotations* of it, remuxed by stream copy from a
different keyframe, so each camera's people come at a different time and nothing is re-encoded.

What is real and what is composited:
- people: real video, opencv-doc's vtest.avi (pedestrians, fixed camera), cropped to 16:9 and
  scaled to 1080p / 360p (it is 768x576, so the 1080p stream is upscaled);
- the quiet stretches: the per-pixel median of vtest.avi (real pixels, people removed) with
  added sensor-like noise;
- a person "entering": a cut from the empty walkway to the vtest frames (composited);
- test scenes (gating, quality) come from ``hearthcam.scenes``, which states its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam import scenes
from hearthcam.types import BGRImage

if TYPE_CHECKING:
    from av.container import OutputContainer
    from av.packet import Packet
    from av.video.stream import VideoStream

MAIN_SIZE = (1920, 1080)
SUB_SIZE = (640, 360)
MAIN_FPS = 15
SUB_FPS = 5
CYCLE_SECONDS = 30
PEOPLE_AT = 2  # seconds into the cycle
PEOPLE_SECONDS = 3  # 10 % of the cycle
PEOPLE_FIRST_FRAME = 100  # of vtest.avi, as in the demo scene
PHASES = 9  # rotations put people at 2, 5, ..., 26 s: never in a camera's first frames
CROP_TOP = 72  # 768x576 -> 768x432, the 16:9 middle of vtest
NOISE_FRAMES = 8

Progress = Callable[[float], None]


@dataclass(frozen=True)
class CameraClip:
    """The two streams of one simulated camera and when people appear in them."""

    main: Path
    sub: Path
    seconds: float
    people: tuple[float, ...]  # media seconds at which people appear (for PEOPLE_SECONDS)


def _crop(image: BGRImage) -> BGRImage:
    return image[CROP_TOP : CROP_TOP + 432]


def _resize(image: BGRImage, size: tuple[int, int], interpolation: int) -> BGRImage:
    return np.asarray(cv2.resize(image, size, interpolation=interpolation), dtype=np.uint8)


def _noisy(image: BGRImage, noise: NDArray[np.int16]) -> BGRImage:
    return np.asarray(np.clip(image.astype(np.int16) + noise, 0, 255), dtype=np.uint8)


class _CycleFrames:
    """The cycle's 1080p frames: precomputed noisy quiet frames, people frames made on demand."""

    def __init__(self) -> None:
        rng = np.random.default_rng(11)
        shape = (MAIN_SIZE[1], MAIN_SIZE[0], 3)
        self._noise = [rng.normal(0, 2.0, shape).astype(np.int16) for _ in range(NOISE_FRAMES)]
        walkway = _resize(_crop(scenes.empty_walkway()), MAIN_SIZE, cv2.INTER_LINEAR)
        self._quiet = [_noisy(walkway, n) for n in self._noise]
        count = PEOPLE_SECONDS * scenes.FPS
        self._people = [_crop(f) for f in scenes.vtest_frames(PEOPLE_FIRST_FRAME, count)]

    def main(self, index: int) -> BGRImage:
        """Main-stream frame ``index`` (at MAIN_FPS) of the cycle."""
        t = index / MAIN_FPS
        noise = index % NOISE_FRAMES
        if not PEOPLE_AT <= t < PEOPLE_AT + PEOPLE_SECONDS:
            return self._quiet[noise]
        source = self._people[min(len(self._people) - 1, int((t - PEOPLE_AT) * scenes.FPS))]
        return _noisy(_resize(source, MAIN_SIZE, cv2.INTER_LINEAR), self._noise[noise])


def _video_stream(container: OutputContainer, size: tuple[int, int], fps: int) -> VideoStream:
    stream = container.add_stream(
        "libx264",
        rate=fps,
        options={
            "preset": "ultrafast",
            "crf": "23",
            "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0",
        },
    )
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.time_base = Fraction(1, fps)
    return stream


def _encode(
    container: OutputContainer, stream: VideoStream, image: BGRImage, pts: int, fps: int
) -> None:
    frame = av.VideoFrame.from_ndarray(image, format="bgr24")
    frame.pts = pts
    frame.time_base = Fraction(1, fps)
    container.mux(stream.encode(frame))


def encode_cycle(main_path: Path, sub_path: Path, progress: Progress | None = None) -> None:
    """Encodes the 30 s cycle as a 1080p15 main and a 360p5 sub-stream file."""
    frames = _CycleFrames()
    total = CYCLE_SECONDS * MAIN_FPS
    step = MAIN_FPS // SUB_FPS
    with av.open(str(main_path), "w") as main, av.open(str(sub_path), "w") as sub:
        main_stream = _video_stream(main, MAIN_SIZE, MAIN_FPS)
        sub_stream = _video_stream(sub, SUB_SIZE, SUB_FPS)
        for i in range(total):
            image = frames.main(i)
            _encode(main, main_stream, image, i, MAIN_FPS)
            if i % step == 0:
                small = _resize(image, SUB_SIZE, cv2.INTER_AREA)
                _encode(sub, sub_stream, small, i // step, SUB_FPS)
            if progress is not None and i % MAIN_FPS == 0:
                progress(i / total)
        main.mux(main_stream.encode(None))
        sub.mux(sub_stream.encode(None))


def _read_gops(packets: Iterator[Packet[VideoStream]]) -> list[list[Packet[VideoStream]]]:
    gops: list[list[Packet[VideoStream]]] = []
    for packet in packets:
        if not packet.size:
            continue
        if packet.is_keyframe or not gops:
            gops.append([])
        gops[-1].append(packet)
    return gops


def remux_gops(source: Path, target: Path, order: Sequence[int]) -> None:
    """Writes the one-second GOPs of ``source`` in ``order``, timestamps continuous (no encode)."""
    with av.open(str(source)) as src:
        stream = src.streams.video[0]
        gops = _read_gops(src.demux(stream))
        gop_ticks = int(gops[1][0].pts or 0) - int(gops[0][0].pts or 0)
        time_base = stream.time_base or Fraction(1, 90_000)
        with av.open(str(target), "w", format="mp4") as out:
            out_stream = out.add_stream_from_template(stream, opaque=True)
            for n, g in enumerate(order):
                base = int(gops[g][0].pts or 0)
                for packet in gops[g]:
                    copy = av.Packet(bytes(packet))
                    copy.time_base = time_base
                    copy.pts = copy.dts = int(packet.pts or 0) - base + n * gop_ticks
                    copy.duration = packet.duration
                    copy.is_keyframe = packet.is_keyframe
                    copy.stream = out_stream
                    out.mux(copy)


class MediaCache:
    """Builds benchmark media on first use and keeps it for the rest of the run."""

    def __init__(self, root: Path) -> None:
        self.root = root / "media"
        self.root.mkdir(parents=True, exist_ok=True)
        self._spans: dict[str, list[scenes.Span]] = {}

    def _cycle(self, progress: Progress | None) -> tuple[Path, Path]:
        main, sub = self.root / "cycle-main.mp4", self.root / "cycle-sub.mp4"
        if not main.exists():
            encode_cycle(main, sub, progress)
        return main, sub

    def _looped(self, name: str, order: list[int], progress: Progress | None) -> tuple[Path, Path]:
        cycle = self._cycle(progress)
        paths = (self.root / f"{name}-main.mp4", self.root / f"{name}-sub.mp4")
        for source, target in zip(cycle, paths, strict=True):
            if not target.exists():
                remux_gops(source, target, order)
        return paths

    def camera(self, index: int, cycles: int = 2, progress: Progress | None = None) -> CameraClip:
        """Camera ``index``'s clip: ``cycles`` cycles, people at its own phase of each."""
        phase = (index * 4) % PHASES  # 4 and 9 are coprime: the first 9 cameras differ
        people_at = PEOPLE_AT + PEOPLE_SECONDS * phase
        start = (PEOPLE_AT - people_at) % CYCLE_SECONDS
        order = [(start + n) % CYCLE_SECONDS for n in range(CYCLE_SECONDS * cycles)]
        main, sub = self._looped(f"phase{phase}-x{cycles}", order, progress)
        people = tuple(float(people_at + c * CYCLE_SECONDS) for c in range(cycles))
        return CameraClip(main, sub, float(len(order)), people)

    def quiet(self, seconds: int, progress: Progress | None = None) -> CameraClip:
        """A clip with nobody in it: the cycle's quiet seconds looped."""
        quiet = list(range(PEOPLE_AT + PEOPLE_SECONDS, CYCLE_SECONDS))
        order = [quiet[n % len(quiet)] for n in range(seconds)]
        main, sub = self._looped(f"quiet{seconds}", order, progress)
        return CameraClip(main, sub, float(seconds), ())

    def scene(
        self, name: str, script: list[tuple[scenes.Part, float]]
    ) -> tuple[Path, list[scenes.Span]]:
        """A ``hearthcam.scenes`` scene (768x576, 10 fps) and its ground-truth spans."""
        path = self.root / f"scene-{name}.mp4"
        if name not in self._spans:
            self._spans[name] = scenes.write_scene(path, script)
        return path, self._spans[name]
