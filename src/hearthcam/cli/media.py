"""``hearthcam media export``: decrypt an event's clip or snapshot to a file;
``hearthcam media export-range``: a camera's recording over a time range (or an event with
seconds around it) as one MP4, made by the same core as the web app's exports
(``exports.render_range``)."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition
from hearthcam.errors import HearthcamError
from hearthcam.layout import outside

if TYPE_CHECKING:
    from hearthcam.vault.media import MediaReader, SealedMedia

from hearthcam.cli.common import ConfigOption, cli, fail, load, out, progress_bar

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


def _wall(text: str) -> float:
    """Unix seconds from a number or an ISO 8601 time (no offset: this machine's time)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        message = f"{text!r}: give ISO 8601 (2026-12-03T17:05:00) or Unix seconds"
        raise typer.BadParameter(message) from None
    return when.timestamp() if when.tzinfo else when.astimezone().timestamp()


@media_cli.command("export-range")
def media_export_range(
    output: Annotated[Path, typer.Option("--output", "-o", help="where the MP4 goes")],
    camera: Annotated[str | None, typer.Option(help="the camera (with --start and --end)")] = None,
    start: Annotated[str | None, typer.Option(help="ISO 8601 or Unix seconds")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 or Unix seconds")] = None,
    event: Annotated[str | None, typer.Option(help="an event's id (instead of a range)")] = None,
    before: Annotated[float, typer.Option(min=0, max=3600, help="seconds before the event")] = 10,
    after: Annotated[float, typer.Option(min=0, max=3600, help="seconds after the event")] = 10,
    password_stdin: Annotated[
        bool, typer.Option(help="read the owner's password from stdin (password mode)")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Write a camera's recording from START to END (or an event +- seconds) as one MP4.

    The same rules as an export in the app: the end after the start, at most
    exports.max_minutes, no range in the future, some footage in it. The copy is PLAINTEXT,
    so it must go outside the data directory."""
    from hearthcam.exports import ExportRefused, event_range, render_range
    from hearthcam.exports.plan import check_range
    from hearthcam.pipeline.clips import ClipError
    from hearthcam.store.db import Store
    from hearthcam.vault.keyring import HouseholdLocked, WrongPassword

    cfg = load(config)
    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise fail(f"no hearthcam data in {root}")
    target = output.expanduser().absolute()
    if not outside(target, root):
        raise fail(f"{output}: write the plaintext copy outside the data directory {root}")
    if (event is None) == (camera is None or start is None or end is None):
        raise fail("give --camera, --start and --end, or --event (with --before and --after)")
    # No recovery: a server may be running on this data directory.
    with Store.open(cfg.database_url, data_dir=root) as store:
        if event is not None:
            found = store.get_event(event)
            if found is None:
                raise fail(f"no event {event}")
            camera, (first, last) = found.camera, event_range(found, before, after)
        else:
            first, last = _wall(start or ""), _wall(end or "")
        assert camera is not None
        try:
            check_range(first, last, time.time(), cfg.exports.max_minutes * 60)
            media = composition.open_media_to_read(store, root)
            _unlock_if_needed(media, camera, password_stdin)
            with progress_bar() as progress, open(target, "wb") as copy:
                os.chmod(target, 0o600)
                task = progress.add_task(f"exporting {camera}", total=1.0)
                packets = render_range(
                    store, media, camera, first, last, copy,
                    lambda share: progress.update(task, completed=share),
                )  # fmt: skip
        except (ExportRefused, ClipError) as error:
            target.unlink(missing_ok=True)
            raise fail(str(error)) from None
        except WrongPassword:
            target.unlink(missing_ok=True)
            raise fail(f"{camera}: that password does not open its household") from None
        except HouseholdLocked:
            target.unlink(missing_ok=True)
            raise fail(f"{camera}: its household is locked (password mode)") from None
        except HearthcamError as error:
            target.unlink(missing_ok=True)
            raise fail(f"{camera}: {error}") from None
    size = target.stat().st_size
    out.print(
        f"wrote {size} bytes ({packets} frames) to {target}",
        markup=False, highlight=False, soft_wrap=True,
    )  # fmt: skip


def _unlock_if_needed(media: SealedMedia, camera: str, password_stdin: bool) -> None:
    """Asks for the owner's password when the camera's household is in password mode."""
    from hearthcam.vault.keyring import KeyMode

    household = media.household(camera)
    keyring = media.vault.keyring
    if keyring.mode(household) is not KeyMode.PASSWORD or keyring.is_unlocked(household):
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = str(typer.prompt("the owner's password", hide_input=True))
    keyring.unlock(household, password)
