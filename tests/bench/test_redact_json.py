"""``hearthcam bench redact --json``: only the redact scenario has JSON lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from hearthcam_bench.main import run_json


def test_json_lines_are_only_for_the_redact_scenario(tmp_path: Path) -> None:
    console = Console(file=open(tmp_path / "out.txt", "w"), width=120)  # noqa: SIM115
    with pytest.raises(SystemExit) as stop:
        run_json("detector", tmp_path, console)
    assert stop.value.code == 2
    console.file.close()
    assert "only for: hearthcam bench redact" in (tmp_path / "out.txt").read_text()
