"""Where media live under the data directory, how segment file names encode their start, and
the one check of whether a path is inside the data directory.

``<data_dir>/recordings/<camera>/<YYYY-MM-DD>/<HH-MM-SS.mmm>.mp4`` (UTC of the first frame),
written as ``<name>.part`` and renamed when finished. The recorder writes by these rules and
start-up recovery reads by them, so they live in one place with no dependencies.

The data directory is a security boundary: whatever a database row, a request or a command line
names, media are read, served, named and deleted only inside it (``contained``), and decrypted
copies are written only outside it (``outside``). Links are where such checks usually fail, so
each function says exactly which links it follows.

Database rows name media relative to the data directory, in POSIX form (``stored_path``), and
are read back against wherever the data directory is now (``media_path``): a data directory
moved or restored elsewhere keeps every clip.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from hearthcam.errors import StoreError

RECORDINGS_DIR = "recordings"
CORRUPT_DIR = "corrupt"
EXPORTS_DIR = "exports"  # exports of a time range (hearthcam.exports)
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


def contained(path: Path, root: Path, *, follow_links: bool = True) -> Path | None:
    """``path`` made absolute if it is ``root`` or lies under it, None if it lies outside.

    A relative ``path`` is taken from the working directory, as the OS would; ``..`` is resolved
    against the real folders, never by text (``a/link/..`` is the link target's parent). ``root``
    is resolved, so a data directory that is itself a link is fine.

    ``follow_links=True`` (reading, serving, writing into): every link is followed, the last
    name's too, and the real path is returned, so opening it opens what was checked; a link
    from inside ``root`` to a file or folder outside is outside; a dangling link counts where
    it points. ``follow_links=False`` (deleting, naming a file by its place): only the folders'
    links are followed, not the last name's: a link inside ``root`` is inside wherever it points
    (unlinking the returned path never touches its target); a last name ``..`` names a folder
    and is resolved. A path that cannot be resolved (a link loop) is never contained.
    """
    try:
        real_root = root.resolve()
        full = path.absolute()
        if follow_links or full.name in ("", ".."):
            found = full.resolve()
        else:
            found = full.parent.resolve() / full.name
    except (OSError, RuntimeError):  # RuntimeError: a link loop (OSError from Python 3.13)
        return None
    return found if found.is_relative_to(real_root) else None


def outside(path: Path, root: Path) -> bool:
    """Whether writing at ``path`` cannot put anything inside ``root`` (for plaintext exports).

    False if ``path`` is inside ``root`` either way ``contained`` looks (its place, or what a
    link there or on the way points at), and for an existing file with more than one hard link,
    as its other names may be inside ``root``. ``path`` is taken as ``contained`` takes it (no
    ``~``: expand it first if a user typed it).
    """
    if contained(path, root) is not None or contained(path, root, follow_links=False) is not None:
        return False
    try:
        found = os.stat(path)  # what a write would open, through any link
    except FileNotFoundError:
        return True
    except OSError:  # cannot tell (a link loop, no permission): refuse
        return False
    return not stat.S_ISREG(found.st_mode) or found.st_nlink <= 1


class OutsideDataDir(StoreError):
    """A media path, to store or as stored, that does not lie inside the data directory."""


def stored_path(path: Path, data_dir: Path) -> str:
    """How a database row names the media file at ``path``: relative to ``data_dir``, POSIX.

    ``path`` names the file by its place (its own name is not resolved, as ``contained`` with
    ``follow_links=False``), so a data directory that is itself a link is fine. Raises
    OutsideDataDir if it is not inside ``data_dir`` (or is ``data_dir`` itself).
    """
    root = data_dir.resolve()
    found = contained(path, root, follow_links=False)
    if found is None or found == root:
        raise OutsideDataDir(f"{path} is not inside the data directory {data_dir}")
    return found.relative_to(root).as_posix()


def media_path(stored: str, data_dir: Path) -> Path:
    """The media file a database row names (``stored_path``'s value), under ``data_dir``.

    The path is ``data_dir`` joined with the row's value, as written (not resolved), so it
    compares equal to the paths the writers build. Raises OutsideDataDir for a value that
    escapes: a ``..``, a folder on the way that links out, or an absolute path outside
    ``data_dir`` (an absolute value is a row an upgrade could not make relative: it is read only
    if it lies inside).
    """
    relative = PurePosixPath(stored)
    if ".." in relative.parts or not relative.parts:
        raise OutsideDataDir(f"stored media path {stored!r} leaves the data directory")
    path = Path(relative) if relative.is_absolute() else data_dir / relative
    if contained(path, data_dir, follow_links=False) in (None, data_dir.resolve()):
        raise OutsideDataDir(f"stored media path {stored!r} is not inside {data_dir}")
    return path
