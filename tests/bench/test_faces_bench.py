"""``hearthcam bench faces``: the verification figures (pure) and a quick run on real faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console

from hearthcam_bench import faces
from hearthcam_bench.context import BenchContext
from hearthcam_bench.faces_metrics import (
    Pairs,
    accept_rate,
    cross_pairs,
    pairs,
    tar_at_far,
    threshold_at_far,
)


def test_pairs_split_by_person() -> None:
    d = [np.array([0.0], np.float32), np.array([0.1], np.float32), np.array([1.0], np.float32)]
    found = pairs(d, ["a", "a", "b"])
    assert found.genuine == pytest.approx([0.1])
    assert sorted(found.impostor) == pytest.approx([0.9, 1.0])
    assert cross_pairs(d, d, ["a", "a", "b"]) == pytest.approx([0.1, 0.1])


def test_threshold_keeps_the_false_accepts_at_most_the_rate() -> None:
    impostor = np.arange(1, 101, dtype=np.float64) / 100  # 0.01 .. 1.00
    assert threshold_at_far(impostor, 0.01) == pytest.approx(0.02)  # accepts only 0.01: 1 %
    assert accept_rate(impostor, threshold_at_far(impostor, 0.01)) == pytest.approx(0.01)
    assert threshold_at_far(impostor, 0.0) == pytest.approx(0.01)  # accepts none
    found = Pairs(np.array([0.005, 0.015, 0.5]), impostor)
    assert tar_at_far(found, 0.01) == pytest.approx(2 / 3)
    assert tar_at_far(found, 0.0) == pytest.approx(1 / 3)
    assert threshold_at_far(np.array([]), 0.01) == float("inf")


def test_a_folder_of_people_is_read_as_labelled_pictures(tmp_path: Path) -> None:
    for person in ("ann", "bo"):
        (tmp_path / person).mkdir()
        cv2.imwrite(str(tmp_path / person / "1.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "ann" / "notes.txt").write_text("not a picture")
    found = faces.folder_pictures(tmp_path)
    assert [(p, s) for p, s, _ in found] == [("ann", "ann/1.png"), ("bo", "bo/1.png")]


def test_the_scenario_measures_real_faces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faces.FACES_ENV, raising=False)
    ctx = BenchContext.create(tmp_path, Console(file=None, quiet=True), quick=True)
    verification, cost = faces.run(ctx)
    clean, camera = verification.rows
    columns = list(verification.columns)
    assert clean[0] == "as pictured"
    assert int(clean[columns.index("people")]) == 2
    assert int(clean[columns.index("genuine pairs")]) >= 3
    # The carphone man's frames all match each other; he is never taken for the astronaut.
    assert float(clean[columns.index("TAR @ d<=0.45")]) == 1.0
    assert float(clean[columns.index("FAR @ d<=0.45")]) == 0.0
    assert camera[0] == "camera-like"
    assert all(float(row[1]) > 0 for row in cost.rows)
