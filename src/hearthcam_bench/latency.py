"""Scenario ``latency``: how soon people on camera become an event, and an ended event a clip.

Runs a ``cameras`` trial at a safe N (8 cameras for 60 s; 4 for 25 s in quick mode), each camera
with people appearing at its own times, and times every appearance: from the wall time of the
first frame with people (with real-rate pacing a frame's wall time is when it arrived) to the
event STARTED (``CameraStats.event_created_at``) and to the event first judged a threat; and
from the event's end + post-roll to its playable clip (``CameraStats.clip_ready_at``).
"""

from __future__ import annotations

from collections.abc import Sequence

from hearthcam_bench import report as fmt
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import percentile
from hearthcam_bench.report import Report
from hearthcam_bench.trial import TrialResult, TrialSpec, run_trial

CAMERAS, QUICK_CAMERAS = 8, 4
START_TARGET = 1.0  # seconds, p95
CLIP_TARGET = 2.0  # seconds, p95


def latency_row(
    table: Report, what: str, values: Sequence[float | None], target: float | None
) -> None:
    """One row of samples (None: not measured): count, p50, p95, max, the p95 target."""
    seen = [v for v in values if v is not None]
    p95 = percentile(seen, 95)
    ok = None if target is None or p95 is None else p95 < target
    table.add(
        what,
        str(len(seen)),
        fmt.secs(percentile(seen, 50)),
        fmt.secs(p95),
        fmt.secs(max(seen, default=None)),
        "" if target is None else f"p95 < {target:g} s",
        fmt.verdict(ok),
    )


def latency_table(result: TrialResult) -> Report:
    """The latency figures of one trial's people appearances."""
    entrances = result.entrances
    spec = result.spec
    table = Report(
        f"latency: {len(entrances)} appearances of people on {spec.cameras} cameras "
        f"({spec.seconds:.0f} s at real rate)",
        ["from → to", "samples", "p50", "p95", "max", "target", "result"],
    )
    latency_row(
        table, "people appear → event STARTED", [e.created for e in entrances], START_TARGET
    )
    latency_row(table, "people appear → event is a threat", [e.threat for e in entrances], None)
    latency_row(
        table, "event end + post-roll → clip playable", [e.clip for e in entrances], CLIP_TARGET
    )
    missed = sum(1 for e in entrances if e.created is None)
    table.notes += [
        f"{missed} of {len(entrances)} appearances started no event. Appearances are cuts from "
        "the empty walkway to vtest.avi pedestrians (composited); clips count only when made "
        "before the trial stopped (later ones are cut at shutdown).",
        "A clip needs the segment holding its last second closed (the recorder cuts at the "
        "first keyframe after the post-roll; keyframes every 1 s here) and a remux.",
        f"CPU during the trial: {result.usage.cpu_percent:.0f} % of one core; other processes "
        f"{result.usage.others_percent:.0f} %; dropped detect frames: {result.dropped}.",
    ]
    return table


def run(ctx: BenchContext) -> list[Report]:
    """One trial; one table."""
    n = QUICK_CAMERAS if ctx.quick else CAMERAS
    spec = TrialSpec(n, ctx.seconds(60.0, 25.0))
    with ctx.progress() as bar:
        task = bar.add_task(f"latency: {n} cameras", total=1.0)
        result = run_trial(ctx, spec, tick=lambda done: bar.update(task, completed=done))
    return [latency_table(result)]
