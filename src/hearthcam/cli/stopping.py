"""How ``hearthcam run`` is stopped: SIGINT and SIGTERM, in every phase of its life.

Installed before the data directory is touched. A signal is seen by a watcher thread at once,
through Python's wakeup fd, even while the main thread sits in a long C call (a busy database,
a model load), where a Python-level handler would wait for it to return:

- while starting: the start is abandoned at its next step (what started is stopped); if that
  step does not end within ``START_GRACE`` seconds the process exits anyway. Nothing records
  yet, and every start-up step survives being cut short (as it survives ``kill -9``).
- while running: the main thread stops everything in order and flushes.
- a second signal, or one while stopping: exit at once, whatever is left.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from enum import Enum
from types import FrameType
from typing import Final

from hearthcam.errors import HearthcamError

START_GRACE: Final = 5.0
EXIT_FORCED: Final = 1
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class Phase(Enum):
    """Where ``run`` is: what a stop signal does depends on it."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


class StartInterrupted(HearthcamError):
    """A stop signal came while starting; what started is stopped as the exception unwinds."""


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _exit_now(code: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no atexit, no joins: a thread that does not stop must not keep us


class StopSignals:
    """SIGINT/SIGTERM for the life of ``run`` (a context manager: installs, then restores)."""

    def __init__(self, start_grace: float = START_GRACE) -> None:
        self.stop = threading.Event()
        self._start_grace = start_grace
        self._phase = Phase.STARTING
        self._received = 0
        self._lock = threading.Lock()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)  # the C handler must never block
        self._previous: dict[int, object] = {}
        self._previous_fd = -1

    def __enter__(self) -> StopSignals:
        for number in _SIGNALS:
            # A Python handler is what makes the C handler write to the wakeup fd; the watcher
            # thread does the work.
            self._previous[number] = signal.signal(number, _noted)
        self._previous_fd = signal.set_wakeup_fd(self._write_fd, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, name="stop-signals", daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for number, previous in self._previous.items():
            signal.signal(number, previous)  # type: ignore[arg-type]
        os.close(self._write_fd)  # ends the watcher

    @property
    def phase(self) -> Phase:
        """Where ``run`` is now."""
        with self._lock:
            return self._phase

    def enter(self, phase: Phase) -> None:
        """Moves to ``phase`` (the main thread's word on where it is)."""
        with self._lock:
            self._phase = phase

    def check(self) -> None:
        """Between start-up steps: StartInterrupted if a stop signal came."""
        if self.stop.is_set():
            raise StartInterrupted("stopped before the start finished")

    def _watch(self) -> None:
        while data := os.read(self._read_fd, 64):
            for number in data:
                if number in _SIGNALS:
                    self._on_signal(signal.Signals(number))
        os.close(self._read_fd)

    def _on_signal(self, which: signal.Signals) -> None:
        with self._lock:
            self._received += 1
            again, phase = self._received > 1, self._phase
        if again or phase is Phase.STOPPING:
            _say(f"{which.name} again: exiting now, without waiting for the rest to stop")
            _exit_now(EXIT_FORCED)
        _say(f"{which.name}: stopping")
        self.stop.set()
        if phase is Phase.STARTING:
            timer = threading.Timer(self._start_grace, self._start_overdue, args=(which,))
            timer.daemon = True
            timer.start()

    def _start_overdue(self, which: signal.Signals) -> None:
        if self.phase is Phase.STARTING:
            _say(
                f"{which.name}: the start did not stop within {self._start_grace:.0f} s; "
                "exiting now (nothing was recording yet)"
            )
            _exit_now(0)


def _noted(_signum: int, _frame: FrameType | None) -> None:
    """The Python-level handler: the watcher thread already has the signal."""
