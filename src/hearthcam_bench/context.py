"""What every scenario gets: the temp dir, the console, quick mode, media and a shared detector."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from hearthcam.config import DetectorConfig
from hearthcam.pipeline.detect import OnnxDetector, load_detector
from hearthcam_bench.measure import wait_for_quiet
from hearthcam_bench.media import MediaCache


@dataclass
class BenchContext:
    """Shared by the scenarios of one ``hearthcam bench`` run."""

    tmp: Path
    console: Console
    quick: bool
    media: MediaCache
    _detectors: dict[int, OnnxDetector] = field(default_factory=dict)
    _dirs: itertools.count[int] = field(default_factory=itertools.count)

    @classmethod
    def create(cls, tmp: Path, console: Console, quick: bool) -> BenchContext:
        """A context whose media live under ``tmp``."""
        return cls(tmp, console, quick, MediaCache(tmp))

    def detector(self, threads: int | None = None) -> OnnxDetector:
        """The configured default detector (one per thread setting, loaded once)."""
        cfg = DetectorConfig()
        if threads is not None:
            cfg = cfg.model_copy(update={"threads": threads})
        if cfg.threads not in self._detectors:
            self._detectors[cfg.threads] = load_detector(cfg)
        return self._detectors[cfg.threads]

    def workdir(self, name: str) -> Path:
        """A fresh directory for one measurement's data (database, recordings, clips)."""
        path = self.tmp / f"{next(self._dirs):03d}-{name}"
        path.mkdir(parents=True)
        return path

    def progress(self) -> Progress:
        """A transient Rich progress display for a long step."""
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            refresh_per_second=2,  # the display's own CPU stays out of the figures
        )

    def settle(self, limit: float = 15.0) -> None:
        """Before a measurement, waits (up to ``limit`` s, not in quick mode) for other
        processes on this shared machine to quieten down."""
        if not self.quick:
            wait_for_quiet(limit)

    def seconds(self, full: float, quick: float) -> float:
        """A duration for the current mode."""
        return quick if self.quick else full
