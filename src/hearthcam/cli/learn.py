"""The learning commands: ``hearthcam train`` and ``hearthcam models list|promote|rollback``.

Registered on the root Typer app when ``hearthcam.cli`` imports this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hearthcam.cli.common import ConfigOption, cli, err, fail, load, out
from hearthcam.config import Config
from hearthcam.control import (
    MetricsSummary,
    PromoteModel,
    Request,
    Response,
    RollbackModel,
    Serving,
    Trained,
    TrainModel,
)
from hearthcam.errors import HearthcamError

if TYPE_CHECKING:
    from hearthcam.learn.registry import ModelRegistry
    from hearthcam.store.db import Store

models_cli = typer.Typer(no_args_is_help=True, help="Trained verdict models and which is served.")
cli.add_typer(models_cli, name="models")


def _config(config: Path | None) -> Config:
    """The config of a data directory that has hearthcam data (else exit 2)."""
    cfg = load(config)
    root = cfg.data_dir.expanduser().absolute()
    if cfg.database is None and not (root / "hearthcam.db").is_file():
        raise fail(f"no hearthcam data in {root}")
    return cfg


def _open(config: Path | None) -> tuple[Store, Path]:
    """The store, opened to read (no recovery: a server may be running on it)."""
    from hearthcam.store.db import Store

    cfg = _config(config)
    root = cfg.data_dir.expanduser().absolute()
    return Store.open(cfg.database_url, data_dir=root), root


def _send(
    cfg: Config, request: Request, command: str, step: Callable[[str], None] = lambda _: None
) -> tuple[Response, bool]:
    """Runs a request in the running server, or here under the data directory's lock."""
    from hearthcam.commands import send

    try:
        return send(cfg.data_dir, cfg.database_url, request, command=command, step=step)
    except HearthcamError as error:
        raise fail(f"{command.removeprefix('hearthcam ')}: {error}") from None


def _registry(store: Store, root: Path) -> ModelRegistry:
    from hearthcam.learn.registry import ModelRegistry

    return ModelRegistry(store, root)


def evaluation_table(outcome: Trained) -> Table:
    """Candidate against the model it was compared with, on the held-out events."""
    table = Table(title=f"held-out evaluation ({outcome.test} events; {outcome.split_note})")
    table.add_column("metric")
    base = "rules" if outcome.baseline == "rules" else f"served {outcome.baseline[:8]}"
    table.add_column(base, justify="right")
    table.add_column(f"candidate {outcome.candidate_id[:8]}", justify="right")
    c, b = outcome.candidate_metrics, outcome.baseline_metrics
    rows: list[tuple[str, str, str]] = [
        ("threat recall", f"{b.threat_recall:.2f}", f"{c.threat_recall:.2f}"),
        ("threat precision", f"{b.threat_precision:.2f}", f"{c.threat_precision:.2f}"),
        ("alerts", str(b.alerts), str(c.alerts)),
        ("false alerts", str(b.false_alerts), str(c.false_alerts)),
        ("false alerts / camera-day", f"{b.false_alerts_per_camera_day:.2f}",
         f"{c.false_alerts_per_camera_day:.2f}"),
    ]  # fmt: skip
    for row in rows:
        table.add_row(*row)
    return table


def confusion_table(metrics: MetricsSummary, title: str) -> Table:
    """Rows: what the annotators said; columns: what the model said."""
    table = Table(title=title)
    classes = list(metrics.confusion)
    table.add_column("truth \\ said")
    for name in classes:
        table.add_column(name, justify="right")
    for truth in classes:
        table.add_row(truth, *(str(metrics.confusion[truth][p]) for p in classes))
    return table


@cli.command()
def train(
    test_fraction: Annotated[
        float, typer.Option(min=0.05, max=0.9, help="share of households held out for testing")
    ] = 0.25,
    seed: Annotated[int, typer.Option(help="the forest's seed")] = 0,
    config: ConfigOption = None,
) -> None:
    """Train the verdict model on annotated feedback, evaluate it on held-out households and
    promote it if it beats the served model (or the rules)."""
    cfg = _config(config)
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=err, transient=True,
    )  # fmt: skip
    with progress:
        task = progress.add_task("training", total=None)
        outcome, by_server = _send(
            cfg, TrainModel(test_fraction, seed), "hearthcam train",
            step=lambda what: progress.update(task, description=what),
        )  # fmt: skip
    assert isinstance(outcome, Trained)
    out.print(f"trained on {outcome.train} annotated events", highlight=False)
    out.print(evaluation_table(outcome))
    out.print(confusion_table(outcome.candidate_metrics, "candidate: confusion on held-out"))
    verdict = "promoted: the live verdict uses it" if outcome.promoted else "not promoted"
    how = " (trained by the running server)" if by_server else ""
    out.print(f"model {outcome.candidate_id}: {verdict} ({outcome.why}){how}", highlight=False)


@models_cli.command("list")
def models_list(config: ConfigOption = None) -> None:
    """Every trained model, newest first, and which one the live path serves."""
    store, root = _open(config)
    try:
        registry = _registry(store, root)
        served = registry.served()
        table = Table(title="verdict models")
        for name in ("id", "created", "status", "clips", "false alerts", "threat recall"):
            table.add_column(name)
        for m in registry.models():
            cand = m.metrics.get("candidate", {})
            mark = " *" if served is not None and served.id == m.id else ""
            table.add_row(
                m.id[:12] + mark, time.strftime("%Y-%m-%d %H:%M", time.localtime(m.created)),
                m.status.value, str(len(m.clips)), str(cand.get("false_alerts", "")),
                str(cand.get("threat_recall", "")),
            )  # fmt: skip
        out.print(table)
        if served is None:
            out.print("served: the built-in rules (no promoted model)", highlight=False)
        else:
            out.print(f"served (*): {served.id}", highlight=False)
    finally:
        store.close()


@models_cli.command("promote")
def models_promote(
    model_id: Annotated[str, typer.Argument(help="the model's id (see models list)")],
    config: ConfigOption = None,
) -> None:
    """Serve this model from now on (by hand: no comparison is made)."""
    _say_serving(*_send(_config(config), PromoteModel(model_id), "hearthcam models promote"))


@models_cli.command("rollback")
def models_rollback(config: ConfigOption = None) -> None:
    """Retire the served model; the one promoted before it (or the rules) serves again."""
    _say_serving(*_send(_config(config), RollbackModel(), "hearthcam models rollback"))


def _say_serving(serving: Response, by_server: bool) -> None:
    assert isinstance(serving, Serving)
    how = " (the running server serves it now)" if by_server else ""
    out.print(f"serving {serving.model_id or 'the built-in rules'}{how}", highlight=False)
