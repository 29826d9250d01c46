"""How many stream tests each user may run: a sliding window per user, kept in memory.

A stream test makes the server connect somewhere; even with one error text, success against
failure over many tries maps a network. Ten a minute is plenty for setting up cameras and
slow for scanning. Adding or editing a camera tests its streams too, so it spends the same budget.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Final

TESTS_PER_WINDOW: Final = 10
WINDOW_SECONDS: Final = 60.0


class StreamTestBudget:
    """Up to ``limit`` tests per user in any ``window`` seconds (thread-safe)."""

    def __init__(self, limit: int = TESTS_PER_WINDOW, window: float = WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window
        self._lock = threading.Lock()
        self._spent: dict[int, deque[float]] = {}

    def spend(self, user: int, now: float) -> float | None:
        """Counts one test of ``user`` at ``now``; None if allowed, else seconds to wait."""
        with self._lock:
            times = self._spent.setdefault(user, deque())
            while times and times[0] <= now - self._window:
                times.popleft()
            if len(times) >= self._limit:
                return times[0] + self._window - now
            times.append(now)
            return None
