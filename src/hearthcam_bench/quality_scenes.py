"""The composited scenes of the ``quality`` benchmark, each with the truth its script gives.

- light change and pet: ``hearthcam.scenes`` scripts (the real empty walkway of vtest.avi with
  a slow synthetic brightness ramp; scikit-image's real cat photo moved across it);
- darknet's dog, pick-up truck and woman (Debian darknet's dog.jpg and person.jpg, cut out as
  in ``learning_imagery``) moved across the real empty walkway, after and before a quiet walkway.

What is real: the pictures. What is not: the motion (a still cut-out slid along the ground).
The truth is the script: the object's part is one visit of its class (the cut-out is at least
70 % in frame all through it), the quiet parts are empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from hearthcam import scenes
from hearthcam_bench import learning_imagery as imagery
from hearthcam_bench.media import MediaCache
from hearthcam_bench.quality_truth import Footage, Kind, Stretch, Visit

FPS = 10
QUIET_BEFORE, QUIET_AFTER = 3.0, 4.0


@dataclass(frozen=True)
class Crossing:
    """A cut-out crossing the walkway: its class, its height in pixels and how long it takes."""

    kind: Kind
    sprite: Callable[[], imagery.Sprite]
    height: int
    seconds: float
    note: str


CROSSINGS = {
    "darknet dog": Crossing(Kind.ANIMAL, imagery.dog, 150, 6.0, "darknet's dog walks across"),
    "darknet truck": Crossing(
        Kind.VEHICLE, imagery.truck, 120, 4.0, "darknet's pick-up truck drives across"
    ),
    "darknet woman": Crossing(
        Kind.PERSON, imagery.person, 230, 8.0, "darknet's woman walks across"
    ),
}


def _frames(crossing: Crossing, rng: np.random.Generator) -> list[np.ndarray]:
    base = imagery.walkway()
    sprite = crossing.sprite().scaled(crossing.height)
    width = sprite.image.shape[1]
    quiet = [base] * round(QUIET_BEFORE * FPS)
    moving = []
    count = round(crossing.seconds * FPS)
    for i in range(count):
        x = round(-0.3 * width + (imagery.SIZE[0] - 0.4 * width) * i / max(1, count - 1))
        moving.append(imagery.paste(base, sprite, x, imagery.SIZE[1] - 20))
    after = [base] * round(QUIET_AFTER * FPS)
    noisy = []
    for frame in [*quiet, *moving, *after]:
        noise = rng.normal(0, 2.0, frame.shape).astype(np.int16)
        noisy.append(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    return noisy


def write_crossing(path: Path, crossing: Crossing, seed: int = 11) -> None:
    """Encodes the crossing as a 10 fps H.264 MP4 (keyframe every second)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = imagery.SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = FPS
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.options = {"preset": "veryfast", "crf": "23", "bf": "0", "sc_threshold": "0"}
        for image in _frames(crossing, np.random.default_rng(seed)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        container.mux(stream.encode(None))


def crossing_truth(name: str, path: Path, crossing: Crossing) -> Footage:
    """The truth of a crossing scene, from its script."""
    end = QUIET_BEFORE + crossing.seconds
    length = end + QUIET_AFTER
    visit = Visit(QUIET_BEFORE, end, crossing.note, crossing.kind)
    empty = (Stretch(0.0, QUIET_BEFORE), Stretch(end, length))
    return Footage(name, path, length, (visit,), empty, "from the script (composited)")


def script_truth(name: str, path: Path, spans: list[scenes.Span]) -> Footage:
    """The truth of a ``hearthcam.scenes`` scene: its pet and people parts are visits, the
    quiet and light parts empty."""
    kinds = {scenes.Part.PET: Kind.ANIMAL, scenes.Part.PEOPLE: Kind.PERSON}
    visits = tuple(
        Visit(s.start, s.end, s.part.value, kinds[s.part]) for s in spans if s.part in kinds
    )
    empty = tuple(Stretch(s.start, s.end, s.part.value) for s in spans if s.part not in kinds)
    return Footage(name, path, spans[-1].end, visits, empty, "from the script (composited)")


def composited(media: MediaCache, quick: bool) -> list[Footage]:
    """Every composited scene (``quick``: the light change, shorter, and the pet only)."""
    q = scenes.Part.QUIET
    light = 10.0 if quick else 20.0
    scripts = {
        "light change": [(q, 3.0), (scenes.Part.LIGHT, light), (q, 3.0)],
        "pet": [(q, 3.0), (scenes.Part.PET, 8.0), (q, 4.0)],
    }
    found = []
    for name, script in scripts.items():
        path, spans = media.scene(f"quality-{name.replace(' ', '-')}", script)
        found.append(script_truth(name, path, spans))
    if quick:
        return found
    for name, crossing in CROSSINGS.items():
        path = media.root / f"quality-{name.replace(' ', '-')}.mp4"
        if not path.exists():
            write_crossing(path, crossing)
        found.append(crossing_truth(name, path, crossing))
    return found
