"""Cameras as Ray actors on a real cluster, with a node killed: the user's command
(``hearthcam run --cluster HEAD`` with ``cluster.cameras: true``) against RTSP cameras served by
GStreamer, a Ray head and a second node (separate ``ray start`` processes) and PostgreSQL. Run
inside a loopback-only network namespace (``raycluster.in_loopback_namespace``); used by
``tests/cluster`` and ``bench cluster``.

    python -m hearthcam_bench.cluster_cameras CONFIG.yaml SCENE.mp4 OUT.json
        [--cameras 8] [--nodes 2] [--kill worker-1] [--watch 6] [--train]

CONFIG holds the data directory and database; the cameras (``cam0``.. all reading SCENE from
the RTSP server) and the cluster are added. The run waits until every camera has recorded two
segments, then (``--kill``) kills that node as a power cut would (its raylet, agents and the
camera actors under it), waits until each camera that ran there has a segment started after the
kill (recording again on a live node), runs ``hearthcam train`` through the server (``--train``),
watches ``--watch`` seconds more, and stops the server with SIGINT. The JSON says where each
camera ran (the actors' own log lines), what the database held before the kill and at the end
(events, segments, gaps), the times, and the server's output.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from hearthcam.config import load_config
from hearthcam.store.db import Store
from hearthcam_bench.cluster_run import ray_own_use
from hearthcam_bench.raycluster import RayNodes
from hearthcam_bench.rtsp import serving

#: The line a camera's actor logs when it starts (``hearthcam.cluster.cameras``).
START_LINE = re.compile(r"(cam\d+): camera starts on node (\w+)")
#: The line a training task logs when it starts (``hearthcam.cluster.training``).
TRAINING_LINE = re.compile(r"training starts on node (\w+)")
#: The most a run waits for any one step, seconds.
STEP_TIMEOUT = 240.0
#: Seconds over which the camera actors' CPU is measured, once all record.
SAMPLE = 5.0


def actor_use(nodes: RayNodes) -> dict[str, dict[str, Any]]:
    """Per camera actor process (by pid): its node, RSS in MB and CPU seconds so far."""
    use: dict[str, dict[str, Any]] = {}
    for name, processes in nodes.processes().items():
        for process in processes:
            try:
                if not " ".join(process.cmdline()[:1]).startswith("ray::CameraWorker"):
                    continue
                times = process.cpu_times()
                use[str(process.pid)] = {
                    "node": name,
                    "rss_mb": process.memory_info().rss / 2**20,
                    "cpu_s": times.user + times.system,
                }
            except psutil.NoSuchProcess:
                continue
    return use


def _cameras_of(count: int) -> list[str]:
    return [f"cam{i}" for i in range(count)]


def _state(store: Store, cameras: list[str]) -> dict[str, Any]:
    """What the database holds for the cameras now."""
    events = store.events(limit=10_000)
    return {
        "events": {e.id: {"camera": e.camera, "wall_end": e.wall_end} for e in events},
        "open": sorted(e.id for e in store.open_events()),
        "segments": {
            c: [[s.start, s.end] for s in store.segments_between(c, float("-inf"), float("inf"))]
            for c in cameras
        },
        "gaps": {c: [[g.start, g.end, g.reason] for g in store.gaps(c)] for c in cameras},
    }


def _wait(what: str, done: Any, server: subprocess.Popen[bytes]) -> float:
    """Polls ``done()`` until true; the time it became true. Raises if the server died or
    ``STEP_TIMEOUT`` passed."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not done():
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)
    return time.time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("scene", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=2, choices=(1, 2))
    parser.add_argument("--kill")
    parser.add_argument("--watch", type=float, default=6.0)
    parser.add_argument("--train", action="store_true", help="run `hearthcam train` too")
    args = parser.parse_args()
    config = load_config(args.config)
    cameras = _cameras_of(args.cameras)
    nodes = RayNodes()
    report: dict[str, Any] = {"cameras": cameras}
    work = args.out.parent
    try:
        # Declared CPUs: every node can hold all the cameras (a quarter CPU each), so the head
        # takes the killed node's cameras on, and one more for a training or a check.
        cpus = round(args.cameras * config.cluster.camera_cpus) + 1
        nodes.start_head(cpus=cpus)
        if args.nodes == 2:
            nodes.add_node("worker-1", cpus=cpus)
        mounts = dict.fromkeys(cameras, args.scene)
        with serving(mounts, work / "rtsp.log") as url:
            settings = config.model_dump(mode="json", exclude={"cameras"})
            settings["cameras"] = {c: {"inputs": [{"path": f"{url}/{c}"}]} for c in cameras}
            settings["cluster"] = {**settings["cluster"], "engine": "ray", "cameras": True}
            settings["web"] = {**settings["web"], "host": "127.0.0.1", "port": 0}
            served = work / "served.yaml"
            served.write_text(yaml.safe_dump(settings))
            _serve(served, cameras, nodes, args, report)
    finally:
        logs = nodes.worker_logs()
        report["starts"] = [{"camera": c, "node": n} for c, n in START_LINE.findall(logs)]
        report["trainings"] = TRAINING_LINE.findall(logs)
        nodes.stop()
        args.out.write_text(json.dumps(report, indent=1))


def _serve(
    served: Path,
    cameras: list[str],
    nodes: RayNodes,
    args: argparse.Namespace,
    report: dict[str, Any],
) -> None:
    config = load_config(served)
    log = served.with_name("run.log")
    hearthcam = str(Path(sys.executable).with_name("hearthcam"))
    command = [hearthcam, "run", "-c", str(served), "--cluster", nodes.address]
    with log.open("w") as output, Store.open(config.database_url, data_dir=config.data_dir) as db:
        started = time.time()
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:

            def segments(camera: str, after: float = float("-inf")) -> int:
                found = db.segments_between(camera, after, float("inf"))
                return sum(1 for s in found if s.start > after)

            report["recording_at"] = _wait(
                "every camera's second segment",
                lambda: all(segments(c) >= 2 for c in cameras),
                server,
            )
            report["started_at"] = started
            report["ray_own"] = ray_own_use(nodes)
            # The camera actors' own processes, steady: memory, and CPU over SAMPLE seconds.
            first = actor_use(nodes)
            time.sleep(SAMPLE)
            report["actors"] = {
                pid: {**use, "cpu": (use["cpu_s"] - first[pid]["cpu_s"]) / SAMPLE}
                for pid, use in actor_use(nodes).items()
                if pid in first
            }
            if args.kill:
                placed = {c: n for c, n in START_LINE.findall(nodes.worker_logs())}
                report["placed_before"] = placed
                report["before"] = _state(db, cameras)
                killed_at = time.time()
                report["killed"] = {
                    "node": args.kill,
                    "processes": nodes.kill(args.kill),
                    "at": killed_at,
                }
                back: dict[str, float] = {}

                def all_back() -> bool:
                    for camera in cameras:
                        if camera not in back and segments(camera, killed_at) >= 1:
                            back[camera] = time.time()
                    return len(back) == len(cameras)

                _wait("every camera recording after the kill", all_back, server)
                report["back_at"] = back
            if args.train:  # the user's ``hearthcam train``, through the running server
                done = subprocess.run(
                    [hearthcam, "train", "-c", str(served)],
                    capture_output=True, text=True, timeout=120, check=False,
                )  # fmt: skip
                report["train"] = {"code": done.returncode, "output": done.stdout + done.stderr}
            time.sleep(args.watch)
            report["ray_own_end"] = ray_own_use(nodes)
        finally:
            server.send_signal(signal.SIGINT)
            interrupted = time.monotonic()
            try:
                report["code"] = server.wait(180)
            except subprocess.TimeoutExpired:
                server.kill()
                report["code"] = server.wait()
            report["stopping_s"] = time.monotonic() - interrupted
            report["output"] = log.read_text(errors="replace")
        report["after"] = _state(db, cameras)
        import logging

        import ray

        ray.init(address=nodes.address, logging_level=logging.WARNING, log_to_driver=False)
        report["nodes"] = {
            n["NodeName"]: {"id": n["NodeID"], "alive": n["Alive"]}
            for n in ray.nodes()  # type: ignore[no-untyped-call]
        }
        ray.shutdown()


if __name__ == "__main__":
    main()
