"""The hub's checks and training on a Ray cluster (``hearthcam hub serve --ray HEAD``): each
clip's check is a Ray task on any node with a free CPU, and so is each training's fit, so the
hub's throughput grows with its nodes while ``hub serve`` keeps answering homes and annotators.

What crosses Ray is the hub's database address, its clips folder, a clip's (home id, clip id)
and the seed; what comes back is a check's reason (None: passed) or a fitted model's payload
and the ids of the clips it learned from. Never a clip's bytes, a key or the hub's identity: a
task opens the database (PostgreSQL, which every node reaches) and the clips folder (shared by
the nodes, as the home's cluster shares its data directory) itself, decrypts the clip in memory
with the key the database holds, and a worker process keeps what it opened and loaded (the
models) for its next task. Only ``hub serve`` records outcomes, deletes a refused clip (with a
receipt signed by its key) and signs a model: the signing key stays in its process.

Fail-closed as in one process: a check that runs and fails refuses its clip. A check that
cannot run (its models do not load: the task raised before judging) leaves the clip waiting,
offered to nobody; a task whose node or worker process dies is run again by Ray
(``RETRIES`` times), and a clip that loses its task ``LOST_LIMIT`` passes in a row (it may be
what kills the worker) is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from hearthcam.hub.checks import ClipInspector, ModelInspector, judge
from hearthcam.hub.clips import open_clip
from hearthcam.hub.identity import HubError
from hearthcam.hub.registry import open_hub_engine
from hearthcam.hub.training import Fitted, fit_pooled, pooled_examples
from hearthcam.raylink import join, log_to_stderr, result, where

log = logging.getLogger(__name__)

#: How many times Ray runs a task again when its node or worker process dies.
RETRIES: Final = 2
#: Passes in a row a clip may lose its task (node or worker gone) before it is refused.
LOST_LIMIT: Final = 3
#: CPUs a check or a fit declares to Ray.
TASK_CPUS: Final = 1.0
#: How often a pass looks at the server's stop while it waits for outcomes, seconds.
STOP_POLL: Final = 0.5
#: The longest a fit may take on the cluster, queueing included, seconds.
TRAINING_WAIT: Final = 1800.0
#: Clips whose node ``where`` remembers (for tests and benchmarks), at most.
REMEMBERED: Final = 10_000


class TrainingFailed(HubError):
    """A fit was lost on the cluster (its node died, or no node ran it in time)."""


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What a task needs to open the hub's clips: its database and its clips folder."""

    database: str
    clips: str


class _Worker:
    """What one worker process opened: the hub's database, and the checks' models (loaded at
    its first check)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.engine = open_hub_engine(settings.database, "the hub's database on a Ray node")
        self.folder = Path(settings.clips)
        self._inspector: ClipInspector | None = None

    def inspector(self) -> ClipInspector:
        if self._inspector is None:
            self._inspector = ModelInspector()
        return self._inspector


_worker: _Worker | None = None  # this worker process's, made at its first task


def _worker_for(settings: WorkerSettings) -> _Worker:
    global _worker
    if _worker is None or _worker.settings != settings:
        if _worker is not None:
            _worker.engine.dispose()
        _worker = _Worker(settings)
    return _worker


def check_task(settings: WorkerSettings, home_id: int, clip_id: str) -> tuple[str | None, str]:
    """A Ray task: one clip's checks on this node; the reason it may not be offered (None: it
    may), and where it ran (node id/process id). Raises, without judging, when the models do
    not load (the clip waits)."""
    log_to_stderr()
    here = where()
    log.info("hub check of clip %s of home %d starts on %s", clip_id, home_id, here)
    worker = _worker_for(settings)
    inspector = worker.inspector()  # raises before judging: the clip waits
    reason = judge(inspector, partial(open_clip, worker.engine, worker.folder, home_id, clip_id))
    log.info("hub check of clip %s of home %d: %s", clip_id, home_id, reason or "passed")
    return reason, here


def fit_task(settings: WorkerSettings, seed: int) -> tuple[Fitted, str]:
    """A Ray task: reads the pooled examples from the hub's database and fits on them."""
    log_to_stderr()
    here = where()
    log.info("hub training starts on %s", here)
    worker = _worker_for(settings)
    fitted = fit_pooled(pooled_examples(worker.engine), seed)
    log.info("hub training fitted on %d clips on %s", len(fitted.learned), here)
    return fitted, here


def connect(address: str) -> None:
    """Joins the cluster whose head is at ``address`` (ClusterError at once if nothing
    answers there)."""
    join(address, "--ray")


class RayChecks:
    """``hub.checks.RemoteChecks`` as Ray tasks. ``where`` records the node and process that
    checked each clip."""

    def __init__(self, settings: WorkerSettings) -> None:
        import ray

        self._settings = settings
        self._task = ray.remote(check_task).options(
            num_cpus=TASK_CPUS,
            max_retries=RETRIES,  # a node or worker process that died; not a failed check
            scheduling_strategy="SPREAD",
        )
        self.where: dict[tuple[int, str], str] = {}
        self._lost: dict[tuple[int, str], int] = {}

    def inspect(
        self, waiting: Sequence[tuple[int, str]], stop: threading.Event
    ) -> Iterator[tuple[int, str, str | None]]:
        """Submits every waiting clip at once (Ray runs as many as the cluster has CPUs for)
        and yields each outcome as it comes; once ``stop`` is set, cancels what still runs."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        if len(self.where) > REMEMBERED:
            self.where.clear()
        running = {self._task.remote(self._settings, h, c): (h, c) for h, c in waiting}
        while running:
            if stop.is_set():
                for ref in running:
                    ray.cancel(ref, force=True)
                return
            done, _ = ray.wait(list(running), num_returns=1, timeout=STOP_POLL)
            if not done:
                continue
            clip = running.pop(done[0])
            try:
                reason, here = ray.get(done[0])
            except RayTaskError as error:  # raised before judging (the models): it waits
                log.warning("the hub's check of clip %s could not run: %s", clip[1], error)
                continue
            except RayError as error:  # its node or process died more often than retried
                lost = self._lost.get(clip, 0) + 1
                log.warning("the hub's check of clip %s was lost (%d): %s", clip[1], lost, error)
                if lost < LOST_LIMIT:
                    self._lost[clip] = lost
                    continue
                self._lost.pop(clip, None)
                yield (*clip, f"the check failed: its task was lost {lost} times")
                continue
            self._lost.pop(clip, None)
            self.where[clip] = here
            yield (*clip, reason)


class RayTraining:
    """The training schedule's ``fitter``: each fit a Ray task; ``last_where`` is where the
    last one ran."""

    def __init__(self, settings: WorkerSettings) -> None:
        self._settings = settings
        self.last_where: str | None = None

    def __call__(self, seed: int) -> Fitted:
        import ray

        task = ray.remote(fit_task).options(num_cpus=TASK_CPUS, max_retries=RETRIES)
        ref = task.remote(self._settings, seed)
        started = time.monotonic()
        # A refusal (too few annotated clips) comes back as the TrainingRefused it was.
        done: tuple[Fitted, str] = result(ref, TRAINING_WAIT, "fit", TrainingFailed)
        fitted, here = done
        self.last_where = here
        log.info("the hub fitted a model on %s in %.1f s", here, time.monotonic() - started)
        return fitted


def settings_of(database: str, clips: Path) -> WorkerSettings:
    """The tasks' settings for the hub whose database is at ``database`` and whose clips are
    sealed in ``clips`` (the same path on every node)."""
    return WorkerSettings(database, str(clips.resolve()))
