"""Issue 13, leak 1: a damaged clip must never be published in part (real footage, real models).

A clip cut short demuxes without an error up to the cut; the chain used to redact, check and
publish the frames before it. Now every decoder error, corrupt packet, or shortfall against the
frames (or seconds) the container declares is SourceUnreadable, and the share is owner-only.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.types import BGRImage
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.media import read_frames
from hearthcam.vision.prepare import ClipPreparer, ShareState
from hearthcam.vision.redact import redact_clip
from hearthcam.vision.sensitive import SensitiveScanner

pytestmark = pytest.mark.integration


def _write(path: Path, frames: list[BGRImage], container: str) -> Path:
    """Frames as H.264 at 30 fps: an MP4 with its index first (as a camera's export is), or
    Matroska (which declares a duration but no frame count)."""
    options = {"movflags": "+faststart"} if container == "mp4" else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "veryfast"})
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt, stream.time_base = "yuv420p", Fraction(1, 30)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _cut(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    cut = path.with_name(f"cut-{path.name}")
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


@pytest.fixture(scope="module", params=["mp4", "matroska"])
def halved(
    request: pytest.FixtureRequest,
    carphone: list[BGRImage],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The carphone face clip (90 frames) cut at half its bytes."""
    kind = str(request.param)
    whole = _write(tmp_path_factory.mktemp("damaged") / f"whole.{kind[:3]}", carphone * 2, kind)
    assert sum(1 for _ in read_frames(whole)) == 90  # the whole file reads in full
    return _cut(whole, 0.5)


def test_reading_a_clip_cut_short_fails_instead_of_ending_early(halved: Path) -> None:
    with pytest.raises(SourceUnreadable, match=r"truncated|corrupt|decoding failed"):
        for _ in read_frames(halved):
            pass


def test_a_clip_cut_short_is_not_redacted_in_part(
    faces: CenterFace, people: OnnxDetector, halved: Path, out_dir: Path
) -> None:
    with pytest.raises(SourceUnreadable):
        redact_clip(halved, out_dir / "shared.mp4", faces, people)
    assert list(out_dir.iterdir()) == []


def test_a_clip_cut_short_stays_with_its_owner(
    scanner: SensitiveScanner, faces: CenterFace, people: OnnxDetector, halved: Path, out_dir: Path
) -> None:
    outcome = ClipPreparer(scanner, faces, people).prepare(halved, out_dir / "shared.mp4")
    assert outcome.state is ShareState.OWNER_ONLY
    assert outcome.redacted is None
    assert "truncated" in (outcome.failure or "") or "corrupt" in (outcome.failure or "")
    assert list(out_dir.iterdir()) == []
