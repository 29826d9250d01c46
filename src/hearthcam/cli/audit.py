"""``hearthcam audit verify|checkpoint|show|key``: the view log from the command line.

``checkpoint`` prints a signed checkpoint for the owner to keep outside the database; ``verify
--against`` checks the log still holds every checkpoint kept that way (the only evidence of a
log cut back to an earlier checkpoint, or emptied, by someone who can write the database).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hearthcam.config import Config
from hearthcam.errors import HearthcamError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hearthcam.viewlog.log import AuditLog
    from hearthcam.viewlog.signing import AuditKey, Checkpoint

from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out

audit_cli = typer.Typer(no_args_is_help=True, help="The tamper-evident log of who viewed clips.")
cli.add_typer(audit_cli, name="audit")


@contextlib.contextmanager
def _audit_log(cfg: Config, key: AuditKey | None = None) -> Iterator[AuditLog]:
    """The view log of the config's database, opened to read (no recovery: a server may run);
    with ``key`` it may also sign checkpoints. The database is closed after (on PostgreSQL: its
    connections are given back)."""
    from hearthcam.store.db import Store
    from hearthcam.viewlog.log import AuditLog

    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise fail(f"no hearthcam data in {root}")  # rather than an empty new database
    store = Store.open(cfg.database_url)
    try:
        yield AuditLog(store, key)
    finally:
        store.close()


def _audit_public_key(
    cfg: Config, pem: Path | None, saved: list[tuple[Checkpoint, bytes | None]]
) -> Ed25519PublicKey | None:
    """The key checkpoints must be signed by: ``--public-key``, else the data dir's own, else
    the one a saved checkpoint names (the data dir's key file may be gone with the log)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hearthcam.viewlog.signing import AuditKey, key_path, load_public_key

    if pem is not None:
        return load_public_key(pem.read_bytes())
    path = key_path(cfg.data_dir)
    if path.is_file():
        return AuditKey.load(path).public_key
    named = [raw for _, raw in saved if raw is not None]
    return Ed25519PublicKey.from_public_bytes(named[0]) if named else None


def _saved(paths: list[Path]) -> list[tuple[Checkpoint, bytes | None]]:
    """The checkpoints in the ``--against`` files."""
    from hearthcam.viewlog.signing import parse_saved

    saved = []
    for path in paths:
        try:
            saved += parse_saved(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise fail(f"audit verify: cannot read the checkpoint file {path}: {error}") from None
    return saved


@audit_cli.command("verify")
def audit_verify(
    config: ConfigOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="PEM public key to check checkpoints with (default: the data dir's)"),
    ] = None,
    against: Annotated[
        list[Path] | None,
        typer.Option(
            help="a signed checkpoint you kept (from `audit checkpoint` or the views page): "
            "the log must still hold it (repeat for more)"
        ),
    ] = None,
) -> None:
    """Check the whole view log; exit 1 naming each entry changed, removed or reordered."""
    cfg = load(config)
    saved = _saved(against or [])
    try:
        key = _audit_public_key(cfg, public_key, saved)
        with _audit_log(cfg) as log:
            report = log.verify(key, saved=[c for c, _ in saved])
    except (HearthcamError, OSError, ValueError, TypeError) as error:
        raise fail(f"audit verify: {error}") from None
    summary = f"{report.entries} entries, {report.checkpoints} checkpoints"
    if saved:
        summary += f", {len(saved)} saved checkpoints"
    summary += f", root {report.root.hex()}"
    if report.ok:
        out.print(f"view log intact: {summary}", highlight=False, soft_wrap=True)
        return
    for problem in report.problems:
        err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
    err.print(
        f"[bold red]view log NOT intact:[/] {len(report.problems)} problems ({summary})",
        highlight=False,
        soft_wrap=True,
    )
    raise typer.Exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint(config: ConfigOption = None) -> None:
    """Sign the log as it stands and print the checkpoint (JSON) to keep outside the database."""
    from hearthcam.viewlog.signing import AuditKey, checkpoint_json, key_path

    cfg = load(config)
    path = key_path(cfg.data_dir)
    if not path.is_file():
        raise fail(f"no view log key at {path} yet (the server makes it at its first start)")
    try:
        key = AuditKey.load(path)
        with _audit_log(cfg, key) as log:
            report = log.verify()
            if report.ok:
                checkpoint = log.checkpoint(time.time())
    except (HearthcamError, OSError, ValueError, TypeError) as error:
        raise fail(f"audit checkpoint: {error}") from None
    if not report.ok:
        for problem in report.problems:
            err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        raise fail("audit checkpoint: the view log is NOT intact; no checkpoint signed")
    print(checkpoint_json(checkpoint, key.public_raw()))


@audit_cli.command("show")
def audit_show(
    config: ConfigOption = None,
    household: Annotated[int | None, typer.Option(help="only this household's clips")] = None,
    last: Annotated[int, typer.Option(help="how many of the newest entries")] = 20,
) -> None:
    """Print the newest view log entries and the latest signed checkpoint."""
    cfg = load(config)
    try:
        with _audit_log(cfg) as log:
            entries = log.entries() if household is None else log.entries_for_household(household)
            checkpoint = log.latest_checkpoint()
    except HearthcamError as error:
        raise fail(str(error)) from None
    table = Table(title=f"view log: {len(entries)} entries (times UTC)")
    table.add_column("#", no_wrap=True)
    table.add_column("when", no_wrap=True)
    for column in ("viewer", "role", "home", "clip", "what", "lease"):
        table.add_column(column)
    for logged in entries[-last:] if last > 0 else []:
        e = logged.entry
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(e.time))
        row = (logged.index, when, e.viewer_id, e.viewer_role, e.household_id, e.clip_id)
        table.add_row(*map(str, row), e.derivative.value, e.lease_id or "-")
    out.print(table)
    if checkpoint is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(checkpoint.time_ms / 1000))
        out.print(
            f"checkpoint: size {checkpoint.size}, root {checkpoint.root.hex()}, signed {when} UTC",
            highlight=False,
            soft_wrap=True,
        )


@audit_cli.command("key")
def audit_key(config: ConfigOption = None) -> None:
    """Print the public key (PEM) that checks the view log's checkpoints."""
    from hearthcam.viewlog.signing import AuditKey, key_path

    path = key_path(load(config).data_dir)
    if not path.is_file():
        raise fail(f"no view log key at {path} yet (the server makes it at its first start)")
    try:
        pem = AuditKey.load(path).public_pem()
    except HearthcamError as error:
        raise fail(str(error)) from None
    print(pem.decode("ascii"), end="")
