"""Detector requests from many threads answered in batches (the node's detector service,
``cluster.detector``).

No timer and no batch size to tune: a request waits only for the model run before it. Whoever
gets the model next takes every request queued while that run went (up to ``max_requests``) and
runs them as one ``detect_many``, so the batch is one request on an idle node and grows with
the load. Requests are served in the order they came; an error in a run is raised to each
request of that run, and the next run goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from hearthcam.types import BGRImage, Detections

Request = tuple[BGRImage, NDArray[np.int32] | None]


class ManyDetector(Protocol):
    """A detector that answers several requests in one call (``OnnxDetector``)."""

    def detect_many(self, requests: Sequence[Request]) -> list[Detections]:
        """``detect`` (boxes None) or ``detect_regions`` of each request, in order."""
        ...


@dataclass(eq=False)
class _Waiting:
    request: Request
    answer: Detections | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class BatchStats:
    """Requests answered, the model calls (batches) they took, and the largest batch."""

    requests: int = 0
    batches: int = 0
    largest: int = 0


class Batcher:
    """Answers ``ask`` from any thread, batching what queues while the detector is busy."""

    def __init__(self, detector: ManyDetector, max_requests: int) -> None:
        if max_requests < 1:
            raise ValueError("max_requests must be at least 1")
        self._detector = detector
        self._max = max_requests
        self._queue: list[_Waiting] = []
        self._queue_lock = threading.Lock()
        self._model = threading.Lock()  # one batch at a time: the session uses the cores
        self.stats = BatchStats()

    def ask(self, image: BGRImage, boxes: NDArray[np.int32] | None = None) -> Detections:
        """The detections of one frame (boxes None) or of its motion boxes' regions."""
        mine = _Waiting((image, boxes))
        with self._queue_lock:
            self._queue.append(mine)
        while not mine.done:
            with self._model:
                if mine.done:  # an earlier run took it along
                    break
                with self._queue_lock:
                    batch = self._queue[: self._max]
                    del self._queue[: self._max]
                self._run(batch)
        if mine.error is not None:
            raise mine.error
        assert mine.answer is not None
        return mine.answer

    def _run(self, batch: list[_Waiting]) -> None:
        try:
            answers = self._detector.detect_many([waiting.request for waiting in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(answers)} answers to {len(batch)} requests")
        except Exception as error:
            for waiting in batch:
                waiting.error, waiting.done = error, True
            return
        finally:
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
        for waiting, answer in zip(batch, answers, strict=True):
            waiting.answer, waiting.done = answer, True
