"""Media paths in rows are relative to the data directory: a data directory moved elsewhere (the
whole folder, database included) keeps every clip, snapshot and segment; a row naming anything
outside is never handed out.

Rows are checked in the SQLite file itself; the move is a real ``shutil.move`` of a data
directory that ``analysis.analyze`` recorded into, read back through the app's open path and
``hearthcam media export``.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from hearthcam import analysis, app
from hearthcam.cli import cli
from hearthcam.config import parse_config
from hearthcam.errors import StoreError
from hearthcam.layout import OutsideDataDir
from hearthcam.lock import DataDirLock
from hearthcam.store.db import Store
from hearthcam.types import Event, Segment, Verdict
from hearthcam.vault.media import read_bytes
from tests.conftest import SceneFile

T0 = 1_700_000_000.0


def event(data: Path, event_id: str = "e" * 32) -> Event:
    day = "2023-11-14"
    return Event(
        event_id, "front", Verdict.THREAT, ("person",), 1.0, 3.0, T0, T0 + 2, 0.9,
        snapshot=data / "snapshots" / "front" / day / f"{event_id}.jpg",
        clip=data / "clips" / "front" / day / f"{event_id}.mp4",
    )  # fmt: skip


def segment(data: Path, start: float = T0) -> Segment:
    return Segment(
        "front", data / "recordings" / "front" / "2023-11-14" / f"{start}.mp4", start, 10
    )


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(query).fetchall()


def test_rows_hold_paths_relative_to_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = tmp_path / "hearthcam.sqlite"
    with Store.open(f"sqlite:///{database}", data_dir=data) as store:
        store.save_event(event(data))
        store.add_segment(segment(data))

    assert rows(database, "SELECT clip, snapshot FROM events") == [
        (f"clips/front/2023-11-14/{'e' * 32}.mp4", f"snapshots/front/2023-11-14/{'e' * 32}.jpg")
    ]
    assert rows(database, "SELECT path FROM segments") == [
        (f"recordings/front/2023-11-14/{T0}.mp4",)
    ]


def test_a_store_opened_at_another_place_hands_out_paths_there(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    database = tmp_path / "hearthcam.sqlite"
    with Store.open(f"sqlite:///{database}", data_dir=old) as store:
        store.save_event(event(old))
        store.add_segment(segment(old))

    with Store.open(f"sqlite:///{database}", data_dir=new) as store:
        assert store.get_event("e" * 32) == event(new)
        assert store.known_segment_paths() == {segment(new).path}
        assert store.oldest_segments(10) == [segment(new)]
        assert store.delete_segments([segment(new).path]) == 1


def test_a_relative_data_directory_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with Store.open("sqlite://", data_dir=Path("data")) as store:
        store.save_event(event(Path("data")))
        found = store.get_event("e" * 32)
    assert found == event(tmp_path / "data")


def test_a_data_directory_that_is_a_link_stores_the_same_rows(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "data"
    real.mkdir(parents=True)
    link = tmp_path / "data"
    link.symlink_to(real)
    database = tmp_path / "hearthcam.sqlite"
    with Store.open(f"sqlite:///{database}", data_dir=link) as store:
        store.save_event(event(link))
        assert store.get_event("e" * 32) == event(link)  # named as the caller names it
    assert rows(database, "SELECT clip FROM events") == [
        (f"clips/front/2023-11-14/{'e' * 32}.mp4",)
    ]


def test_a_path_outside_the_data_directory_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with Store.open("sqlite://", data_dir=data) as store:
        with pytest.raises(OutsideDataDir):
            store.save_event(event(tmp_path / "elsewhere"))
        with pytest.raises(OutsideDataDir):
            store.add_segment(segment(data / ".." / "elsewhere"))
        with pytest.raises(OutsideDataDir):
            store.add_segment(Segment("front", data, T0, T0 + 1))  # the folder itself
        assert store.get_event("e" * 32) is None
        assert store.known_segment_paths() == set()
        # No row can name a path outside, so deleting one deletes nothing.
        assert store.delete_segments([tmp_path / "elsewhere.mp4"]) == 0


@pytest.mark.parametrize(
    "stored",
    ["../elsewhere/secret.jpg", "clips/../../elsewhere/secret.jpg", "/etc/passwd", "linked/x.jpg"],
)
def test_a_row_that_escapes_the_data_directory_is_never_handed_out(
    tmp_path: Path, stored: str, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (data / "linked").symlink_to(tmp_path / "elsewhere")  # a folder inside that links out
    database = tmp_path / "hearthcam.sqlite"
    with Store.open(f"sqlite:///{database}", data_dir=data) as store:
        store.save_event(event(data))
        store.add_segment(segment(data))
    with closing(sqlite3.connect(database)) as connection, connection:  # a tampered database
        connection.execute("UPDATE events SET snapshot = ?", (stored,))
        connection.execute("INSERT INTO segments (camera, path, start, \"end\") VALUES"
                           " ('front', ?, 0, 1)", (stored,))  # fmt: skip

    with (
        caplog.at_level(logging.WARNING),
        Store.open(f"sqlite:///{database}", data_dir=data) as store,
    ):
        found = store.get_event("e" * 32)
        assert found is not None
        assert found.snapshot is None
        assert found.clip == event(data).clip
        assert store.oldest_segments(10) == [segment(data)]
        assert store.known_segment_paths() == {segment(data).path}
    warned = [r for r in caplog.records if stored in r.getMessage()]
    assert len(warned) == 1  # once per value, not per read


def test_an_absolute_row_inside_the_data_directory_is_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    database = tmp_path / "hearthcam.sqlite"
    with Store.open(f"sqlite:///{database}", data_dir=data) as store:
        store.save_event(event(data))
    inside = data / "odd" / "place.jpg"  # a row an upgrade left as it was (no known layout)
    with closing(sqlite3.connect(database)) as connection, connection:
        connection.execute("UPDATE events SET snapshot = ?", (str(inside),))

    with Store.open(f"sqlite:///{database}", data_dir=data) as store:
        found = store.get_event("e" * 32)
    assert found is not None
    assert found.snapshot == inside


def test_a_store_without_a_data_directory_refuses_media_paths_only() -> None:
    with Store.open("sqlite://") as store:
        store.add_gap("front", T0, T0 + 1, "test")
        store.save_event(Event("ev", "front", Verdict.MOTION, (), 0, 1, T0, T0 + 1, 0.1))
        assert store.get_event("ev") is not None  # no media, nothing to resolve
        with pytest.raises(StoreError, match="without a data directory"):
            store.save_event(event(Path("/data")))
        with pytest.raises(StoreError, match="without a data directory"):
            store.add_segment(segment(Path("/data")))


# A whole data directory moved ------------------------------------------------------------------


def export_clip(config: Path, event_id: str, target: Path) -> None:
    args = ["media", "export", event_id, "-o", str(target), "--config", str(config)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


@pytest.mark.integration
def test_a_data_directory_moved_elsewhere_keeps_every_clip_and_snapshot(
    pet_scene: SceneFile, tmp_path: Path
) -> None:
    old = tmp_path / "old" / "data"
    recorded = analysis.analyze(str(pet_scene.path), parse_config({"data_dir": str(old)}))
    assert recorded
    assert all(e.clip is not None and e.snapshot is not None for e in recorded)
    new = tmp_path / "new" / "data"
    new.parent.mkdir()
    shutil.move(old, new)  # database, secrets and media together, as a restore does

    config = parse_config({"data_dir": str(new)})
    with DataDirLock.acquire(new) as lock:
        store, media = app.open_store_and_media(config, lock)  # recovery included
        try:
            for was in recorded:
                found = store.get_event(was.id)
                assert found is not None
                assert found.clip is not None
                assert found.snapshot is not None
                assert found.clip == new / was.clip.relative_to(old)  # type: ignore[union-attr]
                with media.open(found.clip) as file, av.open(file, "r") as container:
                    assert sum(1 for _ in container.decode(video=0)) > 0
                assert read_bytes(media, found.snapshot)[:3] == b"\xff\xd8\xff"
            segments = store.known_segment_paths()
            assert segments
            assert all(p.is_relative_to(new) and p.is_file() for p in segments)
        finally:
            store.close()
    config_file = tmp_path / "hearthcam.yaml"
    config_file.write_text(f"data_dir: {new}\n")
    copy = tmp_path / "copy.mp4"
    export_clip(config_file, recorded[0].id, copy)
    with av.open(str(copy), "r") as container:
        assert sum(1 for _ in container.decode(video=0)) > 0
