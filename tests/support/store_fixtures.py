"""Fixtures of the store, vault and view-log tests: a data directory and a real SQLite store
inside it (modules or folders with a store of another shape define their own, which win)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hearthcam.store.db import Store


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{data_dir / 'hearthcam.sqlite'}", data_dir=data_dir) as opened:
        yield opened
