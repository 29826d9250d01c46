"""Commands that only read (``media export``, ``export``, ``audit``) may run beside a server: they
run no recovery and write nothing to the data directory, refusing where they would have to."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam.lock import DataDirLock
from hearthcam.store.db import Store
from hearthcam.types import Event, Verdict


def test_media_export_without_a_server_secret_refuses_and_makes_none(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    clip = data / "clips" / "porch" / "e1.mp4"
    with Store.open(f"sqlite:///{data / 'hearthcam.db'}", data_dir=data) as store:
        store.save_event(
            Event("e1", "porch", Verdict.THREAT, ("person",), 0, 5, 0, 5, 0.9, clip=clip)
        )
    config = tmp_path / "hearthcam.yml"
    config.write_text(f"data_dir: {data}\n")
    # A server holds the lock: a reader does not need it.
    with DataDirLock.acquire(data, "hearthcam run"):
        before = sorted(p.name for p in data.iterdir())
        result = CliRunner().invoke(
            cli, ["media", "export", "e1", "-o", str(tmp_path / "out.mp4"), "--config", str(config)]
        )
        assert sorted(p.name for p in data.iterdir()) == before
    assert result.exit_code == 2, result.output
    assert "no server secret" in result.output
    assert not (data / "secrets").exists()
