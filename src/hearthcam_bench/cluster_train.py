"""Trainings as Ray tasks on a real cluster (a head and a second node, ``ray start`` processes in
a loopback-only network namespace: ``raycluster.in_loopback_namespace``); used by
``tests/cluster``.

    python -m hearthcam_bench.cluster_train OUT.json CONFIG.yaml [CONFIG.yaml ...]

Each config's database and data directory is trained once, in order, through
``hearthcam.cluster.training.RayTraining`` (what the server's model watcher and ``hearthcam
train`` use with the Ray engine). The JSON says, per config, the outcome (model, promoted, the
node and process that trained) or the error (its type and message), and the nodes' ids.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from hearthcam.cluster.training import RayTraining
from hearthcam.config import load_config
from hearthcam.errors import HearthcamError
from hearthcam_bench.raycluster import RayNodes


def main() -> None:
    out, configs = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    nodes = RayNodes()
    report: dict[str, Any] = {"runs": []}
    try:
        nodes.start_head(cpus=1)
        nodes.add_node("worker-1", cpus=1)
        for path in configs:
            config = load_config(path)
            cluster = config.cluster.model_copy(update={"address": nodes.address})
            trainer = RayTraining(config.model_copy(update={"cluster": cluster}))
            try:
                outcome = trainer(time.time())
            except HearthcamError as error:
                report["runs"].append({"error": type(error).__name__, "message": str(error)})
                continue
            report["runs"].append({
                "model": outcome.candidate.id, "promoted": outcome.promoted,
                "train": outcome.train, "test": outcome.test, "where": trainer.last_where,
            })  # fmt: skip
        import ray

        report["nodes"] = {n["NodeName"]: n["NodeID"] for n in ray.nodes()}  # type: ignore[no-untyped-call]
        ray.shutdown()
    finally:
        nodes.stop()
        out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
