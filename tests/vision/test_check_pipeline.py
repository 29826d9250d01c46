"""The pipelined second check (decode → redact → encode ∥ check) on real footage and models:
it sees the encoded output exactly as a reader of the file does, still refuses a clip with a
face left, and leaves neither a ``.part`` file nor a worker thread behind on an error."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.types import BGRImage, Detections
from hearthcam.vision.check import PipelinedCheck, check_frames
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.media import Clock, RedactedWriter, VisionTimeout, probe, read_frames
from hearthcam.vision.redact import ClipPolicy, Redactor, RedactStatus, redact_clip
from hearthcam_bench.redact import write_h264

pytestmark = pytest.mark.integration

LEFT_FROM = 20


class _LeavesLateFaces(Redactor):
    """Hides what it is told to, except that it leaves every frame from ``LEFT_FROM`` on as it is
    (counted by calls: frames are redacted in order)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def redact(self, frame: BGRImage, faces: Detections, bodies: Detections) -> BGRImage:
        self.calls += 1
        return frame if self.calls > LEFT_FROM else super().redact(frame, faces, bodies)


def _checker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "face-check"]


def test_the_pipelined_check_sees_the_frames_of_the_file(
    faces: CenterFace, carphone_clip: Path, tmp_path: Path
) -> None:
    info = probe(carphone_clip)
    writer = RedactedWriter(tmp_path / "out.mp4", info, "superfast")
    pipeline = PipelinedCheck(faces, 0.3, info.time_base)
    writer.tap = pipeline.feed
    for frame in read_frames(carphone_clip):
        writer.write(frame.image, frame.pts)
    part = writer.finish()
    report, residual = pipeline.finish(writer.frames)
    file_report, file_residual = check_frames(part, faces, 0.3)
    assert report == file_report
    assert report.frames_checked == 45
    assert report.faces >= 45  # the face, left in every frame
    assert sorted(residual) == sorted(file_residual)
    for index, found in residual.items():
        np.testing.assert_array_equal(found.xyxy, file_residual[index].xyxy)
    writer.discard()
    assert not _checker_threads()


def test_a_face_left_on_some_frames_is_refused(
    faces: CenterFace, people: OnnxDetector, carphone_clip: Path, out_dir: Path
) -> None:
    redactor = _LeavesLateFaces()
    policy = ClipPolicy(rounds=1)
    result = redact_clip(carphone_clip, out_dir / "shared.mp4", faces, people, redactor, policy)
    assert result.status is RedactStatus.REFUSED
    assert result.check.frames_checked == 45
    assert result.check.first_frame is not None
    assert result.check.first_frame >= LEFT_FROM
    assert result.check.frames_with_faces >= 45 - LEFT_FROM - 1
    assert list(out_dir.iterdir()) == []
    assert not _checker_threads()


def test_a_decode_error_midway_removes_the_part_and_stops_the_check(
    faces: CenterFace,
    people: OnnxDetector,
    carphone: list[BGRImage],
    tmp_path: Path,
    out_dir: Path,
) -> None:
    whole = write_h264(tmp_path / "whole.mp4", carphone * 2, 30)
    data = bytearray(whole.read_bytes())
    # Garbage over the middle of the stream: the frames before it decode, and are redacted,
    # encoded and checked while the decoder runs into it.
    middle = len(data) // 2
    data[middle : middle + 4000] = np.random.default_rng(5).bytes(4000)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.raises(SourceUnreadable):
        redact_clip(damaged, out_dir / "shared.mp4", faces, people)
    assert list(out_dir.iterdir()) == []
    assert not _checker_threads()


def _encode_and_check(src: Path, writer: RedactedWriter, pipeline: PipelinedCheck) -> None:
    for frame in read_frames(src):
        writer.write(frame.image, frame.pts)
    writer.finish()
    pipeline.finish(writer.frames)


def test_a_timeout_in_the_check_reaches_the_caller(faces: CenterFace, carphone_clip: Path) -> None:
    pipeline = PipelinedCheck(faces, 0.3, Fraction(1, 30), clock=Clock("clip", 0.0))
    writer = RedactedWriter(carphone_clip.with_name("t.mp4"), probe(carphone_clip), "superfast")
    writer.tap = pipeline.feed
    with pytest.raises(VisionTimeout):
        _encode_and_check(carphone_clip, writer, pipeline)
    pipeline.abort()
    writer.discard()
    assert not writer.part.exists()
    assert not _checker_threads()
