"""``hearthcam bench``: choosing scenarios, and one real quick scenario end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam_bench.main import SCENARIOS, BenchError, select


def test_select_all_and_lists_and_unknown_names() -> None:
    assert select("all") == list(SCENARIOS)
    assert select("idle, detector") == ["idle", "detector"]
    with pytest.raises(BenchError, match="nosuch"):
        select("detector,nosuch")
    with pytest.raises(BenchError):
        select(" , ")


def test_an_unknown_scenario_exits_2_naming_the_choices() -> None:
    result = CliRunner().invoke(cli, ["bench", "nosuch"])
    assert result.exit_code == 2
    assert "nosuch" in result.output
    assert "detector" in result.output


@pytest.mark.integration
def test_the_quick_detector_scenario_prints_and_writes_its_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bench.md"
    monkeypatch.setenv("HEARTHCAM_BENCH_MARKDOWN", str(target))
    result = CliRunner().invoke(cli, ["bench", "detector", "--quick"])
    assert result.exit_code == 0, result.output
    assert "frames/s" in result.output
    text = target.read_text()
    assert "| command | hearthcam bench detector --quick |" in text
    rows = [line for line in text.splitlines() if line.startswith("| 640x360 |")]
    assert rows  # the real packaged model ran on real frames
    for row in rows:
        frames_per_second = float(row.split("|")[4])
        assert frames_per_second > 0
    # NanoDet-m as batches, as the cluster's detector service runs it: every batch size ran.
    batches = text.split("NanoDet-m as batches")[1].split("\n\n")[1]
    assert [line.split("|")[1].strip() for line in batches.splitlines()[2:]] == [
        "1",
        "2",
        "4",
        "8",
        "16",
    ]
