"""`hearthcam train` and `hearthcam models` over a real SQLite store of annotated feedback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hearthcam.cli import cli
from hearthcam.learn.registry import ModelStatus
from tests.learn.test_retrain import Home, annotate, home
from tests.learn.test_train import world

__all__ = ["home"]


def invoke(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)])
    return result.exit_code, result.output


def test_train_list_rollback_promote(home: Home, tmp_path: Path) -> None:
    config = tmp_path / "hearthcam.yaml"
    config.write_text(f"data_dir: {home.data}\n")
    code, text = invoke(config, "models", "list")
    assert code == 0, text
    assert "served: the built-in rules" in text
    code, text = invoke(config, "train")
    assert code == 2
    assert "annotate more shared clips first" in text
    events, truth = world(120, seed=2)
    annotate(home, events, truth, households=5)
    code, text = invoke(config, "train")
    assert code == 0, text
    assert "held-out evaluation" in text
    assert "false alerts / camera-day" in text
    assert "promoted: the live verdict uses it" in text
    served = home.registry.served()
    assert served is not None
    code, text = invoke(config, "models", "list")
    assert served.id in text
    code, text = invoke(config, "models", "rollback")
    assert code == 0
    assert "serving the built-in rules" in text
    assert home.registry.served() is None
    retired = home.registry.get(served.id)
    assert retired is not None
    assert retired.status is ModelStatus.RETIRED
    code, text = invoke(config, "models", "promote", served.id[:10])
    assert code == 0, text
    again = home.registry.served()
    assert again is not None
    assert again.id == served.id
    code, text = invoke(config, "models", "promote", "zzzz")
    assert code == 2
    assert "names 0 models" in text
