"""Tests for the second check: its tiling, its input scale and its report (pure)."""

from __future__ import annotations

import itertools

import numpy as np

from hearthcam.vision.check import OVERLAP, TILE, CheckReport, _starts
from hearthcam.vision.faces import MIN_INPUT_FACE, _input_geometry


def test_tiles_cover_the_frame_and_overlap_enough() -> None:
    assert _starts(1280, TILE, OVERLAP) == [0]
    starts = _starts(3840, TILE, OVERLAP)
    assert starts[0] == 0
    assert starts[-1] + TILE == 3840
    assert all(b - a <= TILE - OVERLAP for a, b in itertools.pairwise(starts))


def test_the_input_scale_resolves_the_smallest_face_asked_for() -> None:
    scale, w, h = _input_geometry(1280, 720, 640, min_face=24)
    assert scale == MIN_INPUT_FACE / 24
    assert (w, h) == (1088, 608)
    assert _input_geometry(1280, 720, 640)[0] == 0.5  # the redaction pass's whole-frame scale
    assert _input_geometry(100, 80, 640, min_face=10)[0] == 2.0  # a small crop is enlarged


def test_a_report_says_what_was_found_and_where() -> None:
    report = CheckReport(10, 1, 1, 0.34, 4, 4, (10.2, 20.0, 40.6, 61.0))
    assert not report.passed
    assert report.describe() == "best score 0.34 on frame 4, box x 10-41, y 20-61 (31x41 px)"
    assert CheckReport(10, 0, 0, 0.0, None).describe() == ""
    assert np.isclose(report.max_score, 0.34)
