"""The command line: run, analyze, demo, config check, bench.

Errors a user can fix (bad config, unreadable file) print one clear message and exit 2; nothing
here holds state beyond one command.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hearthcam import app as composition
from hearthcam.config import Config, load_config, parse_config
from hearthcam.errors import ConfigError, HearthcamError
from hearthcam.types import Event

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from hearthcam.learn.export import ExportOptions
    from hearthcam.store.audit import AuditLog
    from hearthcam.store.media_io import MediaReader
    from hearthcam.web import ServerHandle

cli = typer.Typer(
    add_completion=False, no_args_is_help=True, help="hearthcam: private home security cameras."
)
config_cli = typer.Typer(no_args_is_help=True, help="Configuration files.")
cli.add_typer(config_cli, name="config")
user_cli = typer.Typer(
    no_args_is_help=True, help="User accounts (for scripts; the web app has a setup page)."
)
cli.add_typer(user_cli, name="user")
audit_cli = typer.Typer(no_args_is_help=True, help="The tamper-evident log of who viewed clips.")
cli.add_typer(audit_cli, name="audit")
media_cli = typer.Typer(no_args_is_help=True, help="Event media (stored encrypted at rest).")
cli.add_typer(media_cli, name="media")

out = Console()
err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file", dir_okay=False)
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    # soft_wrap: one message stays one line however narrow the terminal (or a pipe's 80 columns).
    # escape: a file name such as "[garage] door.mp4" is text, not Rich markup.
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(path: Path | None) -> Config:
    try:
        return load_config(path) if path is not None else parse_config({})
    except ConfigError as error:
        err.print(
            f"[bold red]error:[/] invalid config {escape(error.source)}:",
            highlight=False,
            soft_wrap=True,
        )
        for problem in error.problems:
            err.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def event_record(event: Event) -> dict[str, object]:
    """The JSON form of an event printed by ``analyze --json``."""
    return {
        "id": event.id,
        "camera": event.camera,
        "verdict": event.verdict.value,
        "labels": list(event.labels),
        "start": round(event.start, 2),
        "end": round(event.end, 2),
        "score": round(event.score, 3),
        "zones": list(event.zones),
        "alert": event.alert,
        "clip": str(event.clip) if event.clip else None,
        "snapshot": str(event.snapshot) if event.snapshot else None,
    }


def _event_line(event: Event) -> str:
    labels = ",".join(event.labels) or "-"
    zones = f" zones={','.join(event.zones)}" if event.zones else ""
    return (
        f"{event.camera} {event.start:7.1f}-{event.end:7.1f}s {event.verdict.value:<8} "
        f"labels={labels} score={event.score:.2f}{zones} clip={event.clip}"
    )


def _run_analysis(path: str, config: Config, quiet: bool) -> list[Event]:
    if quiet:
        return composition.analyze(path, config)
    with _progress() as progress:
        task = progress.add_task(f"analysing {Path(path).name}", total=1.0)
        return composition.analyze(
            path, config, progress=lambda done: progress.update(task, completed=done)
        )


@cli.command()
def analyze(
    path: Annotated[str, typer.Argument(help="video file to analyse as if it were a camera")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per event")] = False,
) -> None:
    """Run the whole live path over a video file at full speed and print its events."""
    cfg = _load(config)
    try:
        events = _run_analysis(path, cfg, quiet=as_json)
    except HearthcamError as error:
        raise _fail(str(error)) from None
    for event in events:
        if as_json:
            print(json.dumps(event_record(event)))
        else:
            out.print(_event_line(event), highlight=False, markup=False, soft_wrap=True)
    if not as_json:
        err.print(f"{len(events)} events", highlight=False)


@cli.command()
def run(
    config: ConfigOption = None,
    camera: Annotated[
        list[str] | None,
        typer.Option("--camera", help="NAME=URL (rtsp://, http(s)://, file, /dev/videoN)"),
    ] = None,
) -> None:
    """Record and analyse every camera until SIGINT/SIGTERM, then flush and exit."""
    cfg = _load(config)
    extra: dict[str, str] = {}
    for item in camera or []:
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise _fail(f"--camera {item!r}: expected NAME=URL")
        extra[name] = url
    try:
        cfg = composition.with_cameras(cfg, extra)
        cfg = parse_config(cfg.model_dump(mode="json"))
    except ConfigError as error:
        raise _fail("; ".join(error.problems)) from None
    if not cfg.cameras:
        raise _fail("no cameras: add some to the config or pass --camera NAME=URL")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from hearthcam.web import EventBus, ServerError  # FastAPI: only for the commands that serve

    bus = EventBus()
    runtime = composition.build(cfg, listeners=[_print_change, bus.on_change])
    stop = runtime.stop
    web: ServerHandle | None = None
    if cfg.web.enabled:
        try:
            web = composition.serve_web(runtime, bus)
        except ServerError as error:
            runtime.close()
            raise _fail(f"web: {error} (set web.port, or web.enabled: false)") from None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        err.print(f"{signal.Signals(signum).name}: stopping", highlight=False)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runtime.start()
    err.print(
        f"recording {', '.join(runtime.pipelines)} into {cfg.data_dir}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if web is not None:
        setup = " (first start: create the owner account there)" if _setup_open(runtime) else ""
        err.print(f"web app at {web.url}{setup}", highlight=False, markup=False, soft_wrap=True)
    while not stop.wait(0.5):
        pass
    if web is not None:
        web.stop()  # first: open timelines and live views end before the cameras do
    runtime.close()
    err.print("stopped cleanly", highlight=False)


def _setup_open(runtime: composition.Runtime) -> bool:
    from hearthcam.accounts import Accounts

    return Accounts(runtime.store).setup_allowed()


def _print_change(change: object, event: Event) -> None:
    out.print(
        f"[{getattr(change, 'value', change)}] {_event_line(event)}", markup=False, soft_wrap=True
    )


@cli.command()
def demo(
    folder: Annotated[
        Path,
        typer.Option(
            "--data-dir", help="the demo's folder: its scene, and its data directory in data/"
        ),
    ] = Path("hearthcam-data/demo"),
) -> None:
    """Run the full live path on a short scene built from real imagery (no download)."""
    from hearthcam import scenes

    # The scene is the demo's input, a plain video: it stays out of the data directory, which
    # holds only what hearthcam stored (encrypted).
    scene = folder / "scene.mp4"
    if not scene.exists():
        err.print("building the demo scene from real footage (vtest.avi, Chelsea the cat)")
        spans = scenes.write_scene(scene, scenes.demo_script())
        (folder / "scene.json").write_text(
            json.dumps([[s.part.value, s.start, s.end] for s in spans])
        )
    data_dir = folder / "data"
    cfg = parse_config({"data_dir": str(data_dir)})
    started = time.perf_counter()
    try:
        events = _run_analysis(str(scene), cfg, quiet=False)
    except HearthcamError as error:
        raise _fail(str(error)) from None
    table = Table(title=f"hearthcam demo: {len(events)} events in {scene}")
    for column in ("start", "end", "verdict", "labels", "score", "alert", "clip"):
        table.add_column(column)
    for number, e in enumerate(events, 1):
        table.add_row(
            f"{e.start:.1f}s",
            f"{e.end:.1f}s",
            e.verdict.value,
            ",".join(e.labels) or "-",
            f"{e.score:.2f}",
            "yes" if e.alert else "no",
            f"[{number}]",
        )
    out.print(table)
    # Paths below the table, one a line: long ones stay whole, to paste into a player.
    for number, e in enumerate(events, 1):
        out.print(
            f"[{number}] {_shown_path(e.clip)}", markup=False, highlight=False, soft_wrap=True
        )
    out.print(
        f"analysed in {time.perf_counter() - started:.1f} s; snapshots and clips under {data_dir}"
    )
    if events:
        # The paths above hold encrypted files: a player needs the decrypted copy.
        out.print(
            f"they are stored encrypted; to watch one: hearthcam media export {events[0].id}"
            f" --data-dir {data_dir} -o clip.mp4",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _shown_path(path: Path | None) -> str:
    """A media path as the user can paste it: relative to the working directory when inside it
    (short enough not to wrap), absolute otherwise."""
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@media_cli.command("export")
def media_export(
    event_id: Annotated[str, typer.Argument(help="the event's id (hearthcam analyze --json)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="where the decrypted copy goes")],
    snapshot: Annotated[bool, typer.Option(help="the snapshot (JPEG), not the clip")] = False,
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
    from hearthcam.store.keys import HouseholdLocked, NoMediaKey, WrongPassword

    cfg = _load(config)
    if data_dir is not None:
        cfg = cfg.model_copy(update={"data_dir": data_dir})
    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise _fail(f"no hearthcam data in {root}")  # rather than an empty new database
    target = output.expanduser().absolute()
    if target.parent.resolve().is_relative_to(root.resolve()):
        raise _fail(f"{output}: write the plaintext copy outside the data directory {root}")
    # No recovery: a server may be running on this data directory.
    with Store.open(cfg.database_url) as store:
        event = store.get_event(event_id)
        if event is None:
            raise _fail(f"no event {event_id}")
        path = event.snapshot if snapshot else event.clip
        if path is None:
            raise _fail(f"event {event_id} has no {'snapshot' if snapshot else 'clip'}")
        media = composition.open_media(store, root)
        try:
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
            raise _fail(f"event {event_id}: that password does not open its household") from None
        except HouseholdLocked:
            raise _fail(f"event {event_id}: its household is locked (password mode)") from None
        except (NoMediaKey, FileNotFoundError):
            raise _fail(f"event {event_id}: its media was deleted") from None
        except HearthcamError as error:
            raise _fail(f"event {event_id}: {error}") from None
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
    from hearthcam.learn.export import ExportOptions, inside
    from hearthcam.learn.formats import ExportFormat

    try:
        kind = ExportFormat(fmt.lower())
    except ValueError:
        message = f"{fmt!r} is not one of coco, yolo, cvat, mot"
        raise typer.BadParameter(message, param_hint="'--format'") from None
    cfg = _load(config)
    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise _fail(f"no hearthcam data in {root}")  # rather than an empty new database
    if inside(target, root):
        raise _fail(f"{target}: write the dataset (plaintext) outside the data directory {root}")
    try:
        _write_dataset(cfg, root, target, ExportOptions(kind, every, test_fraction, seed))
    except (HearthcamError, OSError) as error:  # ExportError, a locked household, a lost key
        raise _fail(f"export: {error}") from None


def _write_dataset(cfg: Config, root: Path, target: Path, options: ExportOptions) -> None:
    """Gathers the clips, exports them under a progress bar and prints what was written."""
    import secrets

    from hearthcam.learn.dataset import split_by_household
    from hearthcam.learn.export import ExportError, export, gather, total_frames
    from hearthcam.learn.registry import manifest_digest
    from hearthcam.store.db import Store

    # No recovery: a server may be running on this data directory. A fresh pseudonym key per
    # export: two datasets cannot be joined on their households, nor a pseudonym reversed.
    with Store.open(cfg.database_url) as store:
        clips = gather(store, root, secrets.token_bytes(32))
        if not clips:
            raise ExportError("nothing to export: no published, annotated clip")
        split = split_by_household(clips, options.test_fraction, options.seed)
        media = composition.open_media(store, root)
        with _progress() as progress:
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


@config_cli.command("check")
def config_check(file: Annotated[Path, typer.Argument(help="YAML config file")]) -> None:
    """Validate a config file; every error names the key path and what was expected."""
    cfg = _load(file)
    out.print(
        f"{file}: ok ({len(cfg.cameras)} cameras)", highlight=False, markup=False, soft_wrap=True
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != password:
        raise _fail("the passwords differ")
    return str(password)


@user_cli.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="login name")],
    config: ConfigOption = None,
    role: Annotated[str, typer.Option(help="owner, member, admin or annotator")] = "owner",
    household: Annotated[
        str, typer.Option(help="household name (first owner) or id (members, later owners)")
    ] = "Home",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a user; the first must be an owner (it creates the household, gets every camera)."""
    from hearthcam.accounts import AccountError, Accounts, Role

    cfg = _load(config)
    try:
        wanted = Role(role)
    except ValueError:
        raise _fail(f"--role {role!r}: expected owner, member, admin or annotator") from None
    password = _read_password(password_stdin)
    accounts = Accounts(composition.open_store(cfg))
    now = time.time()
    try:
        if accounts.setup_allowed():
            if wanted is not Role.OWNER:
                raise _fail("the first user must be an owner (--role owner)")
            user = accounts.setup(username, password, household, list(cfg.cameras), now)
        else:
            household_id = int(household) if household.isdigit() else None
            if wanted is Role.MEMBER and household_id is None:
                raise _fail("a member joins an existing household: --household ID")
            if wanted is Role.OWNER and household_id is None:
                household_id = accounts.create_household(household, now)
            if wanted in (Role.ADMIN, Role.ANNOTATOR):
                household_id = None
            user = accounts.create_user(username, password, wanted, household_id, now)
    except AccountError as error:
        raise _fail(str(error)) from None
    where = f" in household {user.household_id}" if user.household_id is not None else ""
    out.print(f"added {user.role.value} {user.username}{where}", highlight=False)


def _audit_log(cfg: Config) -> AuditLog:
    """The view log of the config's database, opened to read (no recovery: a server may run)."""
    from hearthcam.store.audit import AuditLog
    from hearthcam.store.db import Store

    return AuditLog(Store.open(cfg.database_url), None)


def _audit_public_key(cfg: Config, pem: Path | None) -> Ed25519PublicKey | None:
    """The key checkpoints must be signed by: ``--public-key``, else the data dir's own."""
    from hearthcam.store.audit_key import AuditKey, key_path, load_public_key

    if pem is not None:
        return load_public_key(pem.read_bytes())
    path = key_path(cfg.data_dir)
    return AuditKey.load(path).public_key if path.is_file() else None


@audit_cli.command("verify")
def audit_verify(
    config: ConfigOption = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="PEM public key to check checkpoints with (default: the data dir's)"),
    ] = None,
) -> None:
    """Check the whole view log; exit 1 naming each entry changed, removed or reordered."""
    cfg = _load(config)
    try:
        report = _audit_log(cfg).verify(_audit_public_key(cfg, public_key))
    except (HearthcamError, OSError, ValueError) as error:
        raise _fail(f"audit verify: {error}") from None
    summary = f"{report.entries} entries, {report.checkpoints} checkpoints"
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


@audit_cli.command("show")
def audit_show(
    config: ConfigOption = None,
    household: Annotated[int | None, typer.Option(help="only this household's clips")] = None,
    last: Annotated[int, typer.Option(help="how many of the newest entries")] = 20,
) -> None:
    """Print the newest view log entries and the latest signed checkpoint."""
    cfg = _load(config)
    try:
        log = _audit_log(cfg)
        entries = log.entries() if household is None else log.entries_for_household(household)
        checkpoint = log.latest_checkpoint()
    except HearthcamError as error:
        raise _fail(str(error)) from None
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
    from hearthcam.store.audit_key import AuditKey, key_path

    path = key_path(_load(config).data_dir)
    if not path.is_file():
        raise _fail(f"no view log key at {path} yet (the server makes it at its first start)")
    try:
        pem = AuditKey.load(path).public_pem()
    except HearthcamError as error:
        raise _fail(str(error)) from None
    print(pem.decode("ascii"), end="")


@cli.command()
def bench(
    which: Annotated[
        str,
        typer.Argument(
            help="all, or one or more (comma-separated) of: detector, gating, idle, motiond, "
            "cameras, latency, alerts, quality, redact, learning"
        ),
    ] = "all",
    quick: Annotated[bool, typer.Option(help="shorter runs (CI smoke)")] = False,
) -> None:
    """Print the benchmark tables (see docs/benchmarks.md)."""
    from hearthcam.bench import main as bench_main

    with tempfile.TemporaryDirectory(prefix="hearthcam-bench-") as tmp:
        bench_main.run(which, Path(tmp), out, quick=quick)


# The learning commands (train, models) live in their own module; importing it registers them.
from hearthcam import cli_learn  # noqa: E402

__all__ = ["cli", "cli_learn", "main"]


def main() -> None:
    """Entry point of the ``hearthcam`` command."""
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
