"""Tests for redact_clip on real footage (carphone) with the real models, and its failures."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from hearthcam.errors import ModelError, SourceUnreadable, StoreError
from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.check import check_clip
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.media import VisionTimeout
from hearthcam.vision.redact import (
    ClipPolicy,
    Redactor,
    RedactPolicy,
    RedactStatus,
    redact_clip,
)

pytestmark = pytest.mark.integration


class _NoRedaction(Redactor):
    """Redaction deliberately disabled: frames pass through as they are."""

    def redact(self, frame: BGRImage, faces: Detections, bodies: Detections) -> BGRImage:
        return frame


def _stream_facts(path: Path) -> tuple[str, int, float, tuple[int, int]]:
    """(codec, decoded frames, duration in s, size) of a clip's video stream."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        pts = [f.pts for f in frames if f.pts is not None]
        assert len(pts) == len(frames)
        step = 1 / float(stream.average_rate or 30)
        duration = float((max(pts) - min(pts)) * (stream.time_base or 0)) + step
        return stream.codec_context.name, len(frames), duration, (frames[0].width, frames[0].height)


@pytest.mark.parametrize("bodies", [True, False])
def test_the_redacted_carphone_clip_has_no_face_left(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, out_dir: Path, bodies: bool
) -> None:
    dst = out_dir / "shared.mp4"
    redactor = Redactor(RedactPolicy(bodies=bodies))
    result = redact_clip(carphone_clip, dst, faces, people, redactor, ClipPolicy(check_stride=1))
    assert result.status is RedactStatus.PUBLISHED
    assert result.path == dst
    assert result.faces_found >= result.detected_frames - 1  # the face is there to be found
    assert result.check.frames_checked == result.frames == 45
    assert result.check.passed
    assert result.people_found > 0  # people are looked for (their faces too) either way
    assert sorted(p.name for p in out_dir.iterdir()) == ["shared.mp4"]
    # The published clip is H.264 with the source's frames and duration, and no face.
    codec, frames, duration, size = _stream_facts(dst)
    _, src_frames, src_duration, src_size = _stream_facts(carphone_clip)
    assert (codec, frames, size) == ("h264", src_frames, src_size)
    assert duration == pytest.approx(src_duration, abs=1e-3)
    again = check_clip(dst, faces, threshold=0.2)
    assert again.faces == 0


def test_the_check_refuses_a_clip_whose_faces_were_left(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, out_dir: Path
) -> None:
    dst = out_dir / "shared.mp4"
    result = redact_clip(carphone_clip, dst, faces, people, _NoRedaction())
    assert result.status is RedactStatus.REFUSED
    assert result.path is None
    assert result.check.faces > 0
    assert result.check.first_frame is not None
    assert list(out_dir.iterdir()) == []  # neither the clip nor its .part


def test_a_corrupt_input_is_a_clear_failure_and_leaves_nothing(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, out_dir: Path, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(3).bytes(20_000))
    with pytest.raises(SourceUnreadable):
        redact_clip(garbage, out_dir / "a.mp4", faces, people)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(carphone_clip.read_bytes()[:3000])
    with pytest.raises(SourceUnreadable):
        redact_clip(truncated, out_dir / "b.mp4", faces, people)
    assert list(out_dir.iterdir()) == []


def test_a_spent_budget_is_a_timeout_and_leaves_nothing(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, out_dir: Path
) -> None:
    with pytest.raises(VisionTimeout):
        redact_clip(carphone_clip, out_dir / "a.mp4", faces, people, None, ClipPolicy(deadline_s=0))
    assert list(out_dir.iterdir()) == []


def test_bodies_without_a_person_detector_are_refused_up_front(
    faces: CenterFace, carphone_clip: Path, out_dir: Path
) -> None:
    with pytest.raises(ModelError, match="person detector"):
        redact_clip(carphone_clip, out_dir / "a.mp4", faces, None)
    assert list(out_dir.iterdir()) == []


def test_an_unwritable_target_is_a_store_error(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError):
        redact_clip(carphone_clip, blocker / "a.mp4", faces, people)
