"""``hearthcam media export`` refuses to write a decrypted copy inside the data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hearthcam.cli import cli


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
