"""What every command shares: the root Typer app, the consoles, the config loader, one-line
errors (exit 2) and progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from hearthcam.config import Config, load_config, parse_config
from hearthcam.errors import ConfigError

if TYPE_CHECKING:
    pass

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="hearthcam: private home security cameras."
)

out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file", dir_okay=False)
]


def fail(message: str, code: int = 2) -> typer.Exit:
    # soft_wrap: one message stays one line however narrow the terminal (or a pipe's 80 columns).
    # escape: a file name such as "[garage] door.mp4" is text, not Rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def load(path: Path | None) -> Config:
    try:
        return load_config(path) if path is not None else parse_config({})
    except ConfigError as error:
        raise config_failed(error) from None


def config_failed(error: ConfigError) -> typer.Exit:
    """Prints an invalid config's problems, one a line; returns the exit (2) to raise."""
    err.print(
        f"[bold red]error:[/] invalid config {escape(error.source)}:",
        highlight=False,
        soft_wrap=True,
    )
    for problem in error.problems:
        err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    return typer.Exit(2)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
