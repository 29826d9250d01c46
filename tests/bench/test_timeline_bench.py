"""``hearthcam bench timeline --quick``: fills a store, serves it and times every filter."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam_bench.main import SCENARIOS


@pytest.mark.integration
def test_the_quick_timeline_scenario_times_every_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "timeline" in SCENARIOS
    target = tmp_path / "bench.md"
    monkeypatch.setenv("HEARTHCAM_BENCH_MARKDOWN", str(target))
    result = CliRunner().invoke(cli, ["bench", "timeline", "--quick"])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert "5,000 events on 4 cameras" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and " ms |" in line]
    assert len(rows) == 11  # every filter measured, none failed
    assert "| the page after 4,000 events (cursor) | 10 | 100 |" in text
    assert "| label = bicycle (0.2 %) | 10 |" in text
    assert '{"marked":2500}' in text
