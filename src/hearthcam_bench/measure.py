"""Measuring: wall and CPU time of this process (or another), other load on the machine,
CPU by thread, the machine's description, and percentiles.

CPU is process CPU time (all threads; psutil, the same counter as ``time.process_time`` for this
process); wall time is ``time.perf_counter``. Other engineers' jobs may share the machine, so
every measurement also records how much CPU everything else used meanwhile.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil


def _cpu_seconds(process: psutil.Process) -> float:
    if process.pid == os.getpid():
        # Nanosecond resolution, and it keeps the CPU of threads that have ended.
        return time.process_time()
    times = process.cpu_times()  # clock ticks (10 ms) of another process
    return float(times.user + times.system)


def _busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    return float(sum(times) - idle)


@dataclass(frozen=True)
class Usage:
    """What a measured stretch cost: CPU percentages are of one core (the machine has nproc)."""

    wall: float
    cpu: float
    others: float
    samples: tuple[float, ...] = ()

    @property
    def cpu_percent(self) -> float:
        """CPU of the measured process as a percentage of one core."""
        return 100.0 * self.cpu / self.wall if self.wall > 0 else 0.0

    @property
    def others_percent(self) -> float:
        """CPU of every other process on the machine, percent of one core."""
        return 100.0 * self.others / self.wall if self.wall > 0 else 0.0

    @property
    def median_percent(self) -> float | None:
        """Median of the per-lap CPU percentages, if laps were taken."""
        return median(self.samples)


class Meter:
    """Measures one process (default: this one) from ``start`` to ``stop``, with optional laps."""

    def __init__(self, target: psutil.Process | None = None) -> None:
        self._me = psutil.Process()
        self.target = target or self._me
        self._t0 = self._cpu0 = self._own0 = self._busy0 = 0.0
        self._lap = (0.0, 0.0)
        self._samples: list[float] = []

    def start(self) -> Meter:
        """Starts (or restarts) measuring."""
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds(self.target)
        self._own0 = _cpu_seconds(self._me)
        self._busy0 = _busy_seconds()
        self._lap = (self._t0, self._cpu0)
        self._samples = []
        return self

    def lap(self) -> float:
        """CPU percent of the target since the previous lap; kept for the median."""
        now, cpu = time.perf_counter(), _cpu_seconds(self.target)
        wall = now - self._lap[0]
        value = 100.0 * (cpu - self._lap[1]) / wall if wall > 0 else 0.0
        self._lap = (now, cpu)
        self._samples.append(value)
        return value

    def stop(self) -> Usage:
        """The usage since ``start``."""
        wall = time.perf_counter() - self._t0
        cpu = _cpu_seconds(self.target) - self._cpu0
        own = _cpu_seconds(self._me) - self._own0
        ours = own if self.target.pid == self._me.pid else own + cpu
        others = max(0.0, _busy_seconds() - self._busy0 - ours)
        return Usage(wall, cpu, others, tuple(self._samples))


def measure_for(seconds: float, meter: Meter, tick: float = 1.0) -> Usage:
    """Sleeps ``seconds`` while ``meter`` takes a lap every ``tick``; returns the usage."""
    meter.start()
    end = time.perf_counter() + seconds
    while (left := end - time.perf_counter()) > 0:
        time.sleep(min(tick, left))
        meter.lap()
    return meter.stop()


def others_percent(seconds: float = 1.0) -> float:
    """CPU other processes use now (percent of one core), sampled over ``seconds``."""
    return measure_for(seconds, Meter(), tick=seconds).others_percent


def wait_for_quiet(limit: float, threshold: float = 30.0) -> float:
    """Waits up to ``limit`` seconds for other processes to use under ``threshold`` % of a
    core (the machine is shared); returns the last sample, quiet or not."""
    end = time.perf_counter() + limit
    load = others_percent()
    while load >= threshold and time.perf_counter() < end:
        load = others_percent()
    return load


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, by Python thread name (native ones as
    ``native``), so a cost can be pinned on the source, recorder or analysis threads."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    out: dict[str, float] = {}
    for info in psutil.Process().threads():
        name = names.get(info.id, "native")
        out[name] = out.get(name, 0.0) + info.user_time + info.system_time
    return out


def thread_switches() -> dict[str, int]:
    """Voluntary context switches so far (/proc: the thread blocked, then woke) of its threads,
    by Python thread name (native ones as ``native``): how often each thread woke up."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    out: dict[str, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        count = 0
        for line in text.splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                count += int(line.split(":", 1)[1])
        name = names.get(int(task.name), "native")
        out[name] = out.get(name, 0) + count
    return out


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return float(np.median(values)) if len(values) else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear), or None for no values."""
    return float(np.percentile(values, q)) if len(values) else None


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, str]:
    """The machine and software the figures were measured on."""
    import av
    import cv2
    import onnxruntime

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return {
        "date": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu_model(),
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "onnxruntime / PyAV / OpenCV": f"{onnxruntime.__version__} / {av.__version__} / "
        f"{cv2.__version__}",
        "load average (1, 5, 15 min) at start": load,
    }
