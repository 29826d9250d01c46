"""The redact scenario's independent columns: counts, where, and nothing to count when refused."""

from __future__ import annotations

from pathlib import Path

from hearthcam_bench.independent import DlibHog, clip_faces
from hearthcam_bench.redact import carphone_frames, independent_counts, write_h264


def test_counts_before_and_residual_with_where_and_crops(tmp_path: Path) -> None:
    counter = DlibHog()
    src = write_h264(tmp_path / "src.mp4", carphone_frames(10), 30)
    before = list(clip_faces(counter, src, 5))
    # the unredacted clip as "output": a redaction that hid nothing leaves every face
    row = independent_counts(counter, src, src, before, tmp_path / "crops")
    assert row["independent_faces_before"] == 2
    assert row["independent_residual_faces"] == 2
    assert row["independent_residual_where"] == [h.describe() for h in before]
    assert len(list((tmp_path / "crops").glob("*.png"))) == 2
    assert str(row["independent_detector"]).startswith("dlib ")


def test_a_refused_clip_has_no_residual_count(tmp_path: Path) -> None:
    counter = DlibHog()
    src = write_h264(tmp_path / "src.mp4", carphone_frames(5), 30)
    row = independent_counts(counter, src, tmp_path / "gone.mp4", [], tmp_path / "crops")
    assert row["independent_residual_faces"] is None
    assert row["independent_residual_where"] == []
