"""``hearthcam media export`` refuses to write a decrypted copy inside the data directory;
``hearthcam media export-range`` writes a range as the app's export of it, or says why not."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from hearthcam.app import open_media
from hearthcam.cli import cli
from hearthcam.exports import Exporter
from hearthcam.exports.jobs import Requester
from hearthcam.store.db import Store
from hearthcam.vault.media import read_bytes
from tests.support.recorded import record_footage


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config naming a data directory that holds a (never opened) database file."""
    data = tmp_path / "data"
    (data / "clips").mkdir(parents=True)
    (data / "hearthcam.db").write_bytes(b"")
    path = tmp_path / "hearthcam.yaml"
    path.write_text(f"data_dir: {data}\n")
    return path


def export_to(config: Path, target: Path) -> tuple[int, str]:
    args = ["media", "export", "e" * 32, "-o", str(target), "--config", str(config)]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def test_a_plaintext_copy_is_refused_inside_the_data_dir_even_through_a_link(
    config: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (tmp_path / "into-data").symlink_to(data / "clips")
    (tmp_path / "copy-link.mp4").symlink_to(data / "clips" / "copy.mp4")
    for target in (
        data / "copy.mp4",
        data / "clips" / ".." / "copy.mp4",
        tmp_path / "into-data" / "copy.mp4",  # a folder outside that is a link in
        tmp_path / "copy-link.mp4",  # a dangling link outside that points in
    ):
        code, output = export_to(config, target)
        assert code == 2, target
        assert "outside the data directory" in output, target
    assert sorted(p.name for p in data.rglob("*")) == ["clips", "hearthcam.db"]


# ``hearthcam media export-range``: the same core as the app's exports ------------------------

T0 = 1_700_000_000.0


@pytest.fixture
def recorded(tmp_path: Path) -> Path:
    """A data directory with 40 s of sealed ``front`` footage from T0; its config file."""
    data = tmp_path / "rec-data"
    data.mkdir()
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        media = open_media(store, data)
        record_footage(store, media, data, "front", T0, 40.0, scratch=tmp_path)
    path = tmp_path / "rec.yaml"
    path.write_text(f"data_dir: {data}\n")
    return path


def export_range(config: Path, *args: str) -> tuple[int, str]:
    command = ["media", "export-range", *args, "--config", str(config)]
    result = CliRunner().invoke(cli, command)
    return result.exit_code, result.output


def test_a_range_is_written_as_the_apps_export_of_it_is(recorded: Path, tmp_path: Path) -> None:
    target = tmp_path / "range.mp4"
    start = dt.datetime.fromtimestamp(T0 + 5, dt.UTC).isoformat()
    code, output = export_range(
        recorded, "--camera", "front", "--start", start, "--end", str(T0 + 25), "-o", str(target)
    )

    assert code == 0, output
    assert f"to {target}" in output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        frames = container.decode(stream)
        times = [float(f.pts * stream.time_base) for f in frames if f.pts is not None]
    assert abs(max(times) - min(times) + 0.1 - 20.0) <= 1.0
    # The app's export of the same range is the same MP4 (one core: exports.render_range).
    data = tmp_path / "rec-data"
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        media = open_media(store, data)
        exporter = Exporter(store, media, data, clock=lambda: T0 + 3600)
        job = exporter.create(Requester(1, "alice", 1), "front", T0 + 5, T0 + 25)
        assert exporter.wait_idle(60)
        exporter.close()
        done = exporter.rows.get(job.id)
        assert done is not None
        assert done.path is not None
        assert read_bytes(media, done.path) == target.read_bytes()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--camera", "front", "--start", str(T0 + 20), "--end", str(T0 + 10)), "after the start"),
        (("--camera", "front", "--start", str(T0), "--end", str(T0 + 9000)), "at most 120"),
        (("--camera", "front", "--start", str(T0 - 99), "--end", str(T0 - 50)), "no recorded"),
        (("--camera", "front", "--start", "yesterday", "--end", str(T0)), "ISO 8601"),
        (("--camera", "front", "--start", str(T0)), "give --camera, --start and --end"),
        (("--event", "e" * 32), "no event"),
    ],
)
def test_a_range_that_cannot_be_exported_says_why(
    recorded: Path, tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    target = tmp_path / "range.mp4"
    code, output = export_range(recorded, *args, "-o", str(target))
    assert code == 2
    assert words in " ".join(output.split())
    assert not target.exists()
