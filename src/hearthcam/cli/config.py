"""``hearthcam config check``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from hearthcam.cli.common import cli, load, out

config_cli = typer.Typer(no_args_is_help=True, help="Configuration files.")
cli.add_typer(config_cli, name="config")


@config_cli.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="YAML config file")]) -> None:
    """Validate a config file; every error names the key path and what was expected."""
    cfg = load(file)
    out.print(
        f"{file}: ok ({len(cfg.cameras)} cameras)", highlight=False, markup=False, soft_wrap=True
    )
