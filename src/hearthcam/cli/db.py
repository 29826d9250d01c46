"""``hearthcam db copy --to postgresql+psycopg://...``: an install's SQLite database moved into an
empty PostgreSQL database (``store.copy``), with a progress bar and the row counts checked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hearthcam.cli.common import ConfigOption, cli, fail, load, out, progress_bar

db_cli = typer.Typer(no_args_is_help=True, help="The database: move it to PostgreSQL.")
cli.add_typer(db_cli, name="db")


@db_cli.command("copy")
def db_copy(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="an EMPTY PostgreSQL database: postgresql+psycopg://user:pw@host/name"
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Copy the SQLite database into an empty PostgreSQL one (stop hearthcam first; the SQLite
    file is only read). Then set `database:` in the config to the new URL."""
    from sqlalchemy.engine import make_url

    from hearthcam.errors import HearthcamError
    from hearthcam.lock import DataDirLock
    from hearthcam.store.copy import copy_database, shown

    cfg = load(config)
    url = make_url(cfg.database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        raise fail(f"db copy: the config's database is not a SQLite file: {shown(str(url))}")
    source = Path(str(url.database)).expanduser()
    with progress_bar() as bar:
        task = bar.add_task("tables", total=None)

        def moved(table: str, done: int, total: int) -> None:
            bar.update(task, description=table, completed=done, total=max(total, 1))

        try:
            # The data directory's lock: no hearthcam writes the source while it is copied.
            with DataDirLock.acquire(cfg.data_dir.expanduser(), "db copy"):
                copied = copy_database(source, to, moved)
        except HearthcamError as error:
            raise fail(f"db copy: {error}") from None
    counts = Table("table", "rows", title=f"copied {source} to {shown(to)}")
    for table in copied:
        counts.add_row(table.name, str(table.rows))
    out.print(counts)
    out.print(
        f"{sum(t.rows for t in copied)} rows in {len(copied)} tables, every count checked; "
        f"now set `database: {shown(to)}` in the config",
        highlight=False,
        soft_wrap=True,
    )
