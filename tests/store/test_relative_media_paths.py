"""The revision that makes media paths relative (r20261203_relative_media_paths), case by case, on
SQLite and on a real PostgreSQL server: rows are written at the baseline as older versions wrote
them, then the database is opened (upgraded) as hearthcam opens it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, select

from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.store.migrate import alembic_config, head
from hearthcam.store.schema import metadata
from tests.support.postgres import new_database

BASELINE = "0c1a7f5e2b10"
OLD = "/srv/old/hearthcam-data"
DAY = "2025-11-24"

# (stored before, stored after) for the segments' path column.
SEGMENTS = [
    (f"{OLD}/recordings/front/{DAY}/16-00-00.000.mp4", f"recordings/front/{DAY}/16-00-00.000.mp4"),
    # A data directory whose own path holds a layout name: the parts count from the end.
    (
        f"/home/recordings/clips/recordings/back/{DAY}/16-00-00.000.mp4",
        f"recordings/back/{DAY}/16-00-00.000.mp4",
    ),
    # Already relative to the data directory: untouched.
    (f"recordings/yard/{DAY}/16-00-00.000.mp4", f"recordings/yard/{DAY}/16-00-00.000.mp4"),
    # Relative to an old working directory (before the data directory was made absolute).
    (
        f"hearthcam-data/recordings/porch/{DAY}/16-00-00.000.mp4",
        f"recordings/porch/{DAY}/16-00-00.000.mp4",
    ),
    # In no known layout: left as it is (and logged when absolute).
    ("/mnt/usb/front-0001.mp4", "/mnt/usb/front-0001.mp4"),
    ("recordings/front/0000.mp4", "recordings/front/0000.mp4"),
]
# (clip before, snapshot before, clip after, snapshot after) for events.
EVENTS = [
    (
        f"{OLD}/clips/front/{DAY}/e1.mp4",
        f"{OLD}/snapshots/front/{DAY}/e1.jpg",
        f"clips/front/{DAY}/e1.mp4",
        f"snapshots/front/{DAY}/e1.jpg",
    ),
    (None, f"{OLD}/snapshots/front/{DAY}/e2.jpg", None, f"snapshots/front/{DAY}/e2.jpg"),
    (None, None, None, None),
    (
        "/elsewhere/e4.mp4",
        f"snapshots/front/{DAY}/e4.jpg",
        "/elsewhere/e4.mp4",
        f"snapshots/front/{DAY}/e4.jpg",
    ),
]


def at_baseline(database: str) -> None:
    """A database at the baseline revision, as a version before this revision left it."""
    Store.open(database).close()
    engine = create_engine(database)
    try:
        with engine.begin() as connection:
            command.downgrade(alembic_config(connection), BASELINE)
    finally:
        engine.dispose()


def write_rows(database: str, segments: list[str], events: list[tuple[Any, Any]]) -> None:
    engine = create_engine(database)
    try:
        with engine.begin() as connection:
            for i, path in enumerate(segments):
                connection.execute(
                    metadata.tables["segments"].insert(),
                    {"camera": "front", "path": path, "start": i, "end": i + 1},
                )
            for i, (clip, snapshot) in enumerate(events):
                connection.execute(
                    metadata.tables["events"].insert(),
                    {"id": f"e{i + 1}", "camera": "front", "verdict": "threat", "labels": [],
                     "start": 0.0, "end": 1.0, "wall_start": 0.0, "wall_end": 1.0, "score": 0.5,
                     "zones": [], "tracks": [], "clip": clip, "snapshot": snapshot,
                     "alert": False, "finished": True},
                )  # fmt: skip
    finally:
        engine.dispose()


def read_rows(database: str) -> tuple[list[str], list[tuple[Any, Any]]]:
    segments, events = metadata.tables["segments"], metadata.tables["events"]
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            paths = connection.execute(select(segments.c.path).order_by(segments.c.id)).scalars()
            media = connection.execute(
                select(events.c.clip, events.c.snapshot).order_by(events.c.id)
            )
            return list(paths), [(clip, snapshot) for clip, snapshot in media]
    finally:
        engine.dispose()


def check_upgrade(database: str, caplog: pytest.LogCaptureFixture) -> None:
    at_baseline(database)
    write_rows(database, [before for before, _ in SEGMENTS], [e[:2] for e in EVENTS])

    with caplog.at_level(logging.WARNING):
        Store.open(database).close()

    assert read_rows(database) == ([after for _, after in SEGMENTS], [e[2:] for e in EVENTS])
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "/mnt/usb/front-0001.mp4 is in no known layout" in logged
    assert "/elsewhere/e4.mp4 is in no known layout" in logged
    assert "recordings/front/0000.mp4" not in logged  # relative: taken as relative already


def test_media_paths_become_relative_on_upgrade(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    check_upgrade(f"sqlite:///{tmp_path / 'hearthcam.sqlite'}", caplog)


def test_two_segment_rows_naming_one_file_become_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A data directory moved and indexed again at its new place before the upgrade.
    database = f"sqlite:///{tmp_path / 'hearthcam.sqlite'}"
    at_baseline(database)
    name = f"recordings/front/{DAY}/16-00-00.000.mp4"
    write_rows(database, [f"{OLD}/{name}", f"/srv/new/{name}", name], [])

    with caplog.at_level(logging.WARNING):
        Store.open(database).close()

    assert read_rows(database) == ([name], [])
    assert sum("like another row: deleted" in r.getMessage() for r in caplog.records) == 2


def test_downgrade_makes_paths_absolute_under_the_data_directory_it_is_given(
    tmp_path: Path,
) -> None:
    database = f"sqlite:///{tmp_path / 'hearthcam.sqlite'}"
    at_baseline(database)
    write_rows(database, [f"{OLD}/recordings/front/{DAY}/a.mp4"], [(None, None)])
    Store.open(database).close()
    engine = create_engine(database)
    try:
        with engine.begin() as connection, pytest.raises(StoreError, match="data directory"):
            command.downgrade(alembic_config(connection), BASELINE)
        with engine.begin() as connection:
            config = alembic_config(connection)
            config.attributes["data_dir"] = str(tmp_path / "data")
            command.downgrade(config, BASELINE)
    finally:
        engine.dispose()

    assert read_rows(database) == (
        [f"{tmp_path}/data/recordings/front/{DAY}/a.mp4"],
        [(None, None)],
    )
    Store.open(database).close()  # and up again
    assert read_rows(database) == ([f"recordings/front/{DAY}/a.mp4"], [(None, None)])


@pytest.fixture
def postgres(postgres_host: str) -> str:
    """The session's real PostgreSQL server (``store_fixtures``); its socket folder."""
    return postgres_host


@pytest.mark.integration
def test_media_paths_become_relative_on_postgres(
    postgres: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = new_database(postgres)

    check_upgrade(database, caplog)

    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            assert (
                connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
                == head()
            )
    finally:
        engine.dispose()
