"""``hearthcam bench``: the benchmark tables (the scenarios live in ``hearthcam_bench``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from hearthcam.cli.common import cli, out


@cli.command()
def bench(
    which: Annotated[
        str,
        typer.Argument(
            help="all, or one or more (comma-separated) of: detector, gating, idle, motiond, "
            "cameras, latency, alerts, quality, redact, learning, history, timeline, exports, "
            "faces, cluster, hub, hub-workbench, hub-ray"
        ),
    ] = "all",
    quick: Annotated[bool, typer.Option(help="shorter runs (CI smoke)")] = False,
    json_lines: Annotated[
        bool,
        typer.Option(
            "--json",
            help="redact only: one JSON object per measurement (footage, width, height, "
            "duration_s, total_s, faces_before, residual_faces, result, ...) instead of tables",
        ),
    ] = False,
) -> None:
    """Print the benchmark tables (see docs/benchmarks.md)."""
    from hearthcam_bench import main as bench_main

    with tempfile.TemporaryDirectory(prefix="hearthcam-bench-") as tmp:
        if json_lines:
            bench_main.run_json(which, Path(tmp), out, quick=quick)
        else:
            bench_main.run(which, Path(tmp), out, quick=quick)
