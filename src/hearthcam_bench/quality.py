"""Scenario ``quality``: what events hearthcam makes of real footage, through ``analysis.analyze``.

- vtest.avi, the whole file: real pedestrians in view all the time (opencv-doc's sample of a
  fixed camera over a walkway). Recall is the fraction of the file covered by threat events.
- light change: the real empty walkway (median of vtest.avi) dimming and brightening slowly,
  with noise; synthetic lighting on a real picture. It must make no threat event.
- pet: scikit-image's real photo of a cat moved across the real empty walkway (composited
  motion). It must be called a pet and never a threat.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hearthcam import analysis, scenes
from hearthcam.config import Config
from hearthcam.pipeline.source import probe
from hearthcam.types import Event, Verdict
from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.report import Report

Q = scenes.Part.QUIET


def coverage(events: list[Event], duration: float) -> float:
    """The fraction of [0, duration] that the events' [start, end] spans cover."""
    spans = sorted((max(0.0, e.start), min(duration, e.end)) for e in events)
    covered, reach = 0.0, 0.0
    for start, end in spans:
        start = max(start, reach)
        if end > start:
            covered += end - start
            reach = end
    return covered / duration if duration > 0 else 0.0


def by_verdict(events: list[Event]) -> str:
    """Counts per verdict, e.g. ``threat 2, motion 1`` (``none`` for no event)."""
    counts = {v: sum(1 for e in events if e.verdict is v) for v in Verdict}
    return ", ".join(f"{v.value} {n}" for v, n in counts.items() if n) or "none"


def analyse(
    ctx: BenchContext, path: Path, label: str, tick: Callable[[float], None]
) -> list[Event]:
    """Runs the whole live path over a file at full speed with the default config."""
    config = Config(data_dir=ctx.workdir(f"quality-{label}"))
    return analysis.analyze(str(path), config, progress=tick)


def _scripts(quick: bool) -> dict[str, list[tuple[scenes.Part, float]]]:
    light = 10.0 if quick else 20.0
    return {
        "light change": [(Q, 3.0), (scenes.Part.LIGHT, light), (Q, 3.0)],
        "pet": [(Q, 3.0), (scenes.Part.PET, 8.0), (Q, 4.0)],
    }


def vtest_row(table: Report, events: list[Event], duration: float) -> None:
    """vtest.avi: recall of people time by threat events."""
    threats = [e for e in events if e.verdict is Verdict.THREAT]
    recall = coverage(threats, duration)
    table.add(
        "vtest.avi (real pedestrians, whole file)",
        fmt.secs(duration, 1),
        by_verdict(events),
        str(len(threats)),
        fmt.pct(100 * recall, 1),
        "threat events over the people time",
        fmt.verdict(None),
    )
    spans = ", ".join(f"{e.start:.1f}-{e.end:.1f} s" for e in threats) or "none"
    table.notes.append(f"vtest.avi threat events: {spans}.")


def scene_row(table: Report, name: str, events: list[Event], seconds: float) -> None:
    """A composited scene: no threat ever; a pet scene must also give a pet."""
    threats = sum(1 for e in events if e.verdict is Verdict.THREAT)
    pets = sum(1 for e in events if e.verdict is Verdict.PET)
    if name == "pet":
        expected, ok = "a pet event, no threat", threats == 0 and pets >= 1
    else:
        expected, ok = "no threat event", threats == 0
    length = fmt.secs(seconds, 1)
    table.add(name, length, by_verdict(events), str(threats), "-", expected, fmt.verdict(ok))


def run(ctx: BenchContext) -> list[Report]:
    """Analyses vtest.avi and the two composited scenes; one table."""
    table = Report(
        "quality: events from real footage (analysis.analyze, default config)",
        ["scene", "length", "events", "threat events", "people time covered", "expected", "result"],
    )
    scripts = _scripts(ctx.quick)
    with ctx.progress() as bar:
        task = bar.add_task("quality: vtest.avi", total=1.0)

        def tick(done: float) -> None:
            bar.update(task, completed=done)

        duration = probe(str(scenes.VTEST), Config().source).duration or 0.0
        vtest_row(table, analyse(ctx, scenes.VTEST, "vtest", tick), duration)
        for name, script in scripts.items():
            bar.update(task, description=f"quality: {name}", completed=0.0)
            path, spans = ctx.media.scene(f"quality-{name.replace(' ', '-')}", script)
            scene_row(table, name, analyse(ctx, path, name.replace(" ", "-"), tick), spans[-1].end)
    table.notes += [
        "vtest.avi is real video with pedestrians in view throughout, so all of its length "
        "counts as people time (no per-frame annotation exists; this is the assumption).",
        "light change: the real empty walkway (median of vtest.avi) with a slow synthetic "
        "brightness ramp (down 35 % and back) and noise. pet: scikit-image's real cat photo "
        "composited onto the real walkway and moved across it.",
    ]
    return [table]
