"""Fixtures of the share tests: a real database, an event with a real clip, the Sharing service."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthcam.privacy.consent import Sharing
from hearthcam.store.db import Store
from hearthcam.store.shares import ShareStore, receipt_digest
from hearthcam.types import Event, Verdict
from tests.support.factories import make_h264_segment
from tests.vision.conftest import carphone, carphone_clip, faces, models, people, scanner

__all__ = ["carphone", "carphone_clip", "faces", "models", "people", "scanner"]

NOW = 1_790_000_000.0


@pytest.fixture(scope="session")
def plain_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real 2 s H.264 clip of a moving pattern (no faces)."""
    path = tmp_path_factory.mktemp("share-media") / "clip.mp4"
    make_h264_segment(path, seconds=2.0, fps=10)
    return path


@pytest.fixture
def store(database_url: str, data_dir: Path) -> Iterator[Store]:
    """SQLite; on PostgreSQL too in the modules that override ``backend`` (test_consent)."""
    with Store.open(database_url, data_dir=data_dir) as opened:
        yield opened


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def sharing(store: Store, data_dir: Path) -> Sharing:
    return Sharing(ShareStore(store), data_dir)


def event_with_clip(data_dir: Path, source: Path, camera: str = "front") -> Event:
    """A finished event whose clip (a copy of ``source``) lies where the recorder puts clips."""
    event_id = uuid.uuid4().hex
    clip = data_dir / "clips" / camera / "2026-09-21" / f"{event_id}.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, clip)
    return Event(
        id=event_id, camera=camera, verdict=Verdict.THREAT, labels=("person",), start=0.0,
        end=2.0, wall_start=NOW - 600, wall_end=NOW - 598, score=0.9, zones=(), tracks=(),
        snapshot=None, clip=clip, alert=True,
    )  # fmt: skip


def agreed(
    sharing: Sharing, event: Event, camera_name: str = "Front door", now: float = NOW
) -> str:
    """The digest a browser sends back after showing the receipt."""
    return receipt_digest(sharing.receipt(event, camera_name, now))
