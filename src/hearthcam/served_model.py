"""The live verdict's model: the registry's served model at start, swapped while cameras run.

The live path cannot import the learning side (import-linter), so the composition root hands it
a ``VerdictSlot`` holding either the served model (``LearnedVerdict``) or the rules, and this
module's ``ModelWatcher`` keeps it current: every ``interval`` seconds (and at once when a clip
is withdrawn in this process) it re-reads which model the registry serves, because a promote or
rollback may come from another process (``hearthcam models ...``). A model file that fails to
load is logged and the rules serve instead; a tainted model is never served (the registry no
longer returns it). With ``retrain`` the watcher also runs the retrains the registry queued
after a withdrawal, at most once per ``retry`` seconds while they cannot run.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hearthcam.errors import HearthcamError
from hearthcam.learn.registry import ModelRegistry
from hearthcam.pipeline.events import VerdictModel
from hearthcam.pipeline.learned import LearnedVerdict, ModelFileError, VerdictNet, VerdictSlot
from hearthcam.pipeline.verdict import RuleVerdict
from hearthcam.store.db import Store

if TYPE_CHECKING:  # scikit-learn is imported only when a training runs
    from hearthcam.learn.retrain import Trainer

log = logging.getLogger(__name__)


def _load(registry: ModelRegistry) -> tuple[VerdictModel, str | None]:
    served = registry.served()
    if served is None:
        return RuleVerdict(), None
    try:
        net = VerdictNet.from_bytes(registry.file_of(served.id).read_bytes())
    except (OSError, ModelFileError) as error:
        log.warning("verdict model %s cannot be used (%s): the rules decide", served.id, error)
        return RuleVerdict(), None
    return LearnedVerdict(net, served.id, RuleVerdict()), served.id


def served_verdict(store: Store, data_dir: Path) -> VerdictSlot:
    """A slot holding the served model, or the rules when there is none (or it fails to load)."""
    verdict, model_id = _load(ModelRegistry(store, data_dir))
    if model_id is not None:
        log.info("verdicts by model %s", model_id)
    return VerdictSlot(verdict, model_id)


class ModelWatcher:
    """Keeps a ``VerdictSlot`` on the registry's served model; runs queued retrains."""

    def __init__(
        self,
        slot: VerdictSlot,
        store: Store,
        data_dir: Path,
        *,
        retrain: bool = False,
        interval: float = 30.0,
        retry: float = 3600.0,
        trainer: Trainer | None = None,
    ) -> None:
        self.slot, self._store, self._data_dir = slot, store, data_dir
        #: Runs the queued retrains (and ``hearthcam train`` through the server): here, or on a
        #: cluster; None: ``train_once`` in this process, loaded at the first training.
        self.trainer = trainer
        self._registry = ModelRegistry(store, data_dir)
        self._retrain, self._interval, self._retry = retrain, interval, retry
        self._wake = threading.Event()
        self._last_try: float | None = None

    def check(self) -> bool:
        """Re-points the slot if the served model changed; returns whether it did."""
        served = self._registry.served()
        if (served.id if served else None) == self.slot.model_id:
            return False
        verdict, model_id = _load(self._registry)
        self.slot.use(verdict, model_id)
        log.info("verdicts now by %s", model_id or "the rules")
        return True

    def retrain_if_queued(self, now: float) -> bool:
        """Runs one training if a retrain is queued (and the last failed try is old enough)."""
        if not self._registry.retrains():
            return False
        if self._last_try is not None and now - self._last_try < self._retry:
            return False
        self._last_try = now
        trainer = self.trainer
        if trainer is None:
            from hearthcam.learn.retrain import local_trainer  # scikit-learn: when training

            trainer = local_trainer(self._store, self._data_dir)
        try:
            outcome = trainer(now)
        except HearthcamError as error:
            log.warning("queued retrain cannot run yet: %s", error)
            return False
        self._last_try = None
        log.info("retrained: model %s (%s)", outcome.candidate.id, outcome.why)
        return True

    def on_withdrawn(self, share_id: str) -> list[str]:
        """A clip was withdrawn here: look again at once (its model may be tainted now)."""
        self._wake.set()
        return []

    def run_forever(self, stop: threading.Event) -> None:
        """Checks until ``stop`` is set (a thread of the runtime)."""
        while not stop.is_set():
            try:
                if self._retrain:
                    self.retrain_if_queued(time.time())
                self.check()
            except Exception:  # never let the watcher die: the rules keep serving
                log.exception("model watcher")
            # Short waits on stop, so closing the runtime never waits out the interval.
            deadline = time.monotonic() + self._interval
            while not stop.wait(0.25) and not self._wake.is_set():
                if time.monotonic() >= deadline:
                    break
            self._wake.clear()
