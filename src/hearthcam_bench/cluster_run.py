"""The share checks on a real Ray cluster, driven from inside a loopback-only network namespace
(``raycluster.in_loopback_namespace``); used by ``tests/cluster`` and ``bench cluster``.

``make_shares`` fills a data directory and its PostgreSQL database with consented, sealed
shares of real clips. ``main`` (run as ``python -m hearthcam_bench.cluster_run``) starts a Ray
head and, with ``--nodes 2``, a second node (one CPU each, separate processes), then runs the
server's share checks with the Ray engine over the waiting shares until none waits, and writes
what happened as JSON: each share's outcome and where it was checked, every start of a check
from the workers' own log lines, the nodes, and Ray's own processes' memory and CPU per node.
``--kill NODE --after N`` kills that node (its raylet, agents and every process under them)
once N shares are published while others are being checked. ``--serve`` runs the user's
command instead, ``hearthcam run -c CONFIG --cluster HEAD``, until no share waits.

    python -m hearthcam_bench.cluster_run CONFIG.yaml OUT.json [--nodes 2]
        [--kill worker-1 --after 1] [--serve]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import yaml

from hearthcam import app
from hearthcam.cluster.shares import RayShareChecks
from hearthcam.config import Config, load_config
from hearthcam.privacy.consent import Sharing
from hearthcam.privacy.lifecycle import ShareStatus
from hearthcam.privacy.review import ShareChecks
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore, receipt_digest
from hearthcam.types import Event, Verdict
from hearthcam.vault.media import write_bytes
from hearthcam.vision.prepare import ClipPreparer
from hearthcam_bench.raycluster import RayNodes

MAX_PASSES = 5
CAMERA = "front"


def make_shares(database: str, data: Path, clips: Sequence[Path], now: float) -> list[str]:
    """One consented share of each clip (sealed, as a recorder leaves clips), shared ``now``;
    their ids."""
    ids = []
    with Store.open(database, data_dir=data) as store:
        media = app.open_media(store, data)
        sharing = Sharing(ShareStore(store), data, media=media)
        for source in clips:
            event_id = uuid.uuid4().hex
            clip = data / "clips" / CAMERA / "2026-12-04" / f"{event_id}.sealed.mp4"
            clip.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(media, clip, CAMERA, source.read_bytes())
            event = Event(
                id=event_id, camera=CAMERA, verdict=Verdict.THREAT, labels=("person",),
                start=0.0, end=2.0, wall_start=now - 600, wall_end=now - 598, score=0.9,
                zones=(), tracks=(), snapshot=None, clip=clip, alert=True,
            )  # fmt: skip
            digest = receipt_digest(sharing.receipt(event, "Front door", now))
            ids.append(sharing.share(event, 1, 7, "Front door", digest, now).id)
    return ids


def _no_local_checks() -> ClipPreparer:
    raise AssertionError("with the Ray engine the server itself checks nothing")


#: The line a worker logs when it starts a share's checks (``hearthcam.cluster.shares``).
START_LINE = re.compile(r"share (\w+): checks start on node (\w+)")


def _killer(
    shares: ShareStore, nodes: RayNodes, name: str, after: int, report: dict[str, Any]
) -> None:
    """Kills node ``name`` once ``after`` shares are published and a check that started on that
    node (its worker's log line says so) has not come back yet."""
    import ray

    deadline = time.monotonic() + 600
    node_id = None
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if node_id is None:
            if not ray.is_initialized():
                continue  # the server's checks connect at their first pass
            names = {n["NodeName"]: n["NodeID"] for n in ray.nodes()}  # type: ignore[no-untyped-call]
            node_id = names.get(name)
            continue
        published = len(shares.with_status(ShareStatus.PUBLISHED.value, limit=1000))
        checking = {s.id for s in shares.with_status(ShareStatus.CHECKING.value, limit=1000)}
        busy = sorted(
            share for share, node in START_LINE.findall(nodes.worker_logs())
            if node == node_id and share in checking
        )  # fmt: skip
        if published >= after and busy:
            report["killed"] = {"node": name, "processes": nodes.kill(name), "busy": busy,
                                "published_before": published, "checking_then": len(checking),
                                "at": time.time()}  # fmt: skip
            return


@dataclasses.dataclass
class _RayUse:
    """Ray's own processes (not the workers running checks) on one node: memory and CPU."""

    rss_mb: float = 0.0
    cpu_s: float = 0.0
    processes: int = 0


def ray_own_use(nodes: RayNodes) -> dict[str, dict[str, float]]:
    """Per node: RSS and CPU seconds so far of Ray's own processes (raylet, GCS, agents, log
    monitor); the head's also count the GCS. Worker processes (``ray::...``) are left out."""
    use: dict[str, _RayUse] = {}
    for name, processes in nodes.processes().items():
        total = use.setdefault(name, _RayUse())
        for process in processes:
            try:
                title = " ".join(process.cmdline()[:1])
                if title.startswith("ray::"):
                    continue  # a worker: its CPU is the checks'
                times = process.cpu_times()
                total.rss_mb += process.memory_info().rss / 2**20
                total.cpu_s += times.user + times.system
                total.processes += 1
            except psutil.NoSuchProcess:
                continue
    return {name: dataclasses.asdict(u) for name, u in use.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--nodes", type=int, default=2, choices=(1, 2))
    parser.add_argument("--kill")
    parser.add_argument("--after", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help="run `hearthcam run --cluster`")
    parser.add_argument(
        "--interrupt", action="store_true", help="with --serve: SIGINT while checks run"
    )
    args = parser.parse_args()
    config = load_config(args.config)
    nodes = RayNodes()
    report: dict[str, Any] = {"passes": []}
    try:
        nodes.start_head(cpus=1)
        if args.nodes == 2:
            nodes.add_node("worker-1", cpus=1)
        config = config.model_copy(
            update={"cluster": config.cluster.model_copy(update={"address": nodes.address})}
        )
        if args.serve:
            report["serve"] = _serve(args.config, config, nodes, args.interrupt)
        else:
            _check(config, nodes, args, report)
    finally:
        # Every start of a share's checks, from the worker processes' own log lines.
        report["starts"] = [
            {"share": share, "node": node}
            for share, node in START_LINE.findall(nodes.worker_logs())
        ]
        nodes.stop()
        args.out.write_text(json.dumps(report, indent=1))


def _check(
    config: Config, nodes: RayNodes, args: argparse.Namespace, report: dict[str, Any]
) -> None:
    """The server's share checks (``ShareChecks`` with the Ray engine), pass after pass."""
    import ray

    remote: list[RayShareChecks] = []

    def connect() -> RayShareChecks:
        remote.append(RayShareChecks.connect(config))
        return remote[0]

    with Store.open(config.database_url, data_dir=config.data_dir) as store:
        media = app.open_media_to_read(store, config.data_dir)
        shares = ShareStore(store)
        sharing = Sharing(shares, config.data_dir, media=media)
        checks = ShareChecks(sharing, _no_local_checks, remote=connect)
        if args.kill:
            threading.Thread(
                target=_killer, args=(shares, nodes, args.kill, args.after, report), daemon=True
            ).start()
        before = ray_own_use(nodes)
        started = time.time()
        for _ in range(MAX_PASSES):
            outcomes = checks.run_once()
            report["passes"].append({o.share_id: o.status.value for o in outcomes})
            report["settled_at"] = time.time()
            if not shares.with_status(ShareStatus.CONSENTED.value):
                break
        report["started_at"], report["seconds"] = started, time.time() - started
        after = ray_own_use(nodes)
        report["ray_own"] = {
            name: {**use, "cpu_s": use["cpu_s"] - before.get(name, {}).get("cpu_s", 0.0)}
            for name, use in after.items()
        }
        if args.kill:  # Ray marks a node dead after its health checks fail: wait for it
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and any(
                n["NodeName"] == args.kill and n["Alive"]
                for n in ray.nodes()  # type: ignore[no-untyped-call]
            ):
                time.sleep(0.5)
        report["where"] = remote[0].where if remote else {}
        report["finished"] = remote[0].finished if remote else {}
        report["nodes"] = {
            n["NodeName"]: {"id": n["NodeID"], "alive": n["Alive"], "ip": n["NodeManagerAddress"]}
            for n in ray.nodes()  # type: ignore[no-untyped-call]
        }
        ray.shutdown()


def _serve(path: Path, config: Config, nodes: RayNodes, interrupt: bool) -> dict[str, Any]:
    """``hearthcam run -c CONFIG --cluster ADDRESS`` (web on loopback, no camera) until no share
    waits or is being checked (``interrupt``: once a share is published and others are being
    checked), then SIGINT; its exit
    code, output, how long it took to stop, and the nodes' ids."""
    served = path.with_name("served.yaml")
    settings = config.model_dump(mode="json")
    settings["web"] = {**settings["web"], "host": "127.0.0.1", "port": 0}
    served.write_text(yaml.safe_dump(settings))
    log = path.with_name("run.log")
    hearthcam = str(Path(sys.executable).with_name("hearthcam"))
    command = [hearthcam, "run", "-c", str(served), "--cluster", nodes.address]
    with log.open("w") as output, Store.open(config.database_url, data_dir=config.data_dir) as db:
        shares = ShareStore(db)
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and server.poll() is None:
            waiting = shares.with_status(ShareStatus.CONSENTED.value)
            checking = shares.with_status(ShareStatus.CHECKING.value)
            if not waiting and not checking:
                break
            if interrupt and checking and shares.with_status(ShareStatus.PUBLISHED.value):
                break  # checks have passed and others run
            time.sleep(0.2)
        server.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        code = server.wait(120)
        stopping = time.monotonic() - interrupted
        import ray

        ray.init(address=nodes.address, logging_level=logging.WARNING, log_to_driver=False)
        ids = {n["NodeName"]: n["NodeID"] for n in ray.nodes()}  # type: ignore[no-untyped-call]
        ray.shutdown()
    said = log.read_text(errors="replace")
    return {"code": code, "output": said, "nodes": ids, "stopping_s": stopping}


if __name__ == "__main__":
    main()
