"""Scenario ``gating``: useful detections per CPU-second, motion-gated vs detecting every frame.

The scene (``hearthcam.scenes``: the empty walkway with two 3 s stretches of vtest.avi
pedestrians, 10 % of the time; 30 s and one stretch in quick mode) is decoded once at the detect
rate and size. hearthcam runs the real ``CameraPipeline.analyse`` (motion -> regions -> detector
-> tracker -> events, snapshots and the store included); the baseline runs the same detector
full-frame on every frame and nothing else. Decoding is the same for both and is not counted.

A *useful detection* is a detection of a tracked label with at least that label's min score on a
frame whose scene part is PEOPLE or PET (the scene's ground-truth spans).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from numpy.typing import NDArray

from hearthcam import app, scenes
from hearthcam.config import CameraConfig, Config, InputConfig, ObjectsConfig
from hearthcam.labels import COCO_LABELS
from hearthcam.pipeline.detect import Detector
from hearthcam.pipeline.source import FrameSampler
from hearthcam.types import BGRImage, Detections, Frame
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import median
from hearthcam_bench.report import Report

Q, P = scenes.Part.QUIET, scenes.Part.PEOPLE
FULL_SCRIPT = [(Q, 12.0), (P, 3.0), (Q, 24.0), (P, 3.0), (Q, 18.0)]
QUICK_SCRIPT = [(Q, 12.0), (P, 3.0), (Q, 15.0)]
USEFUL_PARTS = (scenes.Part.PEOPLE, scenes.Part.PET)


def min_scores(objects: ObjectsConfig) -> dict[int, float]:
    """Class id -> the min score a detection of that tracked label needs."""
    out = {}
    for label in objects.track:
        rule = objects.filters.get(label)
        out[COCO_LABELS.index(label)] = rule.min_score if rule else objects.min_score
    return out


@dataclass
class Tally:
    """What one way of running the detector cost and found."""

    cpu: float = 0.0
    inferences: int = 0
    useful: int = 0
    useful_frames: set[int] = field(default_factory=set)


class CountingDetector:
    """Wraps a Detector; counts the useful detections it returns on the current frame."""

    def __init__(self, inner: Detector, wanted: dict[int, float], tally: Tally) -> None:
        self._inner = inner
        self._wanted = wanted
        self._tally = tally
        self.inferences = 0
        self.frame: tuple[int, bool] = (0, False)  # (index, part counts) of the frame at hand

    def _count(self, found: Detections) -> Detections:
        index, counts = self.frame
        if counts:
            needed = np.array([self._wanted.get(int(c), np.inf) for c in found.class_id])
            hits = int(np.count_nonzero(found.confidence >= needed)) if len(found) else 0
            self._tally.useful += hits
            if hits:
                self._tally.useful_frames.add(index)
        return found

    def detect(self, image: BGRImage) -> Detections:
        """Full-frame detection, counted."""
        before = self._inner.inferences
        found = self._inner.detect(image)
        self.inferences += self._inner.inferences - before
        return self._count(found)

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        """Region detection, counted."""
        before = self._inner.inferences
        found = self._inner.detect_regions(image, boxes)
        self.inferences += self._inner.inferences - before
        return self._count(found)


def decode(path: str, fps: float, size: tuple[int, int]) -> list[Frame]:
    """The detect frames of a file: sampled at ``fps``, scaled to ``size``, BGR."""
    sampler = FrameSampler(fps)
    frames: list[Frame] = []
    wall0 = time.time()
    with av.open(path) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            pts = float(frame.time)
            if sampler.keep(pts):
                scaled = frame.reformat(width=size[0], height=size[1], format="bgr24")
                image = np.asarray(scaled.to_ndarray(), dtype=np.uint8)
                frames.append(Frame("gating", len(frames), pts, wall0 + pts, image))
    return frames


def counts(spans: list[scenes.Span]) -> Callable[[float], bool]:
    """Whether a media time falls in a part whose detections are useful."""
    return lambda t: any(s.start <= t < s.end and s.part in USEFUL_PARTS for s in spans)


def run_gated(
    ctx: BenchContext, path: str, frames: list[Frame], useful_at: Callable[[float], bool]
) -> Tally:
    """hearthcam's own analysis path over the frames, through a real CameraPipeline."""
    tally = Tally()
    config = Config(
        data_dir=ctx.workdir("gating"),
        cameras={"gating": CameraConfig(inputs=[InputConfig(path=path)])},
    )
    counting = CountingDetector(ctx.detector(), min_scores(config.objects), tally)
    runtime = app.build(config, lossless=True, realtime=False, detector=counting)
    pipeline = runtime.pipelines["gating"]
    try:
        for frame in frames:
            counting.frame = (frame.index, useful_at(frame.pts))
            started = time.process_time()
            pipeline.analyse(frame)
            tally.cpu += time.process_time() - started
    finally:
        runtime.close()
    tally.inferences = counting.inferences
    return tally


def run_baseline(
    ctx: BenchContext, frames: list[Frame], useful_at: Callable[[float], bool]
) -> Tally:
    """The naive system: the detector on every frame, full frame, nothing else."""
    tally = Tally()
    counting = CountingDetector(ctx.detector(), min_scores(ObjectsConfig()), tally)
    for frame in frames:
        counting.frame = (frame.index, useful_at(frame.pts))
        started = time.process_time()
        counting.detect(frame.image)
        tally.cpu += time.process_time() - started
    tally.inferences = counting.inferences
    return tally


def _row(table: Report, name: str, runs: list[Tally], people: int, base: float | None) -> float:
    cpu = median([t.cpu for t in runs]) or 0.0
    last = runs[-1]
    per_cpu = last.useful / cpu if cpu else 0.0
    table.add(
        name,
        str(last.inferences),
        fmt.num(cpu, 2),
        str(last.useful),
        f"{len(last.useful_frames)} / {people}",
        fmt.num(per_cpu, 1),
        fmt.ratio(per_cpu / base) if base else "1.00x",
    )
    return per_cpu


def run(ctx: BenchContext) -> list[Report]:
    """Runs both ways over the scene (3 times each, once in quick mode); one table."""
    name = "gating-quick" if ctx.quick else "gating"
    path, spans = ctx.media.scene(name, QUICK_SCRIPT if ctx.quick else FULL_SCRIPT)
    detect = CameraConfig(inputs=[InputConfig(path=str(path))]).detect
    frames = decode(str(path), detect.fps, detect.size_for(*scenes.SIZE))
    useful_at = counts(spans)
    people = sum(1 for f in frames if useful_at(f.pts))
    repeats = 1 if ctx.quick else 3
    gated: list[Tally] = []
    naive: list[Tally] = []
    with ctx.progress() as bar:
        task = bar.add_task("gating: hearthcam vs every frame", total=2 * repeats)
        for _ in range(repeats):
            ctx.settle()
            gated.append(run_gated(ctx, str(path), frames, useful_at))
            bar.advance(task)
            naive.append(run_baseline(ctx, frames, useful_at))
            bar.advance(task)
    seconds = spans[-1].end
    table = Report(
        f"gating: useful detections per CPU-second ({seconds:.0f} s scene, {len(frames)} detect "
        f"frames at {detect.fps:g} fps, people in {people} of them)",
        [
            "path",
            "model runs",
            "CPU-s",
            "useful dets",
            "people frames found",
            "useful/CPU-s",
            "ratio",
        ],
    )
    base = _row(table, "baseline: detector on every frame", naive, people, None)
    _row(table, "hearthcam: motion → regions → detector", gated, people, base)
    table.notes += [
        f"CPU-s: median of {repeats} run(s), process CPU of the analysis calls only (decoding "
        "is common to both and left out); hearthcam's includes motion, tracking, events, "
        "snapshots and the store.",
        "Model runs: ONNX Runtime session runs (a region crop is one run, a full frame one).",
        "Scene: hearthcam.scenes (real vtest.avi pedestrians cut into the real empty walkway "
        "with added noise); ground truth from its spans.",
    ]
    return [table]
