"""The workbench's pre-labels come from the original frames, found before redaction and stored
with the published copy: on real pedestrians (opencv-doc's vtest.avi) they hold the people that
detecting again on the blurred copy misses, and they sit on the people (checked against the
pixels that differ from the empty walkway, not against the detector itself)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import pytest
from numpy.typing import NDArray

from hearthcam.annotate.desk import ReviewDesk, from_original
from hearthcam.annotate.watermark import MarkedClip, mark_clip
from hearthcam.annotate.workbench import keyframe_indexes
from hearthcam.config import ReviewConfig
from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.detect import OnnxDetector, ScriptedDetector
from hearthcam.privacy.consent import Sharing, redacted_path
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.privacy.review import ShareChecks, report
from hearthcam.scenes import vtest_frames
from hearthcam.store.annotations import AnnotationStore
from hearthcam.store.db import Store
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.prepare import ClipPreparer
from hearthcam.vision.redact import (
    ClipPolicy,
    FrameBox,
    PreLabels,
    Redactor,
    _ClipRedaction,
    spread_frames,
)
from hearthcam.vision.sensitive import SensitiveScanner
from hearthcam_bench.redact import write_h264
from tests.privacy.conftest import NOW, agreed, event_with_clip
from tests.support.required import missing

pytestmark = pytest.mark.integration

START, COUNT = 200, 30  # 3 s of vtest.avi at 10 fps, 768x576, five to seven people in view


@pytest.fixture(scope="module")
def walkway() -> tuple[list[BGRImage], NDArray[np.int16]]:
    """The clip's frames, and the empty walkway (the median of every 10th frame of vtest)."""
    try:
        frames = list(vtest_frames(START, COUNT))
        background = np.median(np.stack(list(vtest_frames(0))[::10]), axis=0)
    except SourceUnreadable as error:
        missing(str(error))
    return frames, background.astype(np.int16)


def _moving(image: BGRImage, background: NDArray[np.int16], xyxy: tuple[float, ...]) -> float:
    """The share of a relative box's pixels that differ from the empty walkway."""
    height, width = image.shape[:2]
    x0, y0 = int(xyxy[0] * width), int(xyxy[1] * height)
    x1, y1 = int(xyxy[2] * width), int(xyxy[3] * height)
    differs = np.abs(image.astype(np.int16) - background).max(axis=2) > 30
    return float(differs[y0:y1, x0:x1].mean())


def test_pre_labels_of_a_published_clip_hold_the_people_the_blurred_copy_hides(
    sharing: Sharing,
    store: Store,
    data_dir: Path,
    tmp_path: Path,
    walkway: tuple[list[BGRImage], NDArray[np.int16]],
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
) -> None:
    frames, background = walkway
    clip = write_h264(tmp_path / "walkway.mp4", frames, 10)
    event = event_with_clip(data_dir, clip)
    share = sharing.share(event, 1, 7, "Front door", agreed(sharing, event), NOW)
    [outcome] = ShareChecks(sharing, lambda: ClipPreparer(scanner, faces, people)).run_once()
    assert outcome.status is ShareStatus.PUBLISHED
    stored = sharing.shares.get(share.id)
    assert stored is not None
    assert stored.prelabels is not None
    kept = PreLabels.from_json(stored.prelabels)
    assert (kept.width, kept.height) == (768, 576)  # the redacted copy's frame: same size
    assert set(stored.prelabels) == {"frames", "width", "height", "boxes"}  # never pixels

    # The annotator's lease carries the stored boxes, on the workbench's keyframes.
    desk = ReviewDesk(
        AnnotationStore(store), sharing.shares, store, data_dir, sharing.media, ReviewConfig(),
        detector=lambda: people,
    )  # fmt: skip
    lease = desk.take(1, "ann", NOW)
    shown = lease.shown
    assert shown["keyframes"] == keyframe_indexes(COUNT, 4) == spread_frames(COUNT, 4)
    original = [b for b in shown["boxes"] if b["label"] == "person"]

    # What detecting again on the blurred copy (the workbench's old way) finds there.
    with sharing.media.open(redacted_path(data_dir, share.id)) as source:
        blurred = mark_clip(cast(BinaryIO, source), "ann", people, 4)
    assert blurred.keyframes == tuple(shown["keyframes"])
    again = [b for b in blurred.prelabels if b.label == "person"]

    print(f"person boxes: {len(original)} from the original, {len(again)} on the blurred copy")
    assert len(original) >= 16
    assert len(original) > 3 * len(again)
    confident = [b for b in original if b["score"] >= 0.5]
    assert len(confident) >= 10
    for box in confident:  # each sits on a person walking, not on the empty walkway
        assert _moving(frames[box["frame"]], background, box["xyxy"]) >= 0.3, box
    every_keyframe = {b["frame"] for b in confident}
    assert every_keyframe == set(shown["keyframes"])

    # A reported share keeps no boxes of its clip.
    desk.release(lease, NOW)
    assert report(sharing, share.id, NOW)
    gone = sharing.shares.get(share.id)
    assert gone is not None
    assert gone.prelabels is None


def test_boxes_are_mapped_onto_the_redacted_copys_frame(faces: CenterFace) -> None:
    """An odd-sized original is padded to even sizes in the copy: the relative boxes are taken
    against the copy's size, so they sit on the same pixels there. The keyframes are the
    detected frames nearest the workbench's spread (the detector runs every ``stride``-th)."""
    person = Detections(
        np.array([[10, 20, 110, 140]], np.float32), np.array([0.8], np.float32),
        np.array([0], np.int32),
    )  # fmt: skip
    job = _ClipRedaction(faces, ScriptedDetector([]), Redactor(), ClipPolicy(label_keyframes=4))
    job.objects = {i: person for i in [*range(0, 31, 3), 30]}
    found = job.prelabels(31, 176, 144)  # a 175x143 original, padded to 176x144
    assert found is not None
    assert keyframe_indexes(31, 4) == [6, 12, 19, 25]
    assert found.frames == (6, 12, 18, 24)  # the detected frames nearest those
    assert (found.width, found.height) == (176, 144)
    assert {b.frame for b in found.boxes} == set(found.frames)
    assert found.boxes[0].xyxy == pytest.approx((10 / 176, 20 / 144, 110 / 176, 140 / 144))
    assert PreLabels.from_json(found.to_json()) == found


def test_a_lease_shows_only_stored_keyframes_inside_its_copy() -> None:
    stored = PreLabels((5, 15, 40), 320, 240, (
        FrameBox(5, (0.1, 0.1, 0.3, 0.5), "person", 0.7),
        FrameBox(15, (0.2, 0.1, 0.4, 0.5), "cat", 0.6),
        FrameBox(40, (0.2, 0.1, 0.4, 0.5), "person", 0.6),
    ))  # fmt: skip
    marked = MarkedClip(b"", 30, 320, 240, 10.0, 3.0, (6, 12, 18, 24), ())
    shown = from_original(marked, stored)
    assert shown.keyframes == (5, 15)
    assert [(p.frame, p.time, p.label) for p in shown.prelabels] == [
        (5, 0.5, "person"), (15, 1.5, "cat"),
    ]  # fmt: skip
