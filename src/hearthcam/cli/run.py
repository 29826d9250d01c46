"""``hearthcam run``: record and analyse until stopped, serving the web app."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from hearthcam import app as composition
from hearthcam import runtime as runtime_module
from hearthcam.config import parse_config
from hearthcam.errors import ConfigError
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
    """Record and analyse every camera until SIGINT/SIGTERM, then flush and exit."""
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
    if not cfg.cameras:
        raise fail("no cameras: add some to the config or pass --camera NAME=URL")
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
            raise fail(f"web: {error} (set web.port, or web.enabled: false)") from None

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


def _setup_open(runtime: runtime_module.Runtime) -> bool:
    from hearthcam.accounts import Accounts

    return Accounts(runtime.store).setup_allowed()


def _print_change(change: object, event: Event) -> None:
    out.print(
        f"[{getattr(change, 'value', change)}] {_event_line(event)}", markup=False, soft_wrap=True
    )
