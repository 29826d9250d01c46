"""Test scenes built from real imagery that ships with hearthcam's dependencies (no download).

Used by ``hearthcam demo``, the benchmarks and the integration tests. What is real and what is
composited, stated plainly:
- pedestrians: real video, Debian opencv-doc's vtest.avi (a fixed camera over a walkway);
- the empty walkway: the per-pixel median of vtest.avi's frames (real pixels, people removed);
- the pet: scikit-image's real photo of a cat (chelsea) pasted onto the empty walkway and moved
  across it (composited motion);
- light change: the empty walkway with a slow brightness ramp and sensor-like noise (synthetic
  lighting on a real picture).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

from hearthcam.errors import SourceUnreadable
from hearthcam.types import BGRImage

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SIZE = (768, 576)
FPS = 10


class Part(enum.StrEnum):
    """What a stretch of a scene shows, and so which verdict an event there should get."""

    QUIET = "quiet"
    PEOPLE = "people"
    PET = "pet"
    LIGHT = "light"


@dataclass(frozen=True)
class Span:
    """A stretch of a scene: what it shows, from ``start`` to ``end`` seconds."""

    part: Part
    start: float
    end: float


def vtest_frames(start: int = 0, count: int | None = None) -> Iterator[BGRImage]:
    """Frames of vtest.avi (real pedestrians), BGR 768x576 at 10 fps."""
    if not VTEST.exists():
        raise SourceUnreadable(
            f"{VTEST} is missing: install Debian's opencv-doc (scripts/setup.sh does)"
        )
    capture = cv2.VideoCapture(str(VTEST))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    taken = 0
    while count is None or taken < count:
        ok, image = capture.read()
        if not ok:
            break
        taken += 1
        yield np.ascontiguousarray(image, dtype=np.uint8)
    capture.release()


@cache
def empty_walkway() -> BGRImage:
    """vtest.avi with the people removed: the per-pixel median of frames spread over the video."""
    frames = [f for i, f in enumerate(vtest_frames()) if i % 16 == 0]
    median = np.median(np.stack(frames), axis=0)
    return np.asarray(median, dtype=np.uint8)


@cache
def cat_photo(height: int = 150) -> BGRImage:
    """scikit-image's photo of Chelsea the cat, BGR, scaled to ``height`` pixels."""
    from skimage import data

    rgb = np.asarray(data.chelsea(), dtype=np.uint8)  # type: ignore[no-untyped-call]
    width = round(rgb.shape[1] * height / rgb.shape[0])
    small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small[:, :, ::-1])


def quiet(seconds: float, rng: np.random.Generator) -> Iterator[BGRImage]:
    """The empty walkway with mild sensor noise."""
    base = empty_walkway().astype(np.int16)
    for _ in range(round(seconds * FPS)):
        noise = rng.normal(0, 2.0, base.shape).astype(np.int16)
        yield np.clip(base + noise, 0, 255).astype(np.uint8)


def pet_walk(seconds: float, rng: np.random.Generator) -> Iterator[BGRImage]:
    """The cat photo crossing the empty walkway left to right along the ground."""
    base = empty_walkway()
    cat = cat_photo()
    ch, cw = cat.shape[:2]
    frames = round(seconds * FPS)
    y = SIZE[1] - ch - 60
    for i in range(frames):
        x = round(-cw * 0.2 + (SIZE[0] - cw * 0.6) * i / max(1, frames - 1))
        frame = base.copy()
        x0, x1 = max(0, x), min(SIZE[0], x + cw)
        frame[y : y + ch, x0:x1] = cat[:, x0 - x : x1 - x]
        noise = rng.normal(0, 2.0, frame.shape).astype(np.int16)
        yield np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def light_change(seconds: float, rng: np.random.Generator) -> Iterator[BGRImage]:
    """The empty walkway dimming and brightening slowly (clouds, dusk), with noise."""
    base = empty_walkway().astype(np.float32)
    frames = round(seconds * FPS)
    for i in range(frames):
        gain = 1.0 - 0.35 * np.sin(np.pi * i / max(1, frames - 1))
        noise = rng.normal(0, 3.0, base.shape).astype(np.float32)
        yield np.clip(base * gain + noise, 0, 255).astype(np.uint8)


def demo_script() -> list[tuple[Part, float]]:
    """The demo scene: quiet, pedestrians, quiet, a cat, quiet, a slow light change, quiet."""
    return [
        (Part.QUIET, 3.0),
        (Part.PEOPLE, 10.0),
        (Part.QUIET, 12.0),
        (Part.PET, 8.0),
        (Part.QUIET, 12.0),
        (Part.LIGHT, 15.0),
        (Part.QUIET, 4.0),
    ]


#: The vtest.avi frame a stretch of pedestrians starts at unless a scene says otherwise.
PEOPLE_FROM = 100


def frames_for(
    part: Part, seconds: float, rng: np.random.Generator, people_from: int = PEOPLE_FROM
) -> Iterator[BGRImage]:
    """The frames of one part (pedestrians from vtest.avi frame ``people_from`` on)."""
    if part is Part.PEOPLE:
        return vtest_frames(start=people_from, count=round(seconds * FPS))
    if part is Part.PET:
        return pet_walk(seconds, rng)
    if part is Part.LIGHT:
        return light_change(seconds, rng)
    return quiet(seconds, rng)


def write_scene(
    path: Path,
    script: list[tuple[Part, float]],
    seed: int = 7,
    gop: int = FPS,
    people_from: Sequence[int] = (),
) -> list[Span]:
    """Encodes a scene to an H.264 MP4 (keyframe every ``gop`` frames); returns its spans.

    The n-th stretch of pedestrians starts at vtest.avi frame ``people_from[n]`` (else at
    ``PEOPLE_FROM``), so visits of a scene can show different people."""
    starts = iter(people_from)
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    spans: list[Span] = []
    t = 0.0
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.options = {"preset": "veryfast", "crf": "23", "bf": "0", "sc_threshold": "0"}
        for part, seconds in script:
            first = next(starts, PEOPLE_FROM) if part is Part.PEOPLE else PEOPLE_FROM
            for image in frames_for(part, seconds, rng, first):
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                container.mux(stream.encode(frame))
            spans.append(Span(part, t, t + seconds))
            t += seconds
        container.mux(stream.encode(None))
    return spans
