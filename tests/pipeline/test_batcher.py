"""Tests of the batcher: requests that queue while a run goes are answered by the next run, in
order, each with its own answer; an error reaches every request of its run only. A fake
detector that waits where the test says: pure logic, no model (the real model batched is in
test_batch_model.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from hearthcam.pipeline.batcher import Batcher, Request
from hearthcam.types import Detections


def image(n: int) -> np.ndarray:
    """A 2x2 picture whose pixels say ``n`` (the fake's answer carries it back)."""
    return np.full((2, 2, 3), n, np.uint8)


def answer(n: int) -> Detections:
    return Detections(np.array([[n, n, n + 1, n + 1]], np.float32), np.ones(1, np.float32),
                      np.zeros(1, np.int32))  # fmt: skip


class Gated:
    """Answers each picture with a box at its number; the first run waits for ``gate``."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.runs: list[list[int]] = []
        self.fail_on: int | None = None

    def detect_many(self, requests: Sequence[Request]) -> list[Detections]:
        numbers = [int(picture[0, 0, 0]) for picture, _ in requests]
        self.runs.append(numbers)
        self.entered.set()
        self.gate.wait(10)
        if self.fail_on in numbers:
            raise RuntimeError("the model failed")
        return [answer(n) for n in numbers]


def ask_in_thread(batcher: Batcher, n: int, out: dict[int, object]) -> threading.Thread:
    def run() -> None:
        try:
            out[n] = batcher.ask(image(n))
        except Exception as error:
            out[n] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_queued(batcher: Batcher, count: int) -> None:
    for _ in range(1000):
        if len(batcher._queue) >= count:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"{count} requests never queued")


def test_requests_queued_during_a_run_go_together_in_the_next_one() -> None:
    detector = Gated()
    batcher = Batcher(detector, max_requests=8)
    out: dict[int, object] = {}
    first = ask_in_thread(batcher, 1, out)
    assert detector.entered.wait(10)
    others = [ask_in_thread(batcher, n, out) for n in (2, 3, 4)]
    wait_queued(batcher, 3)
    detector.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert detector.runs == [[1], [2, 3, 4]]
    for n in (1, 2, 3, 4):
        found = out[n]
        assert isinstance(found, Detections)
        assert found.xyxy.tolist() == [[n, n, n + 1, n + 1]]  # each got its own answer
    assert (batcher.stats.requests, batcher.stats.batches, batcher.stats.largest) == (4, 2, 3)


def test_a_run_takes_at_most_max_requests_in_the_order_they_came() -> None:
    detector = Gated()
    batcher = Batcher(detector, max_requests=2)
    out: dict[int, object] = {}
    first = ask_in_thread(batcher, 1, out)
    assert detector.entered.wait(10)
    others = []
    for n in (2, 3, 4, 5, 6):
        others.append(ask_in_thread(batcher, n, out))
        wait_queued(batcher, n - 1)
    detector.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert detector.runs == [[1], [2, 3], [4, 5], [6]]
    assert all(isinstance(out[n], Detections) for n in range(1, 7))


def test_an_error_reaches_the_requests_of_its_run_only() -> None:
    detector = Gated()
    detector.fail_on = 3
    batcher = Batcher(detector, max_requests=2)
    out: dict[int, object] = {}
    first = ask_in_thread(batcher, 1, out)
    assert detector.entered.wait(10)
    others = []
    for n in (2, 3, 4):
        others.append(ask_in_thread(batcher, n, out))
        wait_queued(batcher, n - 1)
    detector.gate.set()
    for thread in [first, *others]:
        thread.join(10)
    assert detector.runs == [[1], [2, 3], [4]]
    assert [type(out[n]).__name__ for n in (1, 2, 3, 4)] == [
        "Detections",
        "RuntimeError",
        "RuntimeError",
        "Detections",
    ]
    # and the batcher goes on
    detector.fail_on = None
    assert batcher.ask(image(7)).xyxy.tolist() == [[7, 7, 8, 8]]


def test_max_requests_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(Gated(), max_requests=0)
