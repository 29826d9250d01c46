"""Scenario ``quality``: the events hearthcam makes of real footage, scored per visit.

Every footage of ``quality_truth.toml`` (real files that hearthcam's dependencies ship, with
visits written by hand; a file whose codec an MP4 cannot hold is re-encoded by ``analyze``
itself) and the composited scenes of ``quality_scenes`` (truth from their scripts) go through
the whole live path (``analysis.analyze``, default config) once per built-in detector model,
so a detector added to ``config.BUILTIN_DETECTORS`` gets its rows.
Scored per footage and class (rules in ``quality_truth``): visits found by an event of their
class, the precision of the events claiming a class, visits no clip shows and visits not wholly
in clips (from the clips' pictures, ``quality_clips``), pets called threats, and threat events
on empty stretches per hour of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hearthcam import analysis
from hearthcam.config import BUILTIN_DETECTORS, Config, DetectorConfig
from hearthcam.types import Event, Verdict
from hearthcam_bench import quality_scenes
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.quality_clips import FootageIndex, clip_spans
from hearthcam_bench.quality_truth import (
    Footage,
    Kind,
    Score,
    false_threats,
    load,
    per_hour,
    score,
)
from hearthcam_bench.report import Report

REAL, COMPOSITED = "real", "composited"
MADE = (REAL, COMPOSITED)
#: Left out of ``--quick``: the longest file (80 s of the live path per detector).
LONG = frozenset({"vtest.avi"})


@dataclass(frozen=True)
class Result:
    """One footage through one detector."""

    footage: Footage
    made: str  # one of MADE
    events: list[Event]
    scores: dict[Kind, Score]
    false_threats: int
    clips: list[tuple[float, float]]  # footage times each clip shows, read from its pictures


def footage(ctx: BenchContext) -> list[tuple[Footage, str]]:
    """The footage to analyse, each with how it was made (one of MADE)."""
    real = [f for f in load() if not (ctx.quick and f.name in LONG)]
    return [(f, REAL) for f in real] + [
        (f, COMPOSITED) for f in quality_scenes.composited(ctx.media, ctx.quick)
    ]


def analyse_one(
    ctx: BenchContext,
    item: Footage,
    made: str,
    model: str,
    index: FootageIndex,
    tick: Callable[[float], None],
) -> Result:
    """Runs the live path over one footage with the default config but ``model``; scores it."""
    slug = item.name.replace(" ", "-").replace(".", "-")
    config = Config(
        data_dir=ctx.workdir(f"quality-{model}-{slug}"), detector=DetectorConfig(model=model)
    )
    events = analysis.analyze(str(item.path), config, progress=tick)
    spans = clip_spans(config, events, index)
    scores = {k: score(k, item.visits, events, spans) for k in Kind}
    wrong = false_threats(item.visits, item.empty, events)
    return Result(item, made, events, scores, wrong, spans)


def describe(events: Sequence[Event]) -> str:
    """Events as ``threat 0.2-79.4 s (person)``, for the notes."""
    shown = [
        f"{e.verdict.value} {e.start:.1f}-{e.end:.1f} s"
        + (f" ({', '.join(e.labels)})" if e.labels else "")
        for e in events
    ]
    return "; ".join(shown) or "no event"


def _row(table: Report, name: str, kind: Kind, s: Score) -> None:
    table.add(
        name,
        kind.value,
        str(s.visits),
        str(s.found),
        fmt.num(s.recall, 2),
        str(s.claims),
        fmt.num(s.precision, 2),
        str(s.no_clip),
        str(s.partly),
        str(s.called_threats) if kind is Kind.ANIMAL else "-",
    )


def total(results: Sequence[Result], kind: Kind) -> Score:
    """The sum of one class's scores over some results."""
    return sum((r.scores[kind] for r in results), Score())


def by_verdict(events: Sequence[Event]) -> str:
    """Counts per verdict, e.g. ``threat 2, motion 1`` (``none`` for no event)."""
    counts = {v: sum(1 for e in events if e.verdict is v) for v in Verdict}
    return ", ".join(f"{v.value} {n}" for v, n in counts.items() if n) or "none"


def footage_table(model: str, results: Sequence[Result]) -> Report:
    """Per footage: what it is, the events made of it, and threats on its empty stretches."""
    table = Report(
        f"quality, {model}: events per footage",
        ["footage", "made", "length", "events", "empty time", "false threats"],
    )
    for r in results:
        empty = sum(s.seconds for s in r.footage.empty)
        table.add(
            r.footage.name,
            r.made,
            fmt.secs(r.footage.length, 1),
            by_verdict(r.events),
            fmt.secs(empty, 1),
            str(r.false_threats),
        )
    table.notes += [
        f"{r.footage.name}: {describe(r.events)}; its clips show "
        + (", ".join(f"{a:.1f}-{b:.1f} s" for a, b in sorted(r.clips)) or "nothing")
        + "."
        for r in results
    ]
    return table


def model_table(model: str, results: Sequence[Result]) -> Report:
    """Per footage and class, then totals per class and way of making."""
    table = Report(
        f"quality, {model}: per-visit recall, event precision, clip coverage",
        [
            "footage", "class", "visits", "found", "recall", "class events", "precision",
            "no clip", "not wholly in clips", "pets called threats",
        ],
    )  # fmt: skip
    for r in results:
        for kind in Kind:
            s = r.scores[kind]
            if s.visits or s.claims:
                _row(table, r.footage.name, kind, s)
    groups = {
        "all real footage": [r for r in results if r.made == REAL],
        "all composited": [r for r in results if r.made == COMPOSITED],
        "all footage": results,
    }
    for label, group in groups.items():
        for kind in Kind:
            s = total(group, kind)
            if s.visits or s.claims:
                _row(table, label, kind, s)
    return table


def bars_table(by_model: dict[str, list[Result]]) -> Report:
    """The issue's bars, per detector, and false threats per hour of empty scene."""
    table = Report(
        "quality: the issue's bars, and false threats on empty scenes",
        [
            "detector", "people recall (real)", "visits with no clip",
            "pets called threats", "vehicle recall (real / all)", "empty time",
            "false threats", "per hour", "result",
        ],
    )  # fmt: skip
    for model, results in by_model.items():
        real = [r for r in results if r.made == REAL]
        scored = results
        people = total(real, Kind.PERSON)
        no_clip = sum(total(scored, k).no_clip for k in Kind)
        pets = total(scored, Kind.ANIMAL).called_threats
        vehicles = f"{fmt.num(total(real, Kind.VEHICLE).recall, 2)} / " + fmt.num(
            total(scored, Kind.VEHICLE).recall, 2
        )
        empty = sum(s.seconds for r in scored for s in r.footage.empty)
        wrong = sum(r.false_threats for r in scored)
        ok = (people.recall or 0.0) >= 0.95 and no_clip == 0 and pets == 0
        table.add(
            model,
            fmt.num(people.recall, 2),
            str(no_clip),
            str(pets),
            vehicles,
            fmt.secs(empty, 1),
            str(wrong),
            fmt.num(per_hour(wrong, empty), 0),
            fmt.verdict(ok),
        )
    table.notes += [
        "Bars (issue 12): people per-visit recall >= 0.95 on the real footage, 0 visits "
        "without clip coverage, 0 pets called threats.",
        "Matching: a visit is found by an overlapping event of its class (person: a threat "
        "event; animal: a pet event; vehicle: a vehicle event, or any event whose labels hold "
        "a moving vehicle). Precision: of the events whose verdict claims a class, the share "
        "overlapping a visit of it. 'no clip': no clip of any event shows any of the visit; "
        "'not wholly in clips': the clips leave more than 0.5 s of it out. Where clips lie is "
        "read from their pictures. False threats: threat events on empty stretches that "
        "overlap no person visit.",
        "Empty time and false threats: real and composited footage. vtest.avi (MS-MPEG-4) "
        "and tree.avi (Cinepak) are re-encoded to H.264 by analyze before recording.",
        "Truth: src/hearthcam_bench/quality_truth.toml (written by hand from frames looked at "
        "every 0.2-1 s) for the real files; the composited scenes' scripts for the rest.",
    ]
    return table


def run(ctx: BenchContext) -> list[Report]:
    """Analyses every footage with every built-in detector; a table each and one of bars."""
    items = footage(ctx)
    indexes: dict[Path, FootageIndex] = {}
    by_model: dict[str, list[Result]] = {}
    with ctx.progress() as bar:
        task = bar.add_task("quality", total=1.0)

        def tick(done: float) -> None:
            bar.update(task, completed=done)

        for model in BUILTIN_DETECTORS:
            results = by_model.setdefault(model, [])
            for item, made in items:
                bar.update(task, description=f"quality: {model}, {item.name}", completed=0.0)
                if item.path not in indexes:
                    indexes[item.path] = FootageIndex.of(item.path, item.visits)
                index = indexes[item.path]
                results.append(analyse_one(ctx, item, made, model, index, tick))
    tables = [t for m, r in by_model.items() for t in (footage_table(m, r), model_table(m, r))]
    return [*tables, bars_table(by_model)]
