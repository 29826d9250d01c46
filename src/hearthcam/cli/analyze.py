"""``hearthcam analyze`` and ``hearthcam demo``: the live path over a video file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hearthcam import analysis
from hearthcam.config import Config, parse_config
from hearthcam.errors import HearthcamError
from hearthcam.types import Event

if TYPE_CHECKING:
    pass

from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out, progress_bar


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
        "clips": [str(clip) for clip in event.clips],
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
        return analysis.analyze(path, config)
    with progress_bar() as progress:
        task = progress.add_task(f"analysing {Path(path).name}", total=1.0)
        return analysis.analyze(
            path, config, progress=lambda done: progress.update(task, completed=done)
        )


@cli.command()
def analyze(
    path: Annotated[str, typer.Argument(help="video file to analyse as if it were a camera")],
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per event")] = False,
) -> None:
    """Run the whole live path over a video file at full speed and print its events."""
    cfg = load(config)
    try:
        events = _run_analysis(path, cfg, quiet=as_json)
    except HearthcamError as error:
        raise fail(str(error)) from None
    for event in events:
        if as_json:
            print(json.dumps(event_record(event)))
        else:
            out.print(_event_line(event), highlight=False, markup=False, soft_wrap=True)
    if not as_json:
        err.print(f"{len(events)} events", highlight=False)


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
        raise fail(str(error)) from None
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
