"""``hearthcam export``: a dataset of the annotated, published shared clips."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition
from hearthcam.config import Config
from hearthcam.errors import HearthcamError

if TYPE_CHECKING:
    from hearthcam.learn.export import ExportOptions

from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out, progress_bar


@cli.command("export")
def export_dataset(
    target: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="a new or empty folder outside the data directory", file_okay=False
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="coco, yolo, cvat or mot")],
    every: Annotated[
        int, typer.Option(min=1, help="coco and yolo keep every N-th frame (cvat, mot: all)")
    ] = 1,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of clips (whole households) in test")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="seed of the household split")] = 0,
    config: ConfigOption = None,
) -> None:
    """Write a dataset of the annotated, published shared clips (redacted frames only).

    The dataset is PLAINTEXT (decoded frames and boxes), so it must go outside the data
    directory and is yours to protect. manifest.json lists every clip and consent id it used.
    """
    from hearthcam.layout import outside
    from hearthcam.learn.export import ExportOptions
    from hearthcam.learn.formats import ExportFormat

    try:
        kind = ExportFormat(fmt.lower())
    except ValueError:
        message = f"{fmt!r} is not one of coco, yolo, cvat, mot"
        raise typer.BadParameter(message, param_hint="'--format'") from None
    cfg = load(config)
    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise fail(f"no hearthcam data in {root}")  # rather than an empty new database
    target = target.expanduser().absolute()
    if not outside(target, root):
        raise fail(f"{target}: write the dataset (plaintext) outside the data directory {root}")
    try:
        _write_dataset(cfg, root, target, ExportOptions(kind, every, test_fraction, seed))
    except (HearthcamError, OSError) as error:  # ExportError, a locked household, a lost key
        raise fail(f"export: {error}") from None


def _write_dataset(cfg: Config, root: Path, target: Path, options: ExportOptions) -> None:
    """Gathers the clips, exports them under a progress bar and prints what was written."""
    import secrets

    from hearthcam.learn.dataset import split_by_household
    from hearthcam.learn.export import ExportError, export, gather, total_frames
    from hearthcam.learn.registry import manifest_digest
    from hearthcam.store.db import Store

    # No recovery: a server may be running on this data directory. A fresh pseudonym key per
    # export: two datasets cannot be joined on their households, nor a pseudonym reversed.
    with Store.open(cfg.database_url, data_dir=root) as store:
        clips = gather(store, root, secrets.token_bytes(32))
        if not clips:
            raise ExportError("nothing to export: no published, annotated clip")
        split = split_by_household(clips, options.test_fraction, options.seed)
        media = composition.open_media_to_read(store, root)
        with progress_bar() as progress:
            task = progress.add_task(f"exporting {options.format.value}", total=None)
            progress.update(task, total=total_frames(split, media, root))
            document = export(
                split, media, root, target, options, time.time(), lambda: progress.advance(task)
            )
    if split.note:
        err.print(f"note: {split.note}", highlight=False, soft_wrap=True)
    counts = document["counts"]
    out.print(
        f"wrote {len(document['clips'])} clips ({counts['train']['clips']} train, "
        f"{counts['test']['clips']} test) to {target}; manifest sha256 {manifest_digest(document)}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
