"""Where media live under the data directory, and how segment file names encode their start.

``<data_dir>/recordings/<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4`` (UTC of the first frame),
written as ``<name>.part`` and renamed when finished. The recorder writes by these rules and
start-up recovery reads by them, so they live in one place with no dependencies.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

RECORDINGS_DIR = "recordings"
CORRUPT_DIR = "corrupt"
PART_SUFFIX = ".part"
_DATE_FORMAT = "%Y-%m-%d"
_TIME_FORMAT = "%H-%M-%S"


def segment_path(recordings_dir: Path, camera: str, start_wall: float) -> Path:
    """Where the segment of ``camera`` starting at ``start_wall`` (Unix time) is stored."""
    when = datetime.fromtimestamp(start_wall, UTC)
    millis = when.microsecond // 1000
    name = f"{when.strftime(_TIME_FORMAT)}.{millis:03d}.mp4"
    return recordings_dir / camera / when.strftime(_DATE_FORMAT) / name


def parse_segment_path(recordings_dir: Path, path: Path) -> tuple[str, float]:
    """(camera, start wall time) from a segment path; ValueError if it is not one."""
    parts = path.relative_to(recordings_dir).parts
    if len(parts) != 3 or not parts[2].endswith(".mp4"):
        raise ValueError(f"not a segment path: {path}")
    camera, day, name = parts
    when = datetime.strptime(f"{day} {name[: -len('.mp4')]}", f"{_DATE_FORMAT} {_TIME_FORMAT}.%f")
    return camera, when.replace(tzinfo=UTC).timestamp()
