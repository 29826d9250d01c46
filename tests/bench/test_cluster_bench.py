"""Scenario ``cluster``: a quick run on a real two-node Ray cluster and PostgreSQL gives its four
tables (share-check throughput on 1 and 2 nodes, a node killed mid-check, camera actors moved
off a killed node, and cameras kept up with on 1 and 2 nodes pinned to a core each)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from hearthcam_bench import cluster
from hearthcam_bench.context import BenchContext
from hearthcam_bench.main import SCENARIOS
from hearthcam_bench.postgres import server_installed
from hearthcam_bench.raycluster import namespace_problem, ray_problem
from tests.support.required import require


@pytest.mark.timeout(900)  # five cluster runs and two pinned-node runs, each its own Ray
def test_the_cluster_scenario_measures_one_and_two_nodes_and_a_failover(tmp_path: Path) -> None:
    assert SCENARIOS["cluster"] is cluster.run
    require(server_installed(), "PostgreSQL server binaries (Debian's postgresql package)")
    require(ray_problem() is None, ray_problem() or "")
    require(namespace_problem() is None, namespace_problem() or "")
    ctx = BenchContext.create(tmp_path, Console(file=None, quiet=True), quick=True)

    throughput, failover, cameras, sustained = cluster.run(ctx)

    assert [row[0] for row in throughput.rows] == ["1", "2"]
    assert [row[1] for row in throughput.rows] == ["4 of 4", "4 of 4"]
    assert [row[5] for row in throughput.rows] == ["1", "2"]  # nodes that checked
    assert "worker-1" in throughput.rows[1][6]  # Ray's own memory, per node
    [row] = failover.rows
    assert row[0] == "4 of 4"
    assert int(row[1]) >= 1
    assert row[2] == row[1]  # every check lost with the node was done again on the head
    assert row[3].endswith(" s")
    [row] = cameras.rows  # quick: a detector per camera only
    assert row[0] == "one per camera"
    stayed, moved = (int(n) for n in row[1].split(" / "))
    assert stayed + moved == 4
    assert moved >= 1  # Ray spread the cameras over both nodes
    assert row[2].count(" s") == 2  # kill to recording again, median and max
    assert row[5] == "0"  # the head's cameras: no gap
    assert row[7] == "-"  # no detector service
    assert row[11] == "-"  # nor its batches
    assert row[12] == "yes"
    # Quick: 2 cameras on 1 node, then on 2 nodes, each node on a core of its own.
    one_node, two_nodes = sustained.rows
    assert one_node[:3] == ["1", "2", "2"]
    assert two_nodes[:2] == ["2", "2"]
    head, second = (int(n) for n in two_nodes[2].split(" / "))
    assert head + second == 2
    assert second >= 1  # Ray spread them over both nodes
    for row in sustained.rows:
        slowest, median = (float(f) for f in row[3].split(", "))
        assert 0 < slowest <= median  # the cameras' load came from the app's System API
        assert row[5] in {"kept up", "FELL BEHIND"}
