"""``hearthcam run``: record and analyse until stopped, serving the web app."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition
from hearthcam import runtime as runtime_module
from hearthcam.commands import serve_control
from hearthcam.config import Config, parse_config
from hearthcam.control import SERVER_COMMAND, socket_path
from hearthcam.errors import ConfigError, HearthcamError
from hearthcam.lock import DataDirLock, LockError
from hearthcam.types import Event
from hearthcam.viewlog.signing import AuditKey, key_path

if TYPE_CHECKING:
    from hearthcam.web import ServerHandle

from hearthcam.cli.analyze import _event_line
from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out
from hearthcam.cli.stopping import Phase, StartInterrupted, StopSignals

log = logging.getLogger(__name__)


@cli.command()
def run(
    config: ConfigOption = None,
    camera: Annotated[
        list[str] | None,
        typer.Option("--camera", help="NAME=URL (rtsp://, http(s)://, file, /dev/videoN)"),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(
            "--cluster",
            metavar="HOST:PORT",
            help="run the share checks on the Ray cluster whose head is there, and the cameras "
            "too with cluster: {cameras: true} (cluster: {engine: ray, address: ...}; needs "
            "database: postgresql+psycopg://...)",
        ),
    ] = None,
) -> None:
    """Record and analyse every camera until SIGINT/SIGTERM, then flush and exit.

    Starts with no camera too (add them in the app); one ``run`` per data directory."""
    cfg = load(config)
    extra: dict[str, str] = {}
    for item in camera or []:
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise fail(f"--camera {item!r}: expected NAME=URL")
        extra[name] = url
    try:
        cfg = runtime_module.with_cameras(cfg, extra)
        settings = cfg.model_dump(mode="json")
        if cluster is not None:
            settings["cluster"] = {**settings["cluster"], "engine": "ray", "address": cluster}
        cfg = parse_config(settings)
    except ConfigError as error:
        raise fail("; ".join(error.problems)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # Signals first: from here on SIGINT/SIGTERM always stop the process (cli/stopping.py).
    with StopSignals() as signals:
        try:
            # Before anything touches the data directory: recovery must never run beside a server.
            lock = DataDirLock.acquire(cfg.data_dir, SERVER_COMMAND)
        except LockError as error:  # busy: names the holder and what to do
            raise fail(str(error)) from None
        with lock:
            _serve(cfg, lock, signals)


def _serve(cfg: Config, lock: DataDirLock, signals: StopSignals) -> None:
    """Starts everything, serves until SIGINT/SIGTERM, stops everything in order.

    Every part started is pushed on one exit stack, so a failed or interrupted start stops
    exactly what had started (and no thread is left to keep the process alive), and a clean
    stop runs the same way: the control socket, then the web app, then the cameras."""
    try:
        with ExitStack() as started:
            parts = _start(cfg, lock, signals, started)
            signals.enter(Phase.RUNNING)
            _say_started(parts.runtime, parts.web)
            while not signals.stop.wait(0.5):
                if parts.runtime.stop.is_set():
                    break
            signals.enter(Phase.STOPPING)
    except StartInterrupted as stopped:
        _say(str(stopped))
        return
    err.print("stopped cleanly", highlight=False)


@dataclass(frozen=True, slots=True)
class _Started:
    runtime: runtime_module.Runtime
    web: ServerHandle | None


def _start(cfg: Config, lock: DataDirLock, signals: StopSignals, started: ExitStack) -> _Started:
    """Checks and starts each part, in the order that fails before any thread runs; a failure
    is one line (exit 2) after ``started`` has stopped what had started."""
    from hearthcam.web import EventBus  # FastAPI: only for the commands that serve

    try:
        if cfg.web.enabled:
            # Before recovery and the model load: these say so at once, and change nothing.
            _check_port(cfg.web.host, cfg.web.port)
            _check_view_log_key(cfg)
        signals.check()
        bus = EventBus()
        # The database, the secrets, recovery, the model files: all refusals come from here.
        runtime = composition.build(cfg, listeners=[_print_change, bus.on_change], lock=lock)
        started.callback(runtime.close)
        signals.check()
        web = None
        if cfg.web.enabled:
            web = composition.serve_web(runtime, bus)  # the view log key, then the port
            started.callback(web.stop)  # before the cameras: live views end first
        signals.check()
        control = serve_control(runtime)
        started.callback(control.stop)  # first: a command sent now finds no server and waits
        signals.check()
        runtime.start()
        return _Started(runtime, web)
    except StartInterrupted:
        signals.enter(Phase.STOPPING)  # a second signal while unwinding exits at once
        raise
    except Exception as error:
        signals.enter(Phase.STOPPING)
        started.close()  # stop what started before the line: it is the last thing said
        raise fail(_failure(error)) from None


def _failure(error: Exception) -> str:
    """One line for a failed start: ours say what to do; anything else is named (a bug)."""
    from hearthcam.web import ServerError

    if isinstance(error, ServerError):
        return f"web: {error} (set web.port, or web.enabled: false)"
    if isinstance(error, HearthcamError):
        text = str(error)
    else:
        log.debug("start failed", exc_info=error)
        text = f"cannot start: {type(error).__name__}: {error}"
    # SQLAlchemy appends a "(Background on this error at: ...)" line; one line is what we say.
    lines = [line for line in text.splitlines() if not line.startswith("(Background on")]
    return " ".join(" ".join(lines).split())


def _check_view_log_key(cfg: Config) -> None:
    """StoreError if the view log key is there but does not load (serve_web makes a missing
    one, after the database and the server secret have passed)."""
    path = key_path(cfg.data_dir.expanduser())
    if path.exists() or path.is_symlink():
        AuditKey.load(path)


def _check_port(host: str, port: int) -> None:
    """ServerError if ``host:port`` cannot be bound now (the server binds it again later)."""
    from hearthcam.threaded_server import cannot_bind
    from hearthcam.web import ServerError

    why = cannot_bind(host, port)
    if why is not None:
        raise ServerError(f"cannot listen on {host}:{port}: {why}")


def _say_started(runtime: runtime_module.Runtime, web: ServerHandle | None) -> None:
    """Where the recordings go, where the app is, and where to add a camera if there is none."""
    data_dir = runtime.config.data_dir
    if runtime.cameras:
        _say(f"recording {', '.join(runtime.pipelines) or 'nothing (cameras off)'} into {data_dir}")
    elif web is not None:
        _say(
            f"no cameras yet: add one in the app at {web.url}/settings (Settings -> Cameras), "
            "or in the config"
        )
    else:
        _say("no cameras yet: add one to the config (cameras:), or pass --camera NAME=URL")
    if web is not None:
        setup = " (first start: create the owner account there)" if _setup_open(runtime) else ""
        _say(f"web app at {web.url}{setup}")
    _say(f"control socket at {socket_path(data_dir)} (user add, models, train reach it)")


def _say(line: str) -> None:
    err.print(line, highlight=False, markup=False, soft_wrap=True)


def _setup_open(runtime: runtime_module.Runtime) -> bool:
    from hearthcam.accounts import Accounts

    return Accounts(runtime.store).setup_allowed()


def _print_change(change: object, event: Event) -> None:
    out.print(
        f"[{getattr(change, 'value', change)}] {_event_line(event)}", markup=False, soft_wrap=True
    )
