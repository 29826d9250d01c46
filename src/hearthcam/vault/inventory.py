"""What a data directory holds, as far as a start needs to know before it changes anything:
whether footage lies there at all, and whether any of it is sealed (needs the server secret).

A start that finds footage without the database that indexes it, or sealed footage without the
secret that opens it, must refuse rather than begin afresh over it (docs/operations.md, "Backups
and refusals at start"). Both questions stop at the first file that answers them, so they cost
next to nothing on a full disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

from hearthcam.layout import CORRUPT_DIR, EXPORTS_DIR, RECORDINGS_DIR
from hearthcam.vault.sealed import MAGIC

# Every folder a server writes footage (or copies of it) into, and where recovery sets it aside.
MEDIA_DIRS: Final = (RECORDINGS_DIR, "clips", "snapshots", "shares", EXPORTS_DIR, CORRUPT_DIR)


def media_files(data_dir: Path) -> Iterator[Path]:
    """The regular files under the data directory's media folders (links are not followed)."""
    for name in MEDIA_DIRS:
        folder = data_dir / name
        if folder.is_dir() and not folder.is_symlink():
            for path in folder.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    yield path


def first_media(data_dir: Path) -> Path | None:
    """Some media file of the data directory, or None if it holds none."""
    return next(media_files(data_dir), None)


def first_sealed(data_dir: Path) -> Path | None:
    """Some sealed (or unreadable) media file of the data directory, or None if every one is
    plain (written before encryption was on, sealed at the next start)."""
    for path in media_files(data_dir):
        try:
            with open(path, "rb") as file:
                if file.read(len(MAGIC)) == MAGIC:
                    return path
        except OSError:
            return path  # it may be sealed: a start must not bet footage on it being plain
    return None
