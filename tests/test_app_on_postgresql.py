"""The whole app on PostgreSQL (``database: postgresql+psycopg://...``): what ``hearthcam
analyze``/``demo`` and ``hearthcam run`` do, with the database on a real server and the media in
the data directory. The same flows on SQLite are test_app.py's."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from hearthcam import analysis, app
from hearthcam.config import parse_config
from hearthcam.errors import StoreError
from hearthcam.store.db import Store
from hearthcam.types import Verdict
from hearthcam.vault.media import read_bytes
from hearthcam.vault.sealed import plaintext_media_signatures
from tests.conftest import RtspServer, SceneFile
from tests.support.postgres import new_database

pytestmark = pytest.mark.integration


def test_analyze_stores_its_events_and_recordings_in_postgresql(
    pet_scene: SceneFile, tmp_path: Path, postgres_host: str
) -> None:
    database = new_database(postgres_host)  # empty: hearthcam migrates it at start
    data = tmp_path / "data"
    config = parse_config({"data_dir": str(data), "database": database})

    events = analysis.analyze(str(pet_scene.path), config)

    assert [e.verdict for e in events] == [Verdict.PET]
    assert not (data / "hearthcam.db").exists()  # nothing went to a SQLite file
    assert plaintext_media_signatures(data) == []
    with Store.open(database, data_dir=data) as store:
        assert store.get_event(events[0].id) == events[0]
        media = app.open_media(store, data)
        clip = events[0].clip
        assert clip is not None
        with media.open(clip) as file, av.open(file, "r") as container:
            assert sum(1 for _ in container.decode(video=0)) > 0
        assert events[0].snapshot is not None
        assert read_bytes(media, events[0].snapshot)[:3] == b"\xff\xd8\xff"
        assert store.known_segment_paths(pet_scene.path.stem)


def test_run_records_a_camera_into_postgresql_with_retention_on(
    rtsp_servers: Callable[..., RtspServer], tmp_path: Path, postgres_host: str
) -> None:
    server = rtsp_servers("cam")
    database = new_database(postgres_host)
    data = tmp_path / "data"
    config = parse_config(
        {
            "data_dir": str(data),
            "database": database,
            "record": {"segment_seconds": 1},
            "cameras": {"porch": {"inputs": [{"path": server.url()}]}},
        }
    )
    runtime = app.build(config)
    runtime.start()  # retention passes too
    try:
        deadline = time.monotonic() + 30
        while len(runtime.store.known_segment_paths("porch")) < 3:
            assert time.monotonic() < deadline, "timed out waiting for indexed segments"
            time.sleep(0.2)
    finally:
        runtime.close()
        runtime.store.close()
    assert not (data / "hearthcam.db").exists()
    with Store.open(database, data_dir=data) as store:
        indexed = store.known_segment_paths("porch")
        assert len(indexed) >= 3
        assert all(p.is_file() for p in indexed)
        media = app.open_media(store, data)
        newest = max(indexed)
        with media.open(newest) as file, av.open(file, "r") as container:
            assert sum(1 for _ in container.decode(video=0)) > 0


def test_an_empty_database_beside_a_data_directory_with_media_is_refused(
    tmp_path: Path, postgres_host: str
) -> None:
    """Pointing an install at a new server database without ``hearthcam db copy`` must not
    begin afresh: setup would reopen and recovery would set every file aside."""
    data = tmp_path / "data"
    clip = data / "clips" / "porch" / "2026-12-04" / "a.mp4"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"\x00\x00\x00\x18ftypisom")
    database = new_database(postgres_host)
    config = parse_config({"data_dir": str(data), "database": database})
    with pytest.raises(StoreError, match=r"is empty, but .* holds media .*hearthcam db copy"):
        app.build(config)
    assert clip.read_bytes() == b"\x00\x00\x00\x18ftypisom"
    assert not list(data.rglob("*.key"))  # no secret made either


def test_a_second_server_on_the_same_database_is_refused_until_the_first_stops(
    tmp_path: Path, postgres_host: str
) -> None:
    """Two data directories on one database: the second server's start-up recovery would
    shred the keys of the first one's files (they are not in its data directory)."""
    database = new_database(postgres_host)
    first, second = (
        parse_config({"data_dir": str(tmp_path / name), "database": database})
        for name in ("node-a", "node-b")
    )
    running = app.build(first, alerts=False)
    try:
        with pytest.raises(StoreError, match="another hearthcam server holds the database"):
            app.build(second, alerts=False)
    finally:
        running.close()
        running.store.close()
    again = app.build(second, alerts=False)  # the claim went with the first server's store
    again.close()
    again.store.close()
