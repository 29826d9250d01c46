"""``hearthcam run``: record and analyse until stopped, serving the web app."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition
from hearthcam import runtime as runtime_module
from hearthcam.commands import serve_control
from hearthcam.config import Config, parse_config
from hearthcam.control import SERVER_COMMAND, ControlError, socket_path
from hearthcam.errors import ConfigError
from hearthcam.lock import DataDirLock, LockError
from hearthcam.types import Event

if TYPE_CHECKING:
    from hearthcam.web import ServerHandle

from hearthcam.cli.analyze import _event_line
from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out


@cli.command()
def run(
    config: ConfigOption = None,
    camera: Annotated[
        list[str] | None,
        typer.Option("--camera", help="NAME=URL (rtsp://, http(s)://, file, /dev/videoN)"),
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
        cfg = parse_config(cfg.model_dump(mode="json"))
    except ConfigError as error:
        raise fail("; ".join(error.problems)) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        # Before anything touches the data directory: recovery must never run beside a server.
        lock = DataDirLock.acquire(cfg.data_dir, SERVER_COMMAND)
    except LockError as error:  # busy: names the holder and what to do
        raise fail(str(error)) from None
    with lock:
        _serve(cfg, lock)


def _serve(cfg: Config, lock: DataDirLock) -> None:
    """Runs the cameras, the web app and the control socket until SIGINT/SIGTERM."""
    from hearthcam.web import EventBus, ServerError  # FastAPI: only for the commands that serve

    bus = EventBus()
    runtime = composition.build(cfg, listeners=[_print_change, bus.on_change], lock=lock)
    stop = runtime.stop
    try:
        control = serve_control(runtime)
    except ControlError as error:
        runtime.close()
        raise fail(str(error)) from None
    web: ServerHandle | None = None
    if cfg.web.enabled:
        try:
            web = composition.serve_web(runtime, bus)
        except ServerError as error:
            control.stop()
            runtime.close()
            raise fail(f"web: {error} (set web.port, or web.enabled: false)") from None

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        err.print(f"{signal.Signals(signum).name}: stopping", highlight=False)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runtime.start()
    _say_started(runtime, web)
    while not stop.wait(0.5):
        pass
    control.stop()  # first: a command sent now finds no server and waits for the lock
    if web is not None:
        web.stop()  # open timelines and live views end before the cameras do
    runtime.close()
    err.print("stopped cleanly", highlight=False)


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
