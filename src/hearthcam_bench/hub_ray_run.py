"""The review hub with its checks and training on a real Ray cluster, driven from inside a
loopback-only network namespace (``raycluster.in_loopback_namespace``); used by
``tests/hub/test_remote.py``.

Starts a Ray head and (``--nodes 2``, the default) a second node (one CPU each, separate
processes), then the operator's command ``hearthcam hub serve --database DATABASE --data DATA
--ray HEAD`` until every clip the hub holds has been checked (``--clips``) and (unless
``--no-model``) a model is offered, then SIGINT. Writes what happened as JSON: the command's
exit code and output, how long it took, the nodes' ids, every check (when it started and ended,
on which node) and every start of a fit, from the worker processes' own log lines.

    python -m hearthcam_bench.hub_ray_run DATABASE DATA OUT.json --clips N [--nodes 1]
        [--no-model]
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from hearthcam.hub.registry import hub_clip_checks, hub_models, open_hub_engine, reading
from hearthcam_bench.raycluster import RayNodes

#: A check's first line in a worker's log: when, clip, home, node id.
CHECK_LINE = re.compile(
    r"^(\S+ \S+) INFO \S+ hub check of clip (\S+) of home (\d+) starts on ([0-9a-f]+)/\d+$",
    re.MULTILINE,
)
#: A check's last line: when, clip, home, what it found.
DONE_LINE = re.compile(
    r"^(\S+ \S+) INFO \S+ hub check of clip (\S+) of home (\d+): (.*)$", re.MULTILINE
)
#: A fit's first line in a worker's log: node id.
FIT_LINE = re.compile(r"hub training starts on ([0-9a-f]+)/\d+")
WAIT_S = 400.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database")
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips", type=int, required=True, help="check rows to wait for")
    parser.add_argument("--nodes", type=int, default=2, choices=(1, 2))
    parser.add_argument("--no-model", action="store_true", help="do not wait for a model")
    args = parser.parse_args()
    nodes = RayNodes()
    report: dict[str, Any] = {}
    try:
        nodes.start_head(cpus=1)
        if args.nodes == 2:
            nodes.add_node("worker-1", cpus=1)
        report.update(_serve(args, nodes))
    finally:
        logs = nodes.worker_logs()
        ended = {(c, int(h)): (_when(at), said) for at, c, h, said in DONE_LINE.findall(logs)}
        report["checks"] = [
            {"clip": clip, "home": int(home), "node": node, "started": _when(at),
             "ended": ended.get((clip, int(home)), (None, None))[0],
             "found": ended.get((clip, int(home)), (None, None))[1]}
            for at, clip, home, node in CHECK_LINE.findall(logs)
        ]  # fmt: skip
        report["fits"] = FIT_LINE.findall(logs)
        nodes.stop()
        args.out.write_text(json.dumps(report, indent=1))


def _serve(args: argparse.Namespace, nodes: RayNodes) -> dict[str, Any]:
    """``hearthcam hub serve ... --ray HEAD`` until the clips are checked and a model is
    offered (or ``WAIT_S``), then SIGINT."""
    hearthcam = str(Path(sys.executable).with_name("hearthcam"))
    command = [
        hearthcam, "hub", "serve", "--database", args.database, "--data", str(args.data),
        "--port", "0", "--ray", nodes.address,
        "--operator", "Northwind Review Co-op", "--annotators-in", "Portugal",
    ]  # fmt: skip
    log = args.out.with_name("hub-serve.log")
    engine = open_hub_engine(args.database, "the driver's view of the hub")
    started = time.monotonic()
    try:
        with log.open("w") as output:
            server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
            while time.monotonic() - started < WAIT_S and server.poll() is None:
                with reading(engine) as connection:
                    checked = connection.execute(
                        select(func.count()).select_from(hub_clip_checks)
                    ).scalar_one()
                    models = connection.execute(
                        select(func.count()).select_from(hub_models)
                    ).scalar_one()
                if checked >= args.clips and (models > 0 or args.no_model):
                    break
                time.sleep(0.5)
            settled = time.monotonic() - started
            server.send_signal(signal.SIGINT)
            code = server.wait(120)
    finally:
        engine.dispose()
    import ray

    ray.init(address=nodes.address, logging_level=logging.WARNING, log_to_driver=False)
    ids = {n["NodeName"]: n["NodeID"] for n in ray.nodes()}  # type: ignore[no-untyped-call]
    ray.shutdown()
    return {
        "code": code,
        "output": log.read_text(errors="replace"),
        "settled_s": settled,
        "nodes": ids,
    }


def _when(stamp: str) -> float:
    """A log line's time (``logging``'s asctime, local time) as a unix time."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


if __name__ == "__main__":
    main()
