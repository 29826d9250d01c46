"""``hearthcam bench hub``: the storage arithmetic (pure) and the scenario in quick mode, with the
hub's real checks, real sealed clips and the real live path, over a fresh event cache."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from hearthcam_bench import hub, hub_pooled
from hearthcam_bench.context import BenchContext
from hearthcam_bench.main import SCENARIOS, select
from hearthcam_bench.report import Report


def test_hub_is_a_bench_scenario() -> None:
    assert SCENARIOS["hub"] is hub.run
    assert select("hub") == ["hub"]


def test_storage_multiplies_the_measured_bytes_by_the_stated_assumption() -> None:
    clip = hub.Checked("a clip", 10.0, (640, 360), "passed", "", (1.0,), 2_000_000, 500.0)
    refused = hub.Checked("refused", 1.0, (176, 144), "refused", "faces", (1.0,), 0, 0.0)
    assume = hub.Assumption(shares_per_home_month=5.0, keep_days=15.0, homes=1000)
    table = hub.storage_table([clip, refused], assume)
    [row] = table.rows  # a refused clip holds no file
    assert row[0] == "a clip"
    assert row[3] == "2.00 MB"
    assert row[4] == "2,500"  # 1,000 homes x 5 a month x 15 / 30 days
    assert row[5] == "5.0 GB"
    assert row[6] == "10.0 GB"
    assert "ASSUMED" in table.title
    assert any(note.startswith("ASSUMPTION, not a measurement") for note in table.notes)


def _number(cell: str) -> float:
    found = re.match(r"-?[\d,]+(\.\d+)?", cell)
    assert found, cell
    return float(found.group(0).replace(",", ""))


def _per_camera_day(cell: str) -> float:
    found = re.fullmatch(r"(\d+) \((\d+\.\d+)\)", cell)
    assert found, cell
    return float(found.group(2))


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_the_quick_scenario_checks_stores_and_compares_pooled_with_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEARTHCAM_BENCH_CACHE", str(tmp_path / "cache"))
    ctx = BenchContext.create(tmp_path / "bench", Console(file=None, quiet=True), quick=True)
    reports = hub.run(ctx)
    checks, storage, pooled = reports
    assert all(isinstance(r, Report) for r in reports)

    assert checks.columns[0] == "clip"
    states = {row[0]: row[3] for row in checks.rows}
    passing = [row for row in checks.rows if row[3] == "passed"]
    assert len(passing) == len(hub.QUICK.seconds)  # the tree clips pass
    assert states["carphone, a face"] == "refused"  # the face is refused
    assert any("the face check found" in note for note in checks.notes)
    for row in checks.rows:
        assert _number(row[1]) > 0  # duration
        assert re.fullmatch(r"\d+x\d+", row[2])
        assert _number(row[4]) > 0  # seconds to check
        assert _number(row[6]) > 0  # clips an hour per worker
        assert _number(row[7]) > 0  # clip-seconds per check-second
    durations = [_number(row[1]) for row in passing]
    assert durations == sorted(durations)
    assert durations[0] == pytest.approx(hub.QUICK.seconds[0], abs=0.1)

    assert [row[0] for row in storage.rows] == [row[0] for row in passing]
    for row in storage.rows:
        assert _number(row[1]) > 0  # sealed file, MB
        assert _number(row[2]) > 0  # rows, bytes
        assert _number(row[5]) > 0  # held, GB
    assert "ASSUMED" in storage.title

    assert "alone" in pooled.columns
    assert "pooled" in pooled.columns
    alone, together = pooled.columns.index("alone"), pooled.columns.index("pooled")
    households = [row for row in pooled.rows if re.fullmatch(r"h\d\d", row[0])]
    assert len(households) == hub_pooled.QUICK.households
    assert [row[0] for row in pooled.rows[-2:]] == ["median per camera-day", "all households"]
    for row in households:
        assert _per_camera_day(row[alone]) >= 0
        assert _per_camera_day(row[together]) >= 0
    median = pooled.rows[-2]
    assert float(median[alone]) >= 0
    assert float(median[together]) >= 0
    assert any("not the hub service" in note for note in pooled.notes)


@pytest.mark.timeout(300)
def test_the_quick_workbench_load_takes_fetches_and_annotates(tmp_path: Path) -> None:
    from hearthcam_bench import hub_workbench

    ctx = BenchContext.create(tmp_path / "bench", Console(file=None, quiet=True), quick=True)
    load, costs = hub_workbench.run_load(ctx)  # one copy worker in quick mode
    rows = {row[0]: row for row in load.rows}
    assert list(rows) == ["queue", "take", "clip", "annotate"]
    plan = hub_workbench.QUICK
    # Every clip was leased, fetched and annotated once (the annotators emptied the queue).
    assert [int(rows[kind][1]) for kind in ("take", "clip", "annotate")] == [plan.clips] * 3
    assert f"{plan.clips} annotations recorded" in load.notes[0]
    assert "0 answers 5xx" in load.notes[0]
    assert [row[0] for row in costs.rows] == ["320x180 @ 10 fps"]
    assert float(costs.rows[0][1].removesuffix(" s")) > 0
