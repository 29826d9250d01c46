"""Scenario ``hub-ray``: a quick run of ``hub serve --ray`` on a real Ray cluster of one and then
two nodes, over a real PostgreSQL database, gives one row per cluster size, every clip checked
and passed, and how many each node checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from hearthcam_bench import hub_ray
from hearthcam_bench.context import BenchContext
from hearthcam_bench.main import SCENARIOS
from hearthcam_bench.postgres import server_installed
from hearthcam_bench.raycluster import namespace_problem, ray_problem
from tests.support.required import require


@pytest.mark.timeout(600)
def test_the_hub_ray_scenario_checks_every_clip_on_one_and_two_nodes(tmp_path: Path) -> None:
    assert SCENARIOS["hub-ray"] is hub_ray.run
    require(server_installed(), "PostgreSQL server binaries (Debian's postgresql package)")
    require(ray_problem() is None, ray_problem() or "")
    require(namespace_problem() is None, namespace_problem() or "")
    ctx = BenchContext.create(tmp_path, Console(file=None, quiet=True), quick=True)

    [table] = hub_ray.run(ctx)

    assert [row[0] for row in table.rows] == ["1", "2"]
    assert [row[1] for row in table.rows] == ["4 of 4", "4 of 4"]
    assert table.rows[0][6] == "4"
    per_node = [int(n) for n in table.rows[1][6].split(" / ")]
    assert sum(per_node) == 4
    assert len(per_node) <= 2
    for row in table.rows:
        assert row[2].endswith(" s")
        assert float(row[4]) > 0  # clips an hour
        median, _, first = row[3].partition(" (")
        assert float(median) > 0
        assert len(first.rstrip(")").split(", ")) == len(row[6].split(" / "))  # one per node
