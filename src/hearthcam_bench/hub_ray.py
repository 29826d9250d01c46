"""Scenario ``hub-ray``: the hub's own checks as Ray tasks (``hub serve --ray``) on a real
cluster of one and then two nodes (one CPU each, ``ray start`` processes in a loopback-only
network namespace), in the same run, over the same clips in a fresh PostgreSQL database each
time. The operator's own command runs (``hub_ray_run``); the figures come from the worker
processes' own log lines: when each check started and ended, and on which node.

Clips: tree.avi's tree in the wind (no person: every clip passes, so each is checked whole),
upscaled and encoded as H.264 like ``bench hub``'s: 10 s of 1280x720 at 25 fps (quick: 2 s of
640x360). ``bench hub`` gives the same check in one process, one worker.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from hearthcam.hub.clips import HubClips
from hearthcam.hub.identity import load_or_create
from hearthcam.hub.registry import HubRegistry
from hearthcam_bench.context import BenchContext
from hearthcam_bench.hub import FULL, QUICK, tree_clip
from hearthcam_bench.postgres import new_database, postgres_server, server_installed
from hearthcam_bench.raycluster import in_loopback_namespace, namespace_problem, ray_problem
from hearthcam_bench.report import Report, num, ratio, secs

ROOT = Path(__file__).resolve().parents[2]


def _problem() -> str | None:
    if not server_installed():
        return "PostgreSQL server binaries (Debian's postgresql package)"
    return ray_problem() or namespace_problem()


def _hub(root: Path, database: str, clip: Path, count: int) -> None:
    """A hub at ``root`` over ``database`` holding ``count`` unchecked copies of ``clip``."""
    identity = load_or_create(root / "hub-identity.pem")
    registry = HubRegistry.open(database)
    home = load_or_create(root / "home-identity.pem")
    now = time.time()
    home_id = registry.link(registry.new_code(now), home.public_b64, "bench home", now)
    registry.close()
    clips = HubClips.from_url(database, root / "clips", identity)
    try:
        data = clip.read_bytes()
        for i in range(count):
            digest = hashlib.sha256(f"{i}".encode()).hexdigest()  # stands for a receipt
            clips.add(home_id, f"tree-{i}", data, digest, int(now) + 86_400, now)
    finally:
        clips.close()


def _run(ctx: BenchContext, host: str, clip: Path, count: int, nodes: int) -> dict[str, Any]:
    folder = ctx.workdir(f"hub-ray-{nodes}")
    database = new_database(host)
    _hub(folder / "hub", database, clip, count)
    out = folder / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.hub_ray_run", database, str(folder / "hub"),
            str(out), "--clips", str(count), "--nodes", str(nodes), "--no-model"]  # fmt: skip
    done = in_loopback_namespace(argv, timeout=1800, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"hub-ray run failed: {done.stdout[-2000:]}{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    if report["code"] != 0:
        raise RuntimeError(f"hub serve --ray failed: {report['output'][-3000:]}")
    return report


def run(ctx: BenchContext) -> list[Report]:
    plan = QUICK if ctx.quick else FULL
    seconds = plan.seconds[0]
    title = "hub-ray: the hub's checks as Ray tasks (hub serve --ray), 1 node then 2 (1 CPU each)"
    problem = _problem()
    if problem is not None:
        return [Report(title, ["measured"], notes=[f"Not run: {problem} is missing."])]
    count = 4 if ctx.quick else 8
    clip = tree_clip(ctx.workdir("hub-ray-clip") / f"tree-{seconds}s.mp4", seconds, plan)
    runs: dict[int, dict[str, Any]] = {}
    with postgres_server() as host:
        for nodes in (1, 2):
            ctx.console.print(f"hub-ray: {count} clips on {nodes} node(s)", highlight=False)
            ctx.settle()
            runs[nodes] = _run(ctx, host, clip, count, nodes)
    table = Report(
        title,
        ["nodes", "clips passed", "first start to last end", "s a check (median; first "
         "on each worker)", "clips/h", "vs 1 node", "checks per node"],
    )  # fmt: skip
    base = None
    for nodes, report in runs.items():
        checks = [c for c in report["checks"] if c["ended"] is not None]
        passed = sum(1 for c in checks if c["found"] == "passed")
        wall = max(c["ended"] for c in checks) - min(c["started"] for c in checks)
        each = sorted(c["ended"] - c["started"] for c in checks)
        first: dict[str, float] = {}  # each node's first check (models loaded in it)
        for c in sorted(checks, key=lambda c: c["started"]):
            first.setdefault(c["node"], c["ended"] - c["started"])
        rate = 3600 * len(checks) / wall
        base = base or rate
        per_node = sorted((sum(1 for c in checks if c["node"] == n) for n in first), reverse=True)
        table.add(
            str(nodes), f"{passed} of {count}", secs(wall, 1),
            f"{num(statistics.median(each), 1)} ({', '.join(num(v, 1) for v in first.values())})",
            num(rate, 0), ratio(rate / base), " / ".join(str(n) for n in per_node),
        )  # fmt: skip
    size = f"{plan.size[0]}x{plan.size[1]}"
    table.notes += [
        f"Clips: tree.avi's tree, {seconds} s of {size} at {plan.fps} fps, H.264, passing (checked "
        "whole: the intimate-content scan, then the face check on every frame). Each run: a fresh "
        "PostgreSQL database holding the same clips, `hearthcam hub serve --ray HEAD` until every "
        "clip is checked.",
        "From the workers' own log lines: a check starts before its worker loads the models, so "
        "the first check on each worker includes loading them (in brackets).",
        "Both nodes run on the same 2-core machine, so 2 nodes at 1 CPU each is the machine's "
        "whole CPU (hub serve, PostgreSQL and Ray's own processes share it); on separate "
        "machines each node brings its own cores. `bench hub` has the same check in one process.",
    ]
    return [table]
