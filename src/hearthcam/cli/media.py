"""``hearthcam media export``: decrypt an event's clip or snapshot to a file."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition
from hearthcam.errors import HearthcamError
from hearthcam.layout import outside

if TYPE_CHECKING:
    from hearthcam.vault.media import MediaReader

from hearthcam.cli.common import ConfigOption, cli, fail, load, out

media_cli = typer.Typer(no_args_is_help=True, help="Event media (stored encrypted at rest).")
cli.add_typer(media_cli, name="media")


@media_cli.command("export")
def media_export(
    event_id: Annotated[str, typer.Argument(help="the event's id (hearthcam analyze --json)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where the decrypted copy goes")],
    snapshot: Annotated[bool, typer.Option(help="the snapshot (JPEG), not the clip")] = False,
    part: Annotated[
        int, typer.Option(min=1, help="which of a long event's consecutive clips (from 1)")
    ] = 1,
    data_dir: Annotated[
        Path | None, typer.Option(help="the data directory (instead of the config's)")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="read the owner's password from stdin (password mode)")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Decrypt an event's clip (or snapshot) to a file outside the data directory.

    A household in password mode is asked for its owner's password (or reads it from stdin)."""
    from hearthcam.store.db import Store
    from hearthcam.vault.keyring import HouseholdLocked, NoMediaKey, WrongPassword

    cfg = load(config)
    if data_dir is not None:
        cfg = cfg.model_copy(update={"data_dir": data_dir})
    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise fail(f"no hearthcam data in {root}")  # rather than an empty new database
    target = output.expanduser().absolute()
    if not outside(target, root):
        raise fail(f"{output}: write the plaintext copy outside the data directory {root}")
    # No recovery: a server may be running on this data directory.
    with Store.open(cfg.database_url, data_dir=root) as store:
        event = store.get_event(event_id)
        if event is None:
            raise fail(f"no event {event_id}")
        clips = event.clips
        if not snapshot and part > max(1, len(clips)):
            raise fail(f"event {event_id} has {len(clips)} clip(s), no clip {part}")
        path = event.snapshot if snapshot else (clips[part - 1] if clips else None)
        if path is None:
            raise fail(f"event {event_id} has no {'snapshot' if snapshot else 'clip'}")
        try:
            media = composition.open_media_to_read(store, root)
            try:
                reader = media.open(path)
            except HouseholdLocked:
                if password_stdin:
                    password = sys.stdin.readline().rstrip("\n")
                else:
                    password = str(typer.prompt("the owner's password", hide_input=True))
                media.vault.keyring.unlock(media.household(event.camera), password)
                reader = media.open(path)
            size = _export(reader, target)
        except WrongPassword:
            raise fail(f"event {event_id}: that password does not open its household") from None
        except HouseholdLocked:
            raise fail(f"event {event_id}: its household is locked (password mode)") from None
        except (NoMediaKey, FileNotFoundError):
            raise fail(f"event {event_id}: its media was deleted") from None
        except HearthcamError as error:
            raise fail(f"event {event_id}: {error}") from None
    out.print(f"wrote {size} bytes to {target}", markup=False, highlight=False, soft_wrap=True)


def _export(reader: MediaReader, target: Path) -> int:
    """Copies a media reader's plaintext to ``target`` (0600); returns the bytes written."""
    written = 0
    with reader, open(target, "wb") as copy:
        os.chmod(target, 0o600)
        while block := reader.read(1024 * 1024):
            copy.write(block)
            written += len(block)
    return written
