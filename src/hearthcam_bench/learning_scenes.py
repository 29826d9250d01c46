"""The learning benchmark's clips: who is in them, where and when, and what a reviewer would say.

A ``ClipSpec`` says everything about one clip (household, camera, what happens, night or day,
wall-clock start, seed); ``truth`` gives its ground-truth ``ReviewVerdict`` by the generator's
own rules, and ``render`` draws its frames. The rules (docs/learning.md repeats them):

- a person who approaches the camera's door and lingers there is a **threat**, day or night;
- any person at night (22:00-05:00) is a **threat**;
- a person passing along the path or street in daytime is a **benign_person**;
- the cat or the dog is a **pet**; the truck driving past is a **vehicle**;
- a brightness ramp, a flash, a shadow sweeping over the scene or the tree moving in the wind
  is a **false_alarm**.

Real and composited (see ``learning_imagery``): vtest's pedestrians and tree.avi's tree are real
video; the backgrounds are real pictures; the person, cat, dog and truck are real photos cut out
roughly and moved over a background by this module (composited motion); light changes, flashes
and shadows are synthetic lighting on real pictures; night is the day picture made grey, dark
and noisy (an IR camera's look, simulated).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from hearthcam.annotate.workbench import ReviewVerdict
from hearthcam.types import BGRImage
from hearthcam_bench import learning_imagery as img

# Bump when any rule, picture or motion below changes: cached events are keyed by it.
GENERATOR_VERSION = 2
FPS = 10


class Camera(enum.StrEnum):
    """A household's three cameras, each over its own real background."""

    PATH = "path"  # vtest's walkway
    DOOR = "door"  # bikes.mp4's doorway
    GARDEN = "garden"  # tree.avi's tree


# Where each camera's door is, relative to the frame (x0, y0, x1, y1): the "door" zone.
DOOR_ZONES: dict[Camera, tuple[float, float, float, float]] = {
    Camera.PATH: (0.0, 0.82, 0.35, 1.0),
    Camera.DOOR: (0.05, 0.82, 0.5, 1.0),
    Camera.GARDEN: (0.6, 0.82, 1.0, 1.0),
}


class Action(enum.StrEnum):
    """What happens in a clip."""

    PASSERS = "passers"  # vtest's real pedestrians (PATH only)
    PASS = "pass"  # the person cut-out walking across, small, away from the door
    APPROACH = "approach"  # the person cut-out coming to the door and lingering
    CAT = "cat"
    DOG = "dog"
    TRUCK = "truck"
    RAMP = "ramp"  # light dimming and coming back (clouds, dusk)
    FLASH = "flash"  # headlights sweeping past: a bright second
    SHADOW = "shadow"  # a dark band sweeping over the scene
    WIND = "wind"  # tree.avi's real tree moving (GARDEN only)


PEOPLE = frozenset({Action.PASSERS, Action.PASS, Action.APPROACH})
LIGHT = frozenset({Action.RAMP, Action.FLASH, Action.SHADOW, Action.WIND})


@dataclass(frozen=True)
class ClipSpec:
    """One generated clip: enough to render it again exactly and to label it."""

    id: str
    household: str
    camera: Camera
    action: Action
    night: bool
    wall_start: float  # Unix time the clip's first frame shows
    seconds: float
    seed: int

    @property
    def camera_id(self) -> str:
        """The camera's name, unique across households."""
        return f"{self.household}-{self.camera.value}"


def truth(spec: ClipSpec) -> ReviewVerdict:
    """The clip's ground truth, by the rules in this module's docstring."""
    if spec.action is Action.APPROACH or (spec.action in PEOPLE and spec.night):
        return ReviewVerdict.THREAT
    if spec.action in PEOPLE:
        return ReviewVerdict.BENIGN_PERSON
    if spec.action in (Action.CAT, Action.DOG):
        return ReviewVerdict.PET
    if spec.action is Action.TRUCK:
        return ReviewVerdict.VEHICLE
    return ReviewVerdict.FALSE_ALARM


def background(camera: Camera) -> BGRImage:
    """The camera's still background."""
    if camera is Camera.PATH:
        return img.walkway()
    if camera is Camera.DOOR:
        return img.doorway()
    return img.garden()


def _night(image: BGRImage, rng: np.random.Generator) -> BGRImage:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) * 0.45 + 8
    noisy = grey + rng.normal(0, 4.0, grey.shape).astype(np.float32)
    return np.asarray(cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR))


def _day(image: BGRImage, rng: np.random.Generator) -> BGRImage:
    noise = rng.normal(0, 2.0, image.shape).astype(np.int16)
    return np.asarray(np.clip(image.astype(np.int16) + noise, 0, 255), dtype=np.uint8)


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * min(1.0, max(0.0, t))


def _walker(spec: ClipSpec, rng: np.random.Generator, frames: int) -> Iterator[BGRImage]:
    """A cut-out moving over the background (person, pets, truck)."""
    base = background(spec.camera)
    w, h = img.SIZE
    leftward = bool(rng.integers(2))
    zone = DOOR_ZONES[spec.camera]
    if spec.action is Action.APPROACH:
        sprite = img.person()
        door_x = (zone[0] + zone[2]) / 2 * w
        start_x = float(rng.uniform(0.35, 0.9)) * w
        arrive = 0.5 + float(rng.uniform(-0.1, 0.1))  # the rest of the clip it lingers
    else:
        sprite = {
            Action.PASS: img.person,
            Action.CAT: img.cat,
            Action.DOG: img.dog,
            Action.TRUCK: img.truck,
        }[spec.action]()
        scale = {Action.PASS: 0.36, Action.CAT: 0.22, Action.DOG: 0.3, Action.TRUCK: 0.3}
        height = round(h * scale[spec.action] * float(rng.uniform(0.9, 1.1)))
        small = sprite.scaled(height)
        ground = float(rng.uniform(0.55, 0.72)) * h  # above the door zone
        span = w + small.image.shape[1]
    for i in range(frames):
        t = i / max(1, frames - 1)
        if spec.action is Action.APPROACH:
            p = min(1.0, t / arrive)
            height = round(_lerp(0.28, 0.72, p) * h)
            person = sprite.scaled(height)
            cx = _lerp(start_x, door_x, p) + (3 * math.sin(i * 0.7) if p >= 1 else 0)
            bottom = round(_lerp(0.62, 0.97, p) * h)
            frame = img.paste(base, person, round(cx - person.image.shape[1] / 2), bottom)
        else:
            x = -small.image.shape[1] + span * (1 - t if leftward else t)
            frame = img.paste(base, small, round(x), round(ground))
        yield frame


def _lighting(spec: ClipSpec, rng: np.random.Generator, frames: int) -> Iterator[BGRImage]:
    """Light and shadow over the still background, or tree.avi's tree in the wind."""
    if spec.action is Action.WIND:
        tree = img.tree_frames()
        cycle = [*tree, *tree[-2:0:-1]]  # back and forth: the clip never jumps
        offset = int(rng.integers(len(cycle)))
        for i in range(frames):
            yield cycle[(offset + i) % len(cycle)]
        return
    base = background(spec.camera).astype(np.float32)
    w = img.SIZE[0]
    columns = np.arange(w, dtype=np.float32)[None, :, None]
    flash_at = float(rng.uniform(0.3, 0.6)) * frames
    for i in range(frames):
        t = i / max(1, frames - 1)
        if spec.action is Action.RAMP:
            gain: float | np.ndarray = 1.0 - 0.45 * math.sin(math.pi * t)
        elif spec.action is Action.FLASH:
            gain = 1.0 + 0.8 * math.exp(-(((i - flash_at) / 4.0) ** 2))
        else:  # a soft dark band 160 px wide crossing the frame
            centre = _lerp(-200, w + 200, t)
            gain = 1.0 - 0.5 * np.exp(-(((columns - centre) / 80.0) ** 2))
        yield np.asarray(np.clip(base * gain, 0, 255), dtype=np.uint8)


def render(spec: ClipSpec) -> Iterator[BGRImage]:
    """The clip's frames at ``img.SIZE`` and ``FPS``, night look and sensor noise included."""
    rng = np.random.default_rng(spec.seed)
    frames = round(spec.seconds * FPS)
    if spec.action is Action.PASSERS:
        # vtest has 795 frames; any window of it has people walking along the path.
        source: Iterator[BGRImage] = iter(
            img.pedestrians(int(rng.integers(0, 795 - frames)), frames)
        )
    elif spec.action in LIGHT:
        source = _lighting(spec, rng, frames)
    else:
        source = _walker(spec, rng, frames)
    look = _night if spec.night else _day
    for frame in source:
        yield look(frame, rng)


# How often each camera sees each action: as at home, mostly light, wind, passers-by and pets;
# someone coming to the door is the rare case (about 1 clip in 12).
MIX: dict[Camera, dict[Action, float]] = {
    Camera.PATH: {
        Action.PASSERS: 0.3, Action.PASS: 0.1, Action.APPROACH: 0.06, Action.CAT: 0.06,
        Action.DOG: 0.06, Action.TRUCK: 0.04, Action.RAMP: 0.14, Action.FLASH: 0.1,
        Action.SHADOW: 0.14,
    },
    Camera.DOOR: {
        Action.PASS: 0.3, Action.APPROACH: 0.1, Action.CAT: 0.08, Action.DOG: 0.08,
        Action.TRUCK: 0.04, Action.RAMP: 0.14, Action.FLASH: 0.13, Action.SHADOW: 0.13,
    },
    Camera.GARDEN: {
        Action.PASS: 0.2, Action.APPROACH: 0.07, Action.CAT: 0.1, Action.DOG: 0.1,
        Action.WIND: 0.3, Action.RAMP: 0.1, Action.SHADOW: 0.13,
    },
}  # fmt: skip
NIGHT_SHARE = 0.2
DAYS = 7
EPOCH = 1_780_272_000.0  # 2026-06-01 00:00 UTC; the benchmark's clocks run in UTC


def _wall(rng: np.random.Generator, night: bool) -> float:
    day = int(rng.integers(DAYS))
    # Night is 22:00-05:00, day 08:00-18:00: both well inside the rules' definitions.
    hour = float(rng.uniform(22, 29)) % 24 if night else float(rng.uniform(8, 18))
    return EPOCH + day * 86_400 + hour * 3600


def plan(households: int, clips: int, seed: int = 1, seconds: float = 10.0) -> list[ClipSpec]:
    """``clips`` clips for each of ``households`` households, drawn from MIX (deterministic)."""
    rng = np.random.default_rng(seed)
    specs = []
    for h in range(households):
        for c in range(clips):
            camera = list(Camera)[int(rng.integers(len(Camera)))]
            mix = MIX[camera]
            weights = np.array(list(mix.values()))
            action = list(mix)[int(rng.choice(len(mix), p=weights / weights.sum()))]
            night = bool(rng.random() < NIGHT_SHARE)
            specs.append(
                ClipSpec(
                    id=f"h{h:02d}-c{c:02d}",
                    household=f"h{h:02d}",
                    camera=camera,
                    action=action,
                    night=night,
                    wall_start=_wall(rng, night),
                    seconds=seconds,
                    seed=int(rng.integers(2**31)),
                )
            )
    return specs


def write_clip(spec: ClipSpec, path: Path) -> None:
    """Encodes the clip as H.264 MP4 (keyframe every second), as a camera's sub-stream."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = img.SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = FPS
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.options = {"preset": "veryfast", "crf": "23", "bf": "0", "sc_threshold": "0"}
        for image in render(spec):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode(None))
