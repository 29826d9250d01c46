"""Clips shared by the live view tests (written once per session: encoding is the slow part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.live_media import write_numbered


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s, 10 fps, 160x120 H.264 (Constrained Baseline), a keyframe every 10 frames."""
    return write_numbered(tmp_path_factory.mktemp("live") / "clip.mp4", seconds=4.0)


@pytest.fixture(scope="session")
def other_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A different stream: 2 s, 15 fps, 192x144, High profile, keyframe every 15 frames."""
    path = tmp_path_factory.mktemp("live") / "other.mp4"
    return write_numbered(path, seconds=2.0, fps=15, size=(192, 144), gop=15, profile="high")
