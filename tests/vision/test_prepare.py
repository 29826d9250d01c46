"""Tests for the fail-closed chain: a failure at any step keeps the clip with its owner.

Failures are injected by wrapping the real models (or by giving the chain unusable input); the
positive scan is scripted with a fake scorer, the one place a fake may stand in for a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from hearthcam.errors import ModelError
from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.prepare import ClipPreparer, PreparedClip, ShareState, Step
from hearthcam.vision.redact import ClipPolicy
from hearthcam.vision.sensitive import SensitiveScanner
from tests.support.vision_fakes import NoRedaction, Positive

pytestmark = pytest.mark.integration


class _Failing:
    """Wraps a face or person detector; raises ModelError from its ``after``-th call on."""

    def __init__(self, inner: CenterFace | OnnxDetector, after: int) -> None:
        self.inner, self.after, self.calls = inner, after, 0
        self.threshold = getattr(inner, "threshold", 0.5)
        self.inferences = 0

    def detect(
        self, image: BGRImage, threshold: float | None = None, min_face: float | None = None
    ) -> Detections:
        self.calls += 1
        if self.calls > self.after:
            raise ModelError("injected failure")
        if isinstance(self.inner, CenterFace):
            return self.inner.detect(image, threshold, min_face)
        return self.inner.detect(image)

    def detect_regions(self, image: BGRImage, boxes: NDArray[np.int32]) -> Detections:
        return self.detect(image)


def _assert_owner_only(outcome: PreparedClip, step: Step, out_dir: Path) -> None:
    assert outcome.state is ShareState.OWNER_ONLY
    assert outcome.failed_step is step
    assert outcome.redacted is None
    assert outcome.failure
    assert list(out_dir.iterdir()) == []


def test_a_clean_clip_becomes_publishable(
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
    carphone_clip: Path,
    out_dir: Path,
) -> None:
    outcome = ClipPreparer(scanner, faces, people).prepare(carphone_clip, out_dir / "s.mp4")
    assert outcome.state is ShareState.PUBLISHABLE, outcome.failure
    assert outcome.redacted == out_dir / "s.mp4"
    assert outcome.scan is not None
    assert not outcome.scan.positive
    assert outcome.redaction is not None
    assert outcome.redaction.check.passed


def test_a_positive_scan_disposes_of_the_clip_without_redacting(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, out_dir: Path
) -> None:
    outcome = ClipPreparer(SensitiveScanner([Positive()]), faces, people).prepare(
        carphone_clip, out_dir / "s.mp4"
    )
    assert outcome.state is ShareState.DISPOSED
    assert outcome.scan is not None
    assert outcome.scan.model == "scripted"
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("where", ["faces", "people", "faces-late"])
def test_a_model_failing_during_redaction_keeps_the_clip_private(
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
    carphone_clip: Path,
    out_dir: Path,
    where: str,
) -> None:
    face_model = _Failing(faces, 0 if where == "faces" else 10**6)
    if where == "faces-late":
        face_model = _Failing(faces, 30)  # midway through the clip, after frames were encoded
    person_model = _Failing(people, 0 if where == "people" else 10**6)
    preparer = ClipPreparer(scanner, face_model, person_model)
    _assert_owner_only(preparer.prepare(carphone_clip, out_dir / "s.mp4"), Step.REDACT, out_dir)


def test_a_failure_during_the_second_check_keeps_the_clip_private(
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
    carphone_clip: Path,
    out_dir: Path,
) -> None:
    # 45 frames at stride 2 (and the last) = 24 redaction calls; the check's calls then fail.
    preparer = ClipPreparer(scanner, _Failing(faces, 25), people, policy=ClipPolicy(stride=2))
    _assert_owner_only(preparer.prepare(carphone_clip, out_dir / "s.mp4"), Step.REDACT, out_dir)


def test_a_refused_check_keeps_the_clip_private(
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
    carphone_clip: Path,
    out_dir: Path,
) -> None:
    outcome = ClipPreparer(scanner, faces, people, NoRedaction()).prepare(
        carphone_clip, out_dir / "s.mp4"
    )
    _assert_owner_only(outcome, Step.CHECK, out_dir)
    assert outcome.redaction is not None
    assert outcome.redaction.check.faces > 0


def test_scan_failures_and_timeouts_keep_the_clip_private(
    scanner: SensitiveScanner,
    faces: CenterFace,
    people: OnnxDetector,
    carphone_clip: Path,
    out_dir: Path,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    preparer = ClipPreparer(scanner, faces, people)
    _assert_owner_only(preparer.prepare(broken, out_dir / "a.mp4"), Step.SCAN, out_dir)
    hurried = ClipPreparer(scanner, faces, people, deadline_s=0.0)
    outcome = hurried.prepare(carphone_clip, out_dir / "b.mp4")
    _assert_owner_only(outcome, Step.SCAN, out_dir)
    assert "VisionTimeout" in (outcome.failure or "")


def test_a_failure_to_load_a_model_has_an_owner_only_outcome() -> None:
    outcome = PreparedClip.failed(Step.LOAD, ModelError("nudenet is not installed"))
    assert outcome.state is ShareState.OWNER_ONLY
    assert outcome.failure == "ModelError: nudenet is not installed"
