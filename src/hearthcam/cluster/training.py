"""Training on a Ray cluster: a queued retrain (after a withdrawal) and ``hearthcam train`` run as
a Ray task on any node with a free CPU, not in the server, which keeps serving the app.

The task opens the database (PostgreSQL) and the shared data directory itself and runs
``learn.retrain.train_once`` there: it reads the annotated, never withdrawn shared clips' event
features, fits, evaluates on held-out households, writes the model file under the data directory
and registers it with its lineage (and promotes it if it beats the served one), exactly as in
one process. What crosses Ray: the config's ``data_dir`` and ``database``, the split's settings,
and back the ``Outcome`` (ids, metrics, counts). The server's model watcher (and every camera
actor's) picks a promoted model up from the registry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hearthcam.cluster.shares import connect
from hearthcam.config import Config, parse_config
from hearthcam.errors import HearthcamError
from hearthcam.raylink import log_to_stderr, result

if TYPE_CHECKING:
    from hearthcam.learn.retrain import Outcome

log = logging.getLogger(__name__)

#: The parts of the config a training reads.
TRAINING_SETTINGS = {"data_dir", "database"}
#: CPUs a training declares to Ray.
TRAINING_CPUS = 1.0
#: The longest a training may take on the cluster, queueing included, seconds (a training of
#: ten thousand annotated events takes seconds: docs/learning.md).
TRAINING_WAIT = 1800.0


class TrainingFailed(HearthcamError):
    """The training task died with its node or process (Ray's error, not the training's)."""


def train_task(
    settings: dict[str, Any], now: float, test_fraction: float, seed: int
) -> tuple[Outcome, str]:
    """A Ray task: one training on this node; its outcome and where it ran (node/process)."""
    import ray

    from hearthcam.learn.retrain import train_once
    from hearthcam.store.db import Store

    log_to_stderr()
    node = ray.get_runtime_context().get_node_id()
    log.info("training starts on node %s (process %d)", node, os.getpid())
    config = parse_config(settings)
    with Store.open(config.database_url, data_dir=config.data_dir) as store:
        outcome = train_once(store, config.data_dir, now, test_fraction=test_fraction, seed=seed)
    log.info("training done on node %s: model %s", node, outcome.candidate.id)
    return outcome, f"{node}/{os.getpid()}"


class RayTraining:
    """A ``learn.retrain.Trainer`` that runs each training as a Ray task; connects to the
    cluster at the first training. ``last_where`` is the node/process of the last one."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._settings = config.model_dump(mode="json", include=TRAINING_SETTINGS)
        self.last_where: str | None = None

    def __call__(
        self,
        now: float,
        *,
        test_fraction: float = 0.25,
        seed: int = 0,
        step: Callable[[str], None] = lambda _: None,
    ) -> Outcome:
        import ray

        connect(self._config)
        # Cameras and checks can hold every CPU the nodes declare: a training would then wait
        # for ever, so say so now.
        free = ray.available_resources().get("CPU", 0.0)  # type: ignore[no-untyped-call]
        if free < TRAINING_CPUS:
            total = ray.cluster_resources().get("CPU", 0.0)  # type: ignore[no-untyped-call]
            raise TrainingFailed(
                f"the cluster has no CPU free for a training: cameras and checks hold "
                f"{total - free:g} of the {total:g} CPUs its nodes declare; add a node or "
                "declare more CPUs (ray start --num-cpus)"
            )
        task = ray.remote(train_task).options(num_cpus=TRAINING_CPUS, max_retries=1)
        step(f"training on the Ray cluster at {self._config.cluster.address}")
        ref = task.remote(self._settings, now, test_fraction, seed)
        done: tuple[Outcome, str] = result(ref, TRAINING_WAIT, "training", TrainingFailed)
        outcome, where = done
        self.last_where = where
        log.info("trained on the cluster (%s): model %s", where, outcome.candidate.id)
        return outcome
