"""The share checks on a Ray cluster: each share's scan, redaction and second check is a Ray task
that runs on any node with a free CPU, so their throughput grows with the nodes.

What crosses Ray is the config's sections a check reads, a share's id and camera, and what comes
back is the
``PreparedClip`` (counts, boxes, the outcome): never a frame and never a key. A task opens the
database (PostgreSQL, which every node reaches) and the shared media root itself, reads the
sealed private copy through its own media IO and writes the sealed redacted copy beside it, as
the checks do in one process; a worker process keeps what it opened and loaded for its next
share. The server that asked keeps each share's state (``privacy.review.ShareChecks``). A task
whose node dies is run again by Ray on a live node (``RETRIES`` times); after that its share
goes back to waiting for the server's next pass (owner-only after ``review.MAX_LOST`` such
passes). A check that fails on its node is owner-only, as it is in one process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from hearthcam.config import Config, parse_config
from hearthcam.raylink import join, log_to_stderr
from hearthcam.store.shares import ShareRecord
from hearthcam.vision.prepare import ClipPreparer, PreparedClip, ShareState

log = logging.getLogger(__name__)

#: How many times Ray runs a share's task again when its node or worker process dies.
RETRIES = 2
#: The parts of the config a worker gets (the database, the media, the models' settings).
WORKER_SETTINGS = {"data_dir", "database", "detector", "review"}
#: How often a pass looks at the server's stop while it waits for outcomes, seconds.
STOP_POLL = 0.5
#: Shares whose node ``where`` remembers (for tests and benchmarks), at most.
REMEMBERED = 10_000


class ShareWorker:
    """What one worker process opened for the share checks: the database, the media IO and the
    models, made at its first share and kept for the next ones."""

    def __init__(self, settings: dict[str, Any]) -> None:
        # Imported here: this runs in the worker's process, on any node.
        from hearthcam.pipeline.detect import load_detector
        from hearthcam.store.db import Store
        from hearthcam.vault.household import open_media_to_read
        from hearthcam.vision.prepare import share_preparer

        self.settings = settings
        self.config = parse_config(settings)
        self._store = Store.open(self.config.database_url, data_dir=self.config.data_dir)
        # To read only: the server made the secret and the keys; a worker never creates them.
        self._media = open_media_to_read(self._store, self.config.data_dir)
        self._preparer: ClipPreparer = share_preparer(
            self.config, load_detector(self.config.detector)
        )

    def prepare(self, share_id: str, camera: str) -> PreparedClip:
        from hearthcam.privacy.review import prepare_share

        return prepare_share(self._preparer, self.config.data_dir, self._media, share_id, camera)


_worker: ShareWorker | None = None  # this worker process's, made at its first share


def check_share(settings: dict[str, Any], share_id: str, camera: str) -> tuple[PreparedClip, str]:
    """A Ray task: one share's checks on this node; the outcome, and where it ran (node id and
    process id)."""
    import ray

    global _worker
    log_to_stderr()
    node = ray.get_runtime_context().get_node_id()
    # In the worker's log file on its node: which node checked which share, and when.
    log.info("share %s: checks start on node %s (process %d)", share_id, node, os.getpid())
    if _worker is None or _worker.settings != settings:
        _worker = ShareWorker(settings)
    prepared = _worker.prepare(share_id, camera)
    log.info("share %s: checks done, %s", share_id, prepared.state.value)
    return prepared, f"{node}/{os.getpid()}"


def connect(config: Config) -> None:
    """Joins the cluster at ``cluster.address``, once per process (the share checks and the
    cameras share the connection). ClusterError at once when nothing answers there."""
    join(config.cluster.address or "", "cluster.address (docs/scale.md)")


class RayShareChecks:
    """``privacy.review.RemoteChecks`` as Ray tasks over the cluster. ``where`` records the
    node and process that checked each share, ``finished`` when its outcome came back."""

    def __init__(self, config: Config) -> None:
        import ray

        # Only what a check reads: no alert channel's secrets travel through the cluster.
        self._settings = config.model_dump(mode="json", include=WORKER_SETTINGS)
        self._task = ray.remote(check_share).options(
            num_cpus=config.cluster.share_cpus,
            max_retries=RETRIES,  # a node or worker process that died; not a failed check
            scheduling_strategy="SPREAD",
        )
        self.where: dict[str, str] = {}
        self.finished: dict[str, float] = {}

    @classmethod
    def connect(cls, config: Config) -> RayShareChecks:
        """Joins the cluster at ``cluster.address`` (once per process)."""
        connect(config)
        log.info("share checks run on the Ray cluster at %s", config.cluster.address)
        return cls(config)

    def prepare(
        self, shares: Sequence[ShareRecord], stop: threading.Event
    ) -> Iterator[tuple[ShareRecord, PreparedClip | None]]:
        """Submits every share at once (Ray runs as many as the cluster has CPUs for) and
        yields each outcome as it comes; once ``stop`` is set, cancels what still runs and
        yields those shares as lost."""
        import ray
        from ray.exceptions import RayError, RayTaskError

        if len(self.where) > REMEMBERED:
            self.where.clear()
            self.finished.clear()
        running = {self._task.remote(self._settings, s.id, s.camera): s for s in shares}
        while running:
            if stop.is_set():
                for ref, share in list(running.items()):
                    ray.cancel(ref, force=True)
                    del running[ref]
                    yield share, None
                return
            done, _ = ray.wait(list(running), num_returns=1, timeout=STOP_POLL)
            if not done:
                continue
            ref = done[0]
            share = running.pop(ref)
            self.finished[share.id] = time.time()
            try:
                prepared, where = ray.get(ref)
            except RayTaskError as error:  # the checks raised on their node: fail closed
                log.warning("share %s: the checks failed on their node: %s", share.id, error)
                failure = f"it crashed on a cluster node ({type(error.cause).__name__})"
                yield share, PreparedClip(ShareState.OWNER_ONLY, failure=failure)
                continue
            except RayError as error:  # its node or process died more often than retried
                log.warning("share %s: its task was lost: %s", share.id, error)
                yield share, None
                continue
            self.where[share.id] = where
            yield share, prepared
