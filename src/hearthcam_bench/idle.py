"""Scenario ``idle``: the CPU one camera costs when nothing happens in front of it.

One simulated camera (the 1080p main stream recorded by copy, the 640x360 sub-stream analysed
at 5 fps; both showing the empty walkway with sensor-like noise) runs through the real runtime at
real rate for 30 s (10 s in quick mode) after a 3 s warm-up. Nothing is subtracted: the figure is
the whole process's CPU time over wall time. The same process at rest, with no camera, is
measured separately, and the camera's CPU is split by thread.

The same two streams are then sent by a real RTSP server (GStreamer's, in its own process, not
counted) and read as a live camera over TCP: once read packet by packet and once in bursts
(``source.read_bursts``), one after the other in the same run.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from hearthcam import app
from hearthcam.config import CameraConfig, Config, InputConfig, SourceConfig
from hearthcam_bench import report as fmt
from hearthcam_bench import rtsp
from hearthcam_bench.context import BenchContext
from hearthcam_bench.measure import Meter, Usage, measure_for, thread_cpu, thread_switches
from hearthcam_bench.media import CameraClip
from hearthcam_bench.report import Report
from hearthcam_bench.trial import camera_config

TARGET = 2.0  # percent of one core
RTSP_PAIRS = 3  # per-packet and burst runs over RTSP, alternated (full mode)
WARMUP = 3.0
NAME = "idle"
THREAD_GROUPS = (  # (thread name, what the thread does)
    # A camera's file inputs share one paced loop (pipeline.source.pacing); live, src-<camera>
    # reads the detect input and the record input has a thread of its own.
    (f"src-{NAME}", "camera loop: demux, decode sub (files: also copy main)"),
    (f"{NAME}-record", "record input: demux, copy into segments (main stream)"),
    (f"analyse-{NAME}", "analysis: motion, (detector), tracker, events"),
)


def _group(name: str) -> str:
    for key, label in THREAD_GROUPS:
        if name == key:
            return label
    return "everything else (main thread, ONNX Runtime, SQLite, clip pool)"


def by_thread(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """CPU percent of one core per thread group between two ``thread_cpu`` snapshots."""
    out: dict[str, float] = {}
    for name, seconds in after.items():
        group = _group(name)
        out[group] = out.get(group, 0.0) + 100.0 * (seconds - before.get(name, 0.0)) / wall
    return out


def switches_by_thread(
    before: dict[str, int], after: dict[str, int], wall: float
) -> dict[str, float]:
    """Context switches a second per thread name between two ``thread_switches`` snapshots."""
    return {name: (n - before.get(name, 0)) / wall for name, n in after.items()}


@dataclass(frozen=True, slots=True)
class CameraRun:
    """One idle camera's measurement."""

    usage: Usage
    split: dict[str, float]  # CPU % of a core by thread group
    wakes: dict[str, float]  # context switches a second by thread group
    wakes_by_name: dict[str, float]  # context switches a second by thread name
    counted: str


def live_camera(prefix: str) -> CameraConfig:
    """The bench camera's two streams as sent by an RTSP server at ``prefix``."""
    return CameraConfig(
        inputs=[
            InputConfig(path=f"{prefix}/main", roles=["record"]),
            InputConfig(path=f"{prefix}/sub", roles=["detect"]),
        ]
    )


def measure_camera(
    ctx: BenchContext,
    seconds: float,
    camera: CameraConfig | None = None,
    source: SourceConfig | None = None,
) -> CameraRun:
    """Usage of one idle camera (the quiet clip's files by default), its split by thread, and
    what its pipeline counted."""
    if camera is None:
        camera = camera_config(ctx.media.quiet(int(seconds + WARMUP + 10)), naive=False)
    config = Config(
        data_dir=ctx.workdir(NAME), cameras={NAME: camera}, source=source or SourceConfig()
    )
    runtime = app.build(config, realtime=True, detector=ctx.detector())
    runtime.start()
    try:
        time.sleep(WARMUP)
        before = thread_cpu()
        switched = thread_switches()
        usage = measure_for(seconds, Meter())
        split = by_thread(before, thread_cpu(), usage.wall)
        by_name = switches_by_thread(switched, thread_switches(), usage.wall)
    finally:
        runtime.close()
    s = runtime.pipelines[NAME].stats
    counted = (
        f"The camera's pipeline counted {s.frames_analysed} detect frames analysed, "
        f"{s.frames_dropped} dropped, {s.motion_frames} with motion, {s.inferences} with the "
        f"detector, {s.packets} main-stream packets, {s.segments} segments."
    )
    runtime.store.close()
    wakes: dict[str, float] = {}
    for name, rate in by_name.items():
        wakes[_group(name)] = wakes.get(_group(name), 0.0) + rate
    return CameraRun(usage, split, wakes, by_name, counted)


def run(ctx: BenchContext) -> list[Report]:
    """Measures the process at rest, then one idle camera from files, then over RTSP."""
    seconds = ctx.seconds(30.0, 10.0)
    # No live progress display here: its refreshes would be part of the figure.
    rest_seconds = ctx.seconds(10.0, 3.0)
    ctx.console.print(
        f"idle: process at rest for {rest_seconds:.0f} s, then one quiet camera for "
        f"{WARMUP + seconds:.0f} s",
        highlight=False,
    )
    ctx.detector()  # loaded first, so the rest figure includes an open ONNX session
    ctx.settle()
    time.sleep(WARMUP)  # ONNX Runtime's threads spin on for a while after its warm-up run
    rest = measure_for(rest_seconds, Meter())
    cam = measure_camera(ctx, seconds)
    tables = [_table(cam, rest, rest_seconds)]
    missing = rtsp.available()
    if missing is None:
        clip = ctx.media.quiet(int(seconds + WARMUP + 10))
        ctx.console.print(
            f"idle: the same camera over RTSP, per packet then in bursts, {WARMUP + seconds:.0f} s"
            " each",
            highlight=False,
        )
        runs: dict[bool, list[CameraRun]] = {False: [], True: []}
        for _ in range(RTSP_PAIRS if not ctx.quick else 1):  # alternated: the machine drifts
            for bursts in (False, True):
                runs[bursts].append(_over_rtsp(ctx, clip, seconds, bursts))
        tables.append(_rtsp_table(runs))
    else:
        tables[0].notes.append(f"No RTSP measurement: {missing} is missing.")
    return tables


def _over_rtsp(ctx: BenchContext, clip: CameraClip, seconds: float, bursts: bool) -> CameraRun:
    log = ctx.workdir("rtsp-server") / "server.log"
    with rtsp.serving({"main": clip.main, "sub": clip.sub}, log) as prefix:
        return measure_camera(ctx, seconds, live_camera(prefix), SourceConfig(read_bursts=bursts))


def _cpu_of(group: str, run: CameraRun) -> float:
    return run.split.get(group, 0.0)


def _wakes_of(group: str, run: CameraRun) -> float:
    return run.wakes.get(group, 0.0)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _rtsp_table(runs: dict[bool, list[CameraRun]]) -> Report:
    plain, burst = runs[False], runs[True]
    table = Report(
        "idle over RTSP: the same camera sent by a real RTSP server (TCP), read per packet and"
        f" with the record input in bursts (median of {len(plain)} alternated runs each)",
        ["measured", "per packet", "in bursts", "ratio", "target", "result"],
    )

    def row(name: str, pick: Callable[[CameraRun], float], unit: str, target: str = "") -> None:
        before, after = _median([pick(r) for r in plain]), _median([pick(r) for r in burst])
        ratio = f"{after / before:.2f}" if before else "-"
        shown = (f"{before:.2f} {unit}", f"{after:.2f} {unit}")
        if unit == "/s":
            shown = (f"{before:.0f}", f"{after:.0f}")
        result = fmt.verdict(after < TARGET) if target else ""
        table.add(name, shown[0], shown[1], ratio, target, result)

    row(
        "one idle camera (whole process), CPU",
        lambda r: r.usage.cpu_percent,
        "%",
        f"< {TARGET:g} %",
    )
    row("same, median of 1-s samples", lambda r: r.usage.median_percent or 0.0, "%")
    row("whole process, wake-ups a second", lambda r: sum(r.wakes.values()), "/s")
    groups = sorted({g for r in plain + burst for g in r.split})
    for group in groups:
        row(f"  of which {group}, CPU", partial(_cpu_of, group), "%")
        row(f"  of which {group}, wake-ups", partial(_wakes_of, group), "/s")
    each = "; ".join(
        f"{a.usage.cpu_percent:.2f} % then {b.usage.cpu_percent:.2f} %"
        for a, b in zip(plain, burst, strict=True)
    )
    others = ", ".join(f"{r.usage.others_percent:.0f}" for r in plain + burst)
    table.notes += [
        f"Whole process CPU per pair (per packet then in bursts): {each}.",
        f"Per packet (last run): {plain[-1].counted}",
        f"In bursts (last run): {burst[-1].counted}",
        f"Other processes (the RTSP server among them) used {others} % of a core during the runs.",
    ]
    return table


def _table(cam: CameraRun, rest: Usage, rest_seconds: float) -> Report:
    usage = cam.usage
    table = Report(
        f"idle: one quiet camera at real rate for {usage.wall:.0f} s",
        [
            "measured",
            "CPU (% of one core)",
            "median of 1-s samples",
            "wake-ups/s",
            "target",
            "result",
        ],
    )
    table.add(
        "one idle camera (whole process)",
        fmt.pct(usage.cpu_percent, 2),
        fmt.pct(usage.median_percent, 2),
        f"{sum(cam.wakes.values()):.0f}",
        f"< {TARGET:g} %",
        fmt.verdict(usage.cpu_percent < TARGET),
    )
    for group, value in sorted(cam.split.items(), key=lambda kv: -kv[1]):
        wakes = cam.wakes.get(group)
        table.add(
            f"  of which {group}",
            fmt.pct(value, 2),
            "",
            "" if wakes is None else f"{wakes:.0f}",
            "",
            "",
        )
    table.add(
        "process at rest, no camera",
        fmt.pct(rest.cpu_percent, 2),
        fmt.pct(rest.median_percent, 2),
        "",
        "",
        "",
    )
    named = ", ".join(
        f"{name} {rate:.1f}"
        for name, rate in sorted(cam.wakes_by_name.items(), key=lambda kv: -kv[1])
        if rate >= 0.05
    )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    table.notes += [
        cam.counted,
        f"Voluntary context switches (wake-ups) a second, from /proc, by thread: {named}.",
        f"Load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores.",
        f"Other processes used {usage.others_percent:.0f} % of a core during the camera "
        "measurement (they do not count in the process CPU, but share the cores and caches).",
    ]
    return table
