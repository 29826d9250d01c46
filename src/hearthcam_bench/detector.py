"""Scenario ``detector``: the detector alone, full-frame inference on real frames (vtest.avi).

Frames/s, per-call latency p50/p95 and CPU per frame, at the two frame sizes hearthcam sees
(a 640x360 sub-stream, vtest's own 768x576), with ONNX Runtime's default intra-op threads (one
per core) and with one thread; and with two callers at once, as two cameras' analysis threads
share one detector. Then the built-in tiers side by side (NanoDet-m 416, MobileNetV3-CenterNet
512): CPU per frame, cameras a 2-core box sustains, and group recall on the same hand-labelled
real footage (``detector_footage``).
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from hearthcam import scenes
from hearthcam.config import BUILTIN_DETECTORS, DetectorConfig
from hearthcam.pipeline.detect import OnnxDetector, load_detector
from hearthcam.types import BGRImage, Detections
from hearthcam_bench import detector_footage as footage
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import Meter, Usage, percentile
from hearthcam_bench.media import PEOPLE_FIRST_FRAME
from hearthcam_bench.report import Report

CASES = (  # (frame size, ORT intra-op threads (0 = default), concurrent callers)
    ((640, 360), 0, 1),
    ((640, 360), 1, 1),
    ((768, 576), 0, 1),
    ((768, 576), 1, 1),
    ((640, 360), 0, 2),
    ((640, 360), 1, 2),
)
WARMUP = 3
DETECT_FPS = 5  # the analysed sub-stream's rate
MIN_SCORES = (0.3, 0.4, 0.5)  # the detector's floor, the pets' filter, objects.min_score
CORES = 2


def _resize(image: BGRImage, size: tuple[int, int]) -> BGRImage:
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _caller(detector: OnnxDetector, images: list[BGRImage], until: float, out: list[float]) -> None:
    i = 0
    while time.perf_counter() < until:
        started = time.perf_counter()
        detector.detect(images[i % len(images)])
        out.append(time.perf_counter() - started)
        i += 1


def time_detector(
    detector: OnnxDetector, images: list[BGRImage], seconds: float, callers: int
) -> tuple[list[float], Usage]:
    """Per-call latencies and usage of ``callers`` threads calling ``detect`` for ``seconds``."""
    for image in images[:WARMUP]:
        detector.detect(image)
    latencies: list[list[float]] = [[] for _ in range(callers)]
    meter = Meter().start()
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=_caller, args=(detector, images, until, latencies[i]))
        for i in range(callers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [t for lat in latencies for t in lat], meter.stop()


def _recall(got: footage.Score, group: str) -> str:
    return (
        f"{got.found[group]}/{got.expected[group]} ({fmt.pct(100 * (got.recall(group) or 0), 0)})"
    )


def _by_score(found: dict[str, list[tuple[footage.Labelled, Detections]]]) -> Report:
    """Group recall when only detections over each score threshold count."""
    table = Report(
        "detector tiers: recall on the same footage by minimum score",
        ["model", "min score", "person", "vehicle", "animal", "false groups"],
    )
    for name, results in found.items():
        for floor in MIN_SCORES:
            got = footage.score([(item, dets[dets.confidence >= floor]) for item, dets in results])
            table.add(
                name, f"{floor:.1f}", *(_recall(got, g) for g in footage.GROUPS), str(got.false)
            )
    table.notes.append(
        "The same detections as the table above, kept only over each score: 0.3 is the "
        "detector's own floor, 0.4 the default filter for cats and dogs, 0.5 the default "
        "objects.min_score every other label (person, car, truck ...) must reach to make a track."
    )
    return table


def _tiers(ctx: BenchContext, frames: list[BGRImage]) -> list[Report]:
    """Each built-in model: speed on 640x360 vtest frames and recall on the labelled footage."""
    labelled = footage.footage()
    found: dict[str, list[tuple[footage.Labelled, Detections]]] = {}
    table = Report(
        "detector tiers: the built-in models on the same real footage (CPU, ONNX Runtime)",
        ["model", "input", "p50 1 thr", "CPU/frame 1 thr", "p50 2 thr", "cameras @5 fps",
         "person", "vehicle", "animal", "false groups", "people/vtest frame"],
    )  # fmt: skip
    images = [_resize(f, (640, 360)) for f in frames]
    seconds = ctx.seconds(5.0, 1.5)
    for name in BUILTIN_DETECTORS:
        one = load_detector(DetectorConfig(model=name, threads=1))
        ctx.settle()
        lat1, usage1 = time_detector(one, images, seconds, 1)
        two = load_detector(DetectorConfig(model=name, threads=CORES))
        ctx.settle()
        lat2, _ = time_detector(two, images, seconds, 1)
        cpu_ms = 1000 * usage1.cpu / max(1, len(lat1))
        cameras = int(CORES * 1000 // (cpu_ms * DETECT_FPS)) if cpu_ms > 0 else 0
        found[name] = [(item, one.detect(item.image)) for item in labelled]
        got = footage.score(found[name])
        table.add(
            name,
            str(one.input_size),
            fmt.ms(percentile(lat1, 50)),
            fmt.ms(cpu_ms / 1000),
            fmt.ms(percentile(lat2, 50)),
            str(cameras),
            *(_recall(got, g) for g in footage.GROUPS),
            str(got.false),
            fmt.num(got.people_per_vtest_frame),
        )
    counts = {g: sum(g in item.groups for item in labelled) for g in footage.GROUPS}
    table.notes += [
        f"Footage: {len(labelled)} real images, labelled by hand with the groups in view "
        f"(person {counts['person']}, vehicle {counts['vehicle']}, animal {counts['animal']}): "
        "20 vtest.avi frames (pedestrians; a van and a car parked at the top, seen from "
        "above), 8 bikes.mp4 frames (cars, including small ones seen over a fence, a cyclist, "
        "a parked bicycle), 10 photos (darknet, opencv-doc, scikit-image). A group is found "
        "when any label of it is detected (score >= 0.3); 'false groups' counts groups "
        "detected in an image where none is in view.",
        f"cameras @5 fps: how many cameras' detect streams {CORES} cores could run if every "
        "frame went to the detector (1 ORT thread per camera, CPU/frame x 5 fps); motion "
        "gating sends far fewer frames, see the cameras scenario.",
    ]
    return [table, _by_score(found)]


BATCHES = (1, 2, 4, 8, 16)


def _batches(ctx: BenchContext, frames: list[BGRImage]) -> Report:
    """NanoDet-m run as batches (the node's detector service, ``cluster.detector``)."""
    table = Report(
        "detector: NanoDet-m as batches (the cluster's detector service), CPU, ORT default "
        "threads, 640x360 vtest frames",
        ["batch", "images/s", "CPU/image", "wall/image", "CPU/image vs batch 1"],
    )
    images = [_resize(f, (640, 360)) for f in frames]
    seconds = ctx.seconds(5.0, 1.5)
    base: float | None = None
    for batch in BATCHES:
        detector = load_detector(DetectorConfig(), batch=batch)
        if detector.max_batch != batch:
            raise RuntimeError(f"NanoDet-m did not take a batch of {batch}")
        requests: list[tuple[BGRImage, None]] = [(image, None) for image in images]
        chunks = [requests[i : i + batch] for i in range(0, len(requests) - batch + 1, batch)]
        detector.detect_many(chunks[0])  # the first run at a batch shape allocates
        ctx.settle()
        done = 0
        meter = Meter().start()
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            detector.detect_many(chunks[done // batch % len(chunks)])
            done += batch
        usage = meter.stop()
        cpu = usage.cpu / done
        base = base or cpu
        table.add(
            str(batch),
            fmt.num(done / usage.wall),
            fmt.ms(cpu),
            fmt.ms(usage.wall / done),
            f"{cpu / base:.2f}x",
        )
    table.notes.append(
        "The packaged graph made to take a batch (pipeline.batch_model; each batch's answers "
        "equal the single images', checked at load and in tests/pipeline/test_batch_model.py). "
        "The node's service batches what its cameras send while a run goes "
        "(pipeline.batcher), up to 16."
    )
    return table


def run(ctx: BenchContext) -> list[Report]:
    """Measures every case and every built-in model, and NanoDet-m as batches; four tables."""
    seconds = ctx.seconds(5.0, 1.5)
    frames = list(scenes.vtest_frames(PEOPLE_FIRST_FRAME, 20))
    table = Report(
        "detector: full-frame inference, NanoDet-m 416 on ONNX Runtime (CPU), vtest.avi frames",
        ["frame", "ORT threads", "callers", "frames/s", "p50", "p95", "CPU/frame", "CPU", "others"],
    )
    with ctx.progress() as bar:
        task = bar.add_task("detector", total=len(CASES))
        for size, threads, callers in CASES:
            detector = ctx.detector(threads)
            images = [_resize(f, size) for f in frames]
            ctx.settle()
            lat, usage = time_detector(detector, images, seconds, callers)
            table.add(
                f"{size[0]}x{size[1]}",
                "default" if threads == 0 else str(threads),
                str(callers),
                fmt.num(len(lat) / usage.wall),
                fmt.ms(percentile(lat, 50)),
                fmt.ms(percentile(lat, 95)),
                fmt.ms(usage.cpu / max(1, len(lat))),
                fmt.pct(usage.cpu_percent, 0),
                fmt.pct(usage.others_percent, 0),
            )
            bar.advance(task)
    table.notes.insert(
        0,
        "Every frame is resized to the model's 416x416 input, so the source size only changes "
        "pre-processing. ORT threads: default = one intra-op thread per core. CPU is process "
        "CPU time (% of one core); latency is wall per call; 'others' is the CPU other "
        "processes on the machine used meanwhile.",
    )
    return [table, *_tiers(ctx, frames), _batches(ctx, frames)]
