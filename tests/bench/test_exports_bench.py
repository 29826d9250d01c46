"""Scenario ``exports``: a tiny run through the real recorder and export job gives its table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from hearthcam_bench import exports
from hearthcam_bench.context import BenchContext


def test_the_exports_scenario_times_real_exports(tmp_path: Path) -> None:
    ctx = BenchContext.create(tmp_path, Console(file=None, quiet=True), quick=True)
    [table] = exports.run(ctx, minutes=(0.1, 0.2))
    assert [row[0] for row in table.rows] == ["0.1 min", "0.2 min"]
    for row in table.rows:
        assert float(row[1]) > 0
        assert row[2].endswith("x")
        assert float(row[3]) > 0
    assert not list((tmp_path).rglob("exports/**/*.mp4"))  # each export deleted after timing
