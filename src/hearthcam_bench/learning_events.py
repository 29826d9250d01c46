"""The live path's events for each generated clip, made once and kept in a cache on disk.

Each clip is written to a temporary MP4 and run through ``analysis.analyze`` (source -> decode ->
motion -> NanoDet on moving regions -> tracker -> events with ``RuleVerdict``), exactly what
``hearthcam analyze`` runs, with the camera's door zone configured and recording off (no clip is
cut: only the events matter here). The events, with their tracks, are kept as JSON under
``<cache>/learning-v<GENERATOR_VERSION>/`` so a rerun of the benchmark skips the pipeline;
features are computed from them at load time, so a change to the features needs no rerun.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from hearthcam import analysis
from hearthcam.config import CameraConfig, Config, InputConfig, RecordConfig, ZoneConfig
from hearthcam.pipeline.detect import Detector
from hearthcam.types import Event, TrackSummary, Verdict
from hearthcam_bench import learning_scenes as ls

CACHE_ENV = "HEARTHCAM_BENCH_CACHE"
Progress = Callable[[int, int], None]


def default_cache() -> Path:
    """``$HEARTHCAM_BENCH_CACHE``, else ``~/.cache/hearthcam/bench`` (never the repository)."""
    named = os.environ.get(CACHE_ENV)
    return Path(named) if named else Path.home() / ".cache" / "hearthcam" / "bench"


def _camera(spec: ls.ClipSpec, path: Path) -> CameraConfig:
    x0, y0, x1, y1 = ls.DOOR_ZONES[spec.camera]
    door = ZoneConfig.model_validate({"coordinates": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]})
    return CameraConfig(inputs=[InputConfig(path=str(path))], zones={"door": door})


def run_pipeline(spec: ls.ClipSpec, work: Path, detector: Detector) -> list[Event]:
    """Renders the clip and runs the live path over it; events get the clip's wall clock."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / f"{spec.id}.mp4"
    ls.write_clip(spec, path)
    config = Config(
        data_dir=work / f"data-{spec.id}",
        cameras={spec.camera_id: _camera(spec, path)},
        record=RecordConfig(enabled=False),
    )
    try:
        events = analysis.analyze(str(path), config, detector=detector)
    finally:
        path.unlink(missing_ok=True)
    return [
        replace(
            e,
            id=f"{spec.id}-e{n}",
            camera=spec.camera_id,
            wall_start=spec.wall_start + e.start,
            wall_end=spec.wall_start + e.end,
            snapshot=None,
            clip=None,
        )
        for n, e in enumerate(events)
    ]


def _track_json(track: TrackSummary) -> dict[str, Any]:
    data = asdict(track)
    data["zones"] = sorted(track.zones)
    data["votes"] = [list(v) for v in track.votes]
    return data


def event_json(event: Event) -> dict[str, Any]:
    """An event (no media paths) as JSON-able data."""
    return {
        "id": event.id,
        "camera": event.camera,
        "verdict": event.verdict.value,
        "labels": list(event.labels),
        "start": event.start,
        "end": event.end,
        "wall_start": event.wall_start,
        "wall_end": event.wall_end,
        "score": event.score,
        "zones": list(event.zones),
        "tracks": [_track_json(t) for t in event.tracks],
    }


def event_from_json(data: dict[str, Any]) -> Event:
    """The inverse of ``event_json``."""
    tracks = tuple(
        TrackSummary(
            **{k: v for k, v in t.items() if k not in ("zones", "votes")},
            zones=frozenset(t["zones"]),
            votes=tuple((str(n), float(v)) for n, v in t["votes"]),
        )
        for t in data["tracks"]
    )
    return Event(
        id=data["id"],
        camera=data["camera"],
        verdict=Verdict(data["verdict"]),
        labels=tuple(data["labels"]),
        start=data["start"],
        end=data["end"],
        wall_start=data["wall_start"],
        wall_end=data["wall_end"],
        score=data["score"],
        zones=tuple(data["zones"]),
        tracks=tracks,
    )


def cache_dir(root: Path) -> Path:
    """Where this generator version's events live."""
    return root / f"learning-v{ls.GENERATOR_VERSION}"


def clip_events(
    specs: Sequence[ls.ClipSpec],
    cache: Path,
    work: Path,
    detector: Callable[[], Detector],
    progress: Progress | None = None,
) -> dict[str, list[Event]]:
    """Every clip's events, from the cache where present, else from the pipeline (then cached).

    A cached entry is used only if it was made for the same spec (a changed plan re-runs)."""
    folder = cache_dir(cache)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list[Event]] = {}
    for n, spec in enumerate(specs):
        file = folder / f"{spec.id}-{spec.seed}.json"
        want = {k: str(v) for k, v in asdict(spec).items()}
        cached = json.loads(file.read_text()) if file.exists() else None
        if cached is not None and cached["spec"] == want:
            out[spec.id] = [event_from_json(e) for e in cached["events"]]
        else:
            events = run_pipeline(spec, work, detector())
            body = {"spec": want, "events": [event_json(e) for e in events]}
            partial = file.with_suffix(".part")
            partial.write_text(json.dumps(body))
            partial.replace(file)  # a killed run leaves no half-written entry
            out[spec.id] = events
        if progress is not None:
            progress(n + 1, len(specs))
    return out
