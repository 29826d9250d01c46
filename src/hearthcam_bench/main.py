"""``hearthcam bench``: runs the chosen scenarios and prints their tables.

Each scenario lives in its own module and returns ``Report`` tables; this module picks them,
prints a description of the machine first (the figures mean little without it), times each
scenario, and, when ``HEARTHCAM_BENCH_MARKDOWN`` names a file, also writes every table there as
Markdown (what docs/benchmarks.md is made from).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from hearthcam.errors import HearthcamError
from hearthcam_bench import (
    alerts,
    cameras,
    cluster,
    detector,
    exports,
    faces,
    gating,
    history,
    hub,
    hub_ray,
    hub_workbench,
    idle,
    latency,
    learning,
    motiond,
    quality,
    timeline,
)
from hearthcam_bench import redact as redact_scenario
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import machine
from hearthcam_bench.report import Report, markdown, show

Scenario = Callable[[BenchContext], list[Report]]

SCENARIOS: dict[str, Scenario] = {
    "detector": detector.run,
    "gating": gating.run,
    "idle": idle.run,
    "motiond": motiond.run,
    "cameras": cameras.run,
    "latency": latency.run,
    "alerts": alerts.run,
    "quality": quality.run,
    "redact": redact_scenario.run,
    "learning": learning.run,
    "history": history.run,
    "timeline": timeline.run,
    "exports": exports.run,
    "faces": faces.run,
    "cluster": cluster.run,
    "hub": hub.run,
    "hub-workbench": hub_workbench.run_load,
    "hub-ray": hub_ray.run,
}
MARKDOWN_ENV = "HEARTHCAM_BENCH_MARKDOWN"


class BenchError(HearthcamError):
    """A scenario name that does not exist, or scenarios that failed."""


def select(which: str) -> list[str]:
    """The scenarios ``which`` names: ``all`` or a comma-separated list of names."""
    if which == "all":
        return list(SCENARIOS)
    names = [n.strip() for n in which.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise BenchError(
            f"unknown scenario {unknown or which!r}; choose all or {', '.join(SCENARIOS)}"
        )
    return names


def machine_report(which: str, quick: bool) -> Report:
    """The machine and the command, as the first table."""
    table = Report("machine", ["item", "value"])
    command = f"hearthcam bench {which}" + (" --quick" if quick else "")
    table.add("command", command)
    for key, value in machine().items():
        table.add(key, value)
    return table


def _run_one(name: str, ctx: BenchContext) -> list[Report]:
    started = time.perf_counter()
    try:
        reports = SCENARIOS[name](ctx)
    except Exception as error:  # one broken scenario must not hide the others' figures
        ctx.console.print(f"[red]{name} failed[/]: {error}", highlight=False)
        traceback.print_exc(file=sys.stderr)
        failed = Report(f"{name}: FAILED", ["error"])
        failed.add(f"{type(error).__name__}: {error}")
        return [failed]
    for report in reports:
        report.notes.append(f"{name} took {time.perf_counter() - started:.0f} s of wall time.")
    return reports


def run(which: str, tmp_dir: Path, console: Console, quick: bool = False) -> None:
    """Runs the scenarios ``which`` names, printing each table as it is done."""
    try:
        names = select(which)
    except BenchError as error:
        console.print(f"[bold red]error:[/] {error}", highlight=False)
        raise SystemExit(2) from None
    # The pipeline logs each camera's reconnects and clips; here only the tables matter. The
    # level goes back afterwards: in a test run (or any host process) the logs matter again.
    logger = logging.getLogger("hearthcam")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        if not console.is_terminal:
            console.width = max(console.width, 150)  # logs and files: tables need not wrap
        ctx = BenchContext.create(tmp_dir, console, quick)
        started = time.perf_counter()
        reports = [machine_report(which, quick)]
        show(reports[0], console)
        for name in names:
            console.rule(f"[bold]{name}")
            for report in _run_one(name, ctx):
                show(report, console)
                reports.append(report)
        total = time.perf_counter() - started
        console.print(f"bench finished in {total:.0f} s", highlight=False)
        target = os.environ.get(MARKDOWN_ENV)
        if target:
            body = "\n".join(markdown(r) for r in reports)
            Path(target).write_text(f"{body}\nWhole run: {total:.0f} s of wall time.\n")
            console.print(f"tables written to {target}", highlight=False)
    finally:
        logger.setLevel(level)
    if any(r.title.endswith("FAILED") for r in reports):
        raise SystemExit(1)


def run_json(which: str, tmp_dir: Path, console: Console, quick: bool = False) -> None:
    """``--json``: the redaction measurements as JSON lines on stdout (only ``redact`` has it)."""
    if which != "redact":
        console.print("[bold red]error:[/] --json is only for: hearthcam bench redact")
        raise SystemExit(2)
    logger = logging.getLogger("hearthcam")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        ctx = BenchContext.create(tmp_dir, console, quick)
        for line in redact_scenario.json_rows(ctx):
            print(line, flush=True)  # plain stdout: Rich would wrap and colour it
    finally:
        logger.setLevel(level)
